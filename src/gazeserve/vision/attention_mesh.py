"""The one-pass attention face mesh: 478 points (refined lips and eyes, both irises) per crop.

MediaPipe's `face_landmark_with_attention.tflite` takes the same 192 x 192 crop of the same 1.5x
rotated face ROI as the plain mesh (`face_landmark_cpu.pbtxt` with `with_attention: true`) and
returns the 468-point mesh plus closer estimates of the lips (80 points), each eye region
(71 points) and each iris (5 points), x/y only. `assemble_attention_mesh` merges them as
MediaPipe's `tensors_to_face_landmarks_with_attention.pbtxt` (LandmarksRefinementCalculator)
does. The model's custom ops need a runtime that can run them (see
`gazeserve.runtime.litert_attention`); this module only moves tensors through the session.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gazeserve.runtime.base import InferenceSession, Tensor
from gazeserve.vision.iris import EYE_CONTOURS, EYE_REGION_IN_MESH, IRIS_POINTS
from gazeserve.vision.landmarks import MESH_POINTS
from gazeserve.vision.roi import FloatArray, ImageRGB, RotatedRect, crop_input, project_to_image

ATTENTION_MESH_POINTS = 478
LIPS_IN_MESH = (
    # lower outer, upper outer (without corners), lower inner, upper inner,
    61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291,
    185, 40, 39, 37, 0, 267, 269, 270, 409,
    78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308,
    191, 80, 81, 82, 13, 312, 311, 310, 415,
    # lower semi-outer, upper semi-outer, lower semi-inner, upper semi-inner.
    76, 77, 90, 180, 85, 16, 315, 404, 320, 307, 306,
    184, 74, 73, 72, 11, 302, 303, 304, 408,
    62, 96, 89, 179, 86, 15, 316, 403, 319, 325, 292,
    183, 42, 41, 38, 12, 268, 271, 272, 407,
)
"""Where the model's 80 lip points go in the mesh (refinement 1 of
`tensors_to_face_landmarks_with_attention.pbtxt`); the eyes' 71 points go to
`iris.EYE_REGION_IN_MESH` (refinements 2 and 3), image-left eye first."""

OUTPUT_NAMES = {
    "mesh": "output_mesh_identity",
    "lips": "output_lips",
    "left_eye": "output_left_eye",
    "right_eye": "output_right_eye",
    "left_iris": "output_left_iris",
    "right_iris": "output_right_iris",
    "presence": "conv_faceflag",
}
"""The model's output tensors by role. "left" is the eye on the image's left (around mesh
points 33/133), as in MediaPipe's refinement lists."""


@dataclass(frozen=True)
class MeshResult478:
    landmarks_px: FloatArray
    """478 x 3 in MediaPipe's order: x, y in image pixels, z in pixels on x's scale (smaller is
    nearer the camera); 468-472 the iris of the eye on the image's left, 473-477 the other."""
    presence: float
    roi: RotatedRect


_ROLES_IN_ORDER = ("mesh", "lips", "left_eye", "right_eye", "left_iris", "right_iris")


def _gather_table() -> npt.NDArray[np.intp]:
    """For each of the 478 x 3 output values, its position in the model's outputs laid end to
    end in `_ROLES_IN_ORDER` (mesh x y z ..., lips x y ..., eyes, irises).

    MediaPipe's refinement as one lookup: a point's x, y come from the refined output that
    holds it (the lips or an eye's region; no point is in two, so the order of the overwrites
    does not matter), else from the mesh; z always from the mesh. The irises' z (index 0 here)
    are filled in afterwards.
    """
    table = np.zeros((ATTENTION_MESH_POINTS, 3), np.intp)
    table[:MESH_POINTS] = np.arange(3 * MESH_POINTS).reshape(MESH_POINTS, 3)
    start = 3 * MESH_POINTS
    refined = [*LIPS_IN_MESH, *EYE_REGION_IN_MESH[0], *EYE_REGION_IN_MESH[1],
               *range(MESH_POINTS, ATTENTION_MESH_POINTS)]
    table[refined, :2] = start + np.arange(2 * len(refined)).reshape(-1, 2)
    return table


_GATHER = _gather_table()
_IRIS_CONTOURS = np.array(EYE_CONTOURS, np.intp)


def assemble_attention_mesh(outputs: dict[str, Tensor], crop_size: int) -> FloatArray:
    """Model outputs (crop pixels) -> 478 crop-normalised points, MediaPipe's refinement.

    `LandmarksRefinementCalculator` as configured in
    `tensors_to_face_landmarks_with_attention.pbtxt`: the mesh's 468 points (x, y, z), then
    x, y of the lips and both eye regions overwritten by their refined outputs (z stays the
    mesh's), then both irises appended, each iris z the mean z of its eye's 16 contour points.
    `outputs` are the session's, by tensor name (`OUTPUT_NAMES`), in crop pixels.
    """
    values = np.concatenate([outputs[OUTPUT_NAMES[role]] for role in _ROLES_IN_ORDER],
                            axis=None)
    out = values[_GATHER]
    out *= np.float32(1.0 / crop_size)
    iris_z = out[_IRIS_CONTOURS, 2].mean(axis=1)  # (image-left eye, other eye)
    out[MESH_POINTS:].reshape(2, IRIS_POINTS, 3)[:, :, 2] = iris_z[:, None]
    return out


def presence_probability(outputs: dict[str, Tensor]) -> float:
    """The face flag's logit through a sigmoid (MediaPipe's `TensorsToFloatsCalculator` with
    `activation: SIGMOID`), the logit clipped to +-100 so exp cannot overflow. `outputs` by
    tensor name, as the session returns them."""
    logit = min(100.0, max(-100.0, float(outputs[OUTPUT_NAMES["presence"]].flat[0])))
    return 1.0 / (1.0 + math.exp(-logit))


class AttentionMeshModel:
    """`face_landmark_with_attention.tflite`: 192 x 192 RGB in [0, 1] -> 478 points + presence.

    The session must run the model's MediaPipe custom ops (`open_attention_session`). Outputs
    are found by name (`OUTPUT_NAMES`): the two eyes and the two irises have equal shapes.
    """

    def __init__(self, session: InferenceSession) -> None:
        self._session = session
        spec = session.inputs[0]
        self._input_name = spec.name
        self.input_size = spec.shape[1]
        available = {o.name for o in session.outputs}
        missing = sorted(set(OUTPUT_NAMES.values()) - available)
        if missing:
            raise ValueError(f"not the attention face mesh: outputs {missing} are missing")

    def run(self, image: ImageRGB, roi: RotatedRect) -> MeshResult478:
        """478 points of the face in `roi` (image pixels), and the face-presence probability."""
        size = self.input_size
        out = self._session.run({self._input_name: crop_input(image, roi, size)})
        points_norm = assemble_attention_mesh(out, size)
        return MeshResult478(project_to_image(points_norm, roi), presence_probability(out), roi)
