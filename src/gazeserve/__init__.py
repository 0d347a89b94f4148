"""gazeserve: real-time gaze and attention from camera frames."""

__version__ = "0.1.0"
