"""How far to trust one frame's gaze: a confidence in [0, 1] and the reasons it is below 1.

Each criterion has a threshold and a limit. On the good side of the threshold it does not count;
past it, the criterion raises its flag and multiplies the confidence by a factor that falls
linearly from 1 at the threshold to 0 at the limit. The confidence is the product of the factors,
so a frame without flags has confidence 1. Both eyes closed is the exception: its flag sets the
confidence to 0, as the irises are hidden. Thresholds are stated with their reasons on
`QualityOptions`.

Motion blur needs the image: `eye_sharpness` measures the variance of the Laplacian of the eye
regions (Pech-Pacheco et al., "Diatom autofocusing in brightfield microscopy: a comparative
study", ICPR 2000), a focus measure whose absolute value depends on the face's texture, size and
lighting: measured on this project's three sample photos (golden landmarks, eye boxes of
`eye_boxes_px`, at their size and scaled to a webcam's 6 px iris radius), sharp eyes gave 400-4300
and a 15 px horizontal motion blur of the sharper photos still 180-640, so no absolute threshold
separates them. A frame is therefore compared with its own stream's recent sharpness
(`SharpnessBaseline`): on the same photos a 5 px blur fell to 0.21-0.76 of the sharp value, 9 px
to 0.13-0.59, 15 px to 0.09-0.44 (the highest ratios on the one photo that is soft to begin with).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np
import numpy.typing as npt

from gazeserve.gaze.conventions import IRIS_DIAMETER_MM
from gazeserve.gaze.filters import check_time_order
from gazeserve.gaze.rolling import RollingWindow
from gazeserve.results import EyeResult, FaceResult, Quality, QualityFlag

BoxPx = tuple[int, int, int, int]
"""(x_min, y_min, x_max, y_max) in image pixels, max exclusive."""

FACE_BOX_WIDTH_MM: Final = 145.0
"""Width of the 468-point mesh on the packaged reference face (x from -72 to 73 mm): turns a face
box into an iris size when the irises were not measured."""


@dataclass(frozen=True)
class QualityOptions:
    """Thresholds (where a flag starts) and limits (where its factor reaches 0)."""

    face_score: tuple[float, float] = (0.8, 0.5)
    """Mesh face-presence probability: the sample photos' faces score 1.0; 0.5 is where the
    pipeline stops reporting a face (`vision.landmarks.PRESENCE_THRESHOLD`)."""
    head_rotation_deg: tuple[float, float] = (30.0, 60.0)
    """Angle between the face's direction and the camera axis. A design choice: beyond about 30
    degrees the far eye is foreshortened and its inner corner starts to hide behind the nose, so
    its landmarks are inferred; at 45 degrees `attention` already calls it looking away."""
    iris_diameter_px: tuple[float, float] = (10.0, 4.0)
    """At a 10 px iris, one pixel of iris-centre error is 1.2 mm, about 6 degrees of eye rotation
    (asin(1.17 / 10.5)); at 4 px it is about 16 degrees."""
    inside_share: tuple[float, float] = (0.95, 0.5)
    """Share of the face box inside the frame: the mesh extrapolates what it cannot see."""
    sharpness_ratio: tuple[float, float] = (0.4, 0.1)
    """Eye sharpness over the stream's usual sharpness (see the module doc)."""

    def __post_init__(self) -> None:
        for name in ("face_score", "head_rotation_deg", "iris_diameter_px", "inside_share",
                     "sharpness_ratio"):
            threshold, limit = getattr(self, name)
            if not (math.isfinite(threshold) and math.isfinite(limit) and threshold != limit):
                raise ValueError(f"{name} needs a finite threshold and a different finite limit, "
                                 f"got {(threshold, limit)}")


_DEFAULT_OPTIONS: Final = QualityOptions()


def _factor(value: float, threshold: float, limit: float) -> float:
    """1 on the threshold's good side, falling linearly to 0 at the limit (either direction)."""
    t = (value - limit) / (threshold - limit)
    return min(1.0, max(0.0, t))


