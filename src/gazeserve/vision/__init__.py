"""Pre- and post-processing of MediaPipe's face models as pure numpy functions."""
