"""Iris landmarks: eye crops from the mesh, the iris model, and the 478-point assembly.

Follows MediaPipe's `iris_landmark_left_and_right_from_face_landmarks_cpu.pbtxt`,
`iris_landmark_landmarks_to_roi.pbtxt` and `iris_landmark_cpu.pbtxt`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gazeserve.vision.crop_model import CropModel
from gazeserve.vision.roi import (
    FloatArray,
    ImageRGB,
    RotatedRect,
    project_to_image,
    rect_from_points,
)

EYE_ROI_SCALE = 2.3
"""Eye crop side = 2.3 x the corner box's long side (RectTransformationCalculator)."""
IMAGE_LEFT_EYE_CORNERS = (33, 133)
"""The eye on the image's left (the subject's right): the model's own side, not mirrored."""
IMAGE_RIGHT_EYE_CORNERS = (362, 263)
"""The eye on the image's right: cropped mirrored, outputs mirrored back (IS_RIGHT_EYE)."""
EYE_CONTOURS = (
    (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173),
    (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398),
)
"""The 16 mesh points around each eye, image-left eye first; their mean z gives the iris z
(as MediaPipe's attention mesh assembles its irises)."""
IRIS_POINTS = 5
MIRRORED_RING_ORDER = [0, 3, 2, 1, 4]
CONTOUR_POINTS = 71
EYE_REGION_IN_MESH = (
    (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173,
     130, 25, 110, 24, 23, 22, 26, 112, 243, 247, 30, 29, 27, 28, 56, 190,
     226, 31, 228, 229, 230, 231, 232, 233, 244, 113, 225, 224, 223, 222, 221, 189,
     35, 124, 46, 53, 52, 65, 143, 111, 117, 118, 119, 120, 121, 128, 245,
     156, 70, 63, 105, 66, 107, 55, 193),
    (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398,
     359, 255, 339, 254, 253, 252, 256, 341, 463, 467, 260, 259, 257, 258, 286, 414,
     446, 261, 448, 449, 450, 451, 452, 453, 464, 342, 445, 444, 443, 442, 441, 413,
     265, 353, 276, 283, 282, 295, 372, 340, 346, 347, 348, 349, 350, 357, 465,
     383, 300, 293, 334, 296, 336, 285, 417),
)
"""Where the iris model's 71 eye-region points (contour, halos, brow) sit in the 468-point mesh,
image-left eye first: MediaPipe's `UpdateFaceLandmarksCalculator` writes them over the mesh's own,
which the model placed from the whole face rather than from a close crop of the eye."""
_EYE_REGIONS = tuple(np.array(region, np.intp) for region in EYE_REGION_IN_MESH)
_EYE_CONTOURS = tuple(np.array(contour, np.intp) for contour in EYE_CONTOURS)


@dataclass(frozen=True)
class EyeLandmarks:
    contour_px: FloatArray
    """71 x 3 eye-region points in image pixels, in `EYE_REGION_IN_MESH` order."""
    iris_px: FloatArray
    """5 x 3 iris points in image pixels, centre first, ring in MediaPipe's order."""


@dataclass(frozen=True)
class EyeCrop:
    roi: RotatedRect
    mirrored: bool


def eye_crops(landmarks_px: FloatArray) -> tuple[EyeCrop, EyeCrop]:
    """Both eye ROIs from the mesh, image-left eye first."""
    crops = []
    for (start, end), mirrored in ((IMAGE_LEFT_EYE_CORNERS, False),
                                   (IMAGE_RIGHT_EYE_CORNERS, True)):
        corners = landmarks_px[[start, end], :2]
        crops.append(EyeCrop(rect_from_points(corners, corners[0], corners[1], EYE_ROI_SCALE),
                             mirrored))
    return crops[0], crops[1]


class IrisModel(CropModel):
    """`iris_landmark.tflite`: 64 x 64 RGB in [0, 1] -> 5 iris + 71 eye-region points."""

    def run(self, image: ImageRGB, eye: EyeCrop) -> EyeLandmarks:
        """The eye's region and iris in image pixels; z is the model's, rescaled."""
        return self._landmarks(eye, *self.infer(image, eye.roi, eye.mirrored))

    def run_pair(self, image: ImageRGB, left: EyeCrop, right: EyeCrop
                 ) -> tuple[EyeLandmarks, EyeLandmarks]:
        """Both eyes of a face, in one call where the runtime batches (see `infer_many`)."""
        left_out, right_out = self.infer_many(image, [(left.roi, left.mirrored),
                                                      (right.roi, right.mirrored)])
        return self._landmarks(left, *left_out), self._landmarks(right, *right_out)

    def _landmarks(self, eye: EyeCrop, raw_iris: FloatArray, raw_contour: FloatArray
                   ) -> EyeLandmarks:
        size = np.float32(self.input_size)
        iris = project_to_image(raw_iris.reshape(IRIS_POINTS, 3) / size, eye.roi,
                                flip_horizontally=eye.mirrored)
        contour = project_to_image(raw_contour.reshape(CONTOUR_POINTS, 3) / size, eye.roi,
                                   flip_horizontally=eye.mirrored)
        # The ring goes round the model's own eye; mirrored, it runs the other way round.
        return EyeLandmarks(contour, iris[MIRRORED_RING_ORDER] if eye.mirrored else iris)


def assemble_478(mesh_px: FloatArray, image_left_eye: EyeLandmarks,
                 image_right_eye: EyeLandmarks, refine_eyes: bool = True) -> FloatArray:
    """468 mesh points refined around the eyes + both irises, MediaPipe's order (478 x 3).

    With `refine_eyes`, the eye regions' x, y come from the iris model
    (`UpdateFaceLandmarksCalculator`; z stays the mesh's): measured here, that halves the jitter
    of the iris displacement under in-plane rotation. Without it the 468 points are the mesh
    model's alone, as MediaPipe's FaceMesh with refine_landmarks=False gives them.

    468-472: the iris of the eye on the image's left (around 33/133), 473-477: the other; each
    iris z is the mean z of its eye's contour, as MediaPipe's attention mesh does.
    """
    out = np.empty((478, 3), np.float32)
    out[:468] = mesh_px
    for offset, eye, region, contour in (
            (468, image_left_eye, _EYE_REGIONS[0], _EYE_CONTOURS[0]),
            (473, image_right_eye, _EYE_REGIONS[1], _EYE_CONTOURS[1])):
        if refine_eyes:
            out[region, :2] = eye.contour_px[:, :2]
        out[offset:offset + IRIS_POINTS, :2] = eye.iris_px[:, :2]
        out[offset:offset + IRIS_POINTS, 2] = mesh_px[contour, 2].mean()
    return out