def assess_quality(face: FaceResult, frame_size: tuple[int, int],
                   sharpness_ratio: float | None = None,
                   options: QualityOptions | None = None) -> Quality:
    """Confidence and flags of one face (see the module doc).

    Args:
        face: the face as analysed (raw or smoothed; the criteria do not depend on smoothing).
        frame_size: (width, height) of the frame in pixels.
        sharpness_ratio: `SharpnessBaseline.update`'s ratio; None skips the blur criterion (no
            image, as with client-sent landmarks, or the baseline is still warming up).
        options: thresholds; the defaults when None.
    """
    opts = options or _DEFAULT_OPTIONS
    pose = face.head_pose
    rotation_deg = math.degrees(math.acos(min(1.0, math.cos(math.radians(pose.yaw_deg))
                                              * math.cos(math.radians(pose.pitch_deg)))))
    checks: list[tuple[QualityFlag, float, tuple[float, float]]] = [
        (QualityFlag.LOW_FACE_SCORE, face.score, opts.face_score),
        (QualityFlag.LARGE_HEAD_ROTATION, rotation_deg, opts.head_rotation_deg),
        (QualityFlag.SMALL_FACE, _iris_diameter_px(face), opts.iris_diameter_px),
        (QualityFlag.FACE_CUT_OFF, _inside_share(face.box_px, frame_size), opts.inside_share),
    ]
    if sharpness_ratio is not None:
        checks.append((QualityFlag.MOTION_BLUR, sharpness_ratio, opts.sharpness_ratio))
    confidence, flags = 1.0, []
    if face.right_eye.closed and face.left_eye.closed:
        confidence, flags = 0.0, [QualityFlag.EYES_CLOSED]  # the irises are hidden: no gaze
    for flag, value, (threshold, limit) in checks:
        factor = _factor(value, threshold, limit)
        if factor < 1.0:
            confidence *= factor
            flags.append(flag)
    return Quality(confidence, tuple(flags))


def _iris_diameter_px(face: FaceResult) -> float:
    radii = [e.iris_radius_px for e in (face.right_eye, face.left_eye)
             if e.iris_radius_px is not None]
    if radii:
        return 2.0 * max(radii)  # the far eye of a turned head is foreshortened
    x0, _, x1, _ = face.box_px
    return (x1 - x0) * IRIS_DIAMETER_MM / FACE_BOX_WIDTH_MM


def _inside_share(box_px: tuple[float, float, float, float], frame_size: tuple[int, int]) -> float:
    x0, y0, x1, y1 = box_px
    area = max(x1 - x0, 0.0) * max(y1 - y0, 0.0)
    if area == 0.0:
        return 1.0
    width, height = frame_size
    inside = (max(min(x1, width) - max(x0, 0.0), 0.0) * max(min(y1, height) - max(y0, 0.0), 0.0))
    return inside / area


def eye_boxes_px(face: FaceResult) -> list[BoxPx]:
    """A box around each eye whose iris was measured: 2.5 iris radii each side of the iris centre
    (an eye is about 2.5 iris diameters from corner to corner) and 1.5 radii up and down, lids
    and lashes included. Not clipped to the frame."""
    return [_eye_box(e) for e in (face.right_eye, face.left_eye)
            if e.iris_center_px is not None and e.iris_radius_px is not None]


def _eye_box(eye: EyeResult) -> BoxPx:
    assert eye.iris_center_px is not None and eye.iris_radius_px is not None
    (cx, cy), r = eye.iris_center_px, eye.iris_radius_px
    return (math.floor(cx - 2.5 * r), math.floor(cy - 1.5 * r),
            math.ceil(cx + 2.5 * r), math.ceil(cy + 1.5 * r))


def eye_sharpness(image_rgb: npt.NDArray[np.uint8], boxes_px: list[BoxPx]) -> float | None:
    """Mean over the eye boxes of the variance of the 3x3 Laplacian of the grey crop (OpenCV's
    `Laplacian`, ksize 1); None when no box has at least 3 x 3 pixels inside the image. About
    0.03 ms for two 60 x 36 px eye boxes (measured): only the crops are converted and filtered."""
    height, width = image_rgb.shape[:2]
    values = []
    for x0, y0, x1, y1 in boxes_px:
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        if x1 - x0 < 3 or y1 - y0 < 3:
            continue
        grey = cv2.cvtColor(image_rgb[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
        # ksize 1 is the integer kernel [0 1 0; 1 -4 1; 0 1 0]: int16 holds it exactly.
        _, std = cv2.meanStdDev(cv2.Laplacian(grey, cv2.CV_16S, ksize=1))
        values.append(float(std[0, 0]) ** 2)
    return sum(values) / len(values) if values else None


class SharpnessBaseline:
    """A stream's usual eye sharpness: the median over the last `window_s` seconds (motion blur
    comes in short bursts, so the median is the still face's sharpness)."""

    def __init__(self, window_s: float = 10.0, warmup_s: float = 1.0) -> None:
        if not 0.0 <= warmup_s <= window_s:
            raise ValueError(f"need 0 <= warmup_s <= window_s, got {warmup_s}, {window_s}")
        self.window_s, self.warmup_s = window_s, warmup_s
        self._history = RollingWindow(window_s)

    def reset(self) -> None:
        """Forgets the history: call when the track is lost (the next face may be another)."""
        self._history.clear()

    def update(self, sharpness: float, t_s: float) -> float | None:
        """Adds one frame's `eye_sharpness`; its ratio to the baseline, None while warming up.

        Raises:
            TimestampOrderError: `t_s` is earlier than the previous frame's.
        """
        history = self._history
        check_time_order(history.last_s, t_s, "SharpnessBaseline")
        history.add(sharpness, t_s)
        if history.span_s < self.warmup_s:
            return None
        baseline = history.median()
        return sharpness / baseline if baseline > 0.0 else None
