"""Writes src/gazeserve/data/attention_selfcheck.npz: the attention delegate's self-check vector.

    python scripts/make_attention_selfcheck.py

The crop is the face ROI of matplotlib's public-domain `grace_hopper.jpg` sample, warped to
96 x 96 (the model sees it at 192 x 192, each pixel repeated 2 x 2, to keep the committed file
small). The expected outputs are the attention model's on that input, run by LiteRT with the
delegate built from the current sources. Only regenerate after checking the delegate against
MediaPipe (tests/integration/test_attention_mesh.py checks each op in place and the landmarks
against MediaPipe's goldens); the tests also check that this file agrees with the current build.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import cv2
import numpy as np

from gazeserve.models import ModelName, ModelStore
from gazeserve.models.wheels import write_atomically
from gazeserve.native import build
from gazeserve.runtime import RuntimeKind, open_session
from gazeserve.runtime.litert_attention import SELF_CHECK_VECTOR, self_check_input
from gazeserve.sample_media import fetch_samples
from gazeserve.vision.detector import DetectorKind, FaceDetector
from gazeserve.vision.landmarks import roi_from_detection
from gazeserve.vision.roi import crop

PHOTO = "grace_hopper.jpg"
CROP_SIZE = 96
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "gazeserve" / SELF_CHECK_VECTOR


def make_vector() -> dict[str, np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter, load_delegate

    store = ModelStore()
    bgr = cv2.imread(str(fetch_samples()[PHOTO]), cv2.IMREAD_COLOR)
    image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    with open_session(RuntimeKind.LITERT, store.require(ModelName.FACE_DETECTOR_SHORT)) as s:
        detection = FaceDetector(s, DetectorKind.SHORT_RANGE).detect(image)[0]
    crop_96 = crop(image, roi_from_detection(detection), CROP_SIZE, CROP_SIZE)

    library = str(build.build())
    interpreter = Interpreter(
        model_path=str(store.require(ModelName.FACE_LANDMARK_WITH_ATTENTION)), num_threads=1,
        experimental_delegates=[load_delegate(library)])
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], self_check_input(crop_96))
    interpreter.invoke()
    vector = {"crop_96_u8": crop_96}
    for detail in interpreter.get_output_details():
        vector[f"out:{detail['name']}"] = interpreter.get_tensor(detail["index"]).copy()
    return vector


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **make_vector())
    write_atomically(args.out, buffer.getvalue())
    print(f"wrote {args.out} ({len(buffer.getvalue())} bytes)")


if __name__ == "__main__":
    main()
