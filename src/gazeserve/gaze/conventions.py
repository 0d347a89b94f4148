"""Every sign convention of gazeserve's gaze geometry, stated once, and the constants it rests on.

Image (`*_px`)
    Pixels of the frame as sent: origin at the top-left corner, x to the right, y down. Landmark z
    is MediaPipe's: pixels on x's scale, relative depth, smaller z = closer to the camera.

Eye naming
    From the subject's side, as MediaPipe names them: the left eye is the subject's left, which an
    unmirrored camera shows on the image's right. In the 478-point mesh the right eye has corners
    33 (outer) and 133 (inner) and iris 468-472; the left eye has corners 362 (inner) and 263
    (outer) and iris 473-477.

Camera frame (positions, `head_translation_mm`)
    OpenCV's pinhole camera: origin at the camera's centre, X to the image's right, Y down, Z
    forward along the optical axis (Z > 0 is distance in front of the camera), millimetres. The
    principal point is the image centre; the focal length is `f_px = image width` unless given
    (a 53 degree horizontal field of view, typical of laptop webcams).

Viewer frame (rotations and directions)
    X to the image's right, Y up, Z toward the camera: `viewer = diag(1, -1, -1) @ camera`. The
    reference face is stored in this frame in its neutral pose: x from the subject's right eye to
    their left eye, y up toward the forehead, z out of the face toward the camera, origin midway
    between the eyes (the mean of the four eye corners), millimetres.

Head pose (`HeadPose`, degrees)
    `R = Ry(yaw) @ Rx(-pitch) @ Rz(roll)` turns the reference face into the viewer frame
    (intrinsic yaw, then pitch, then roll; Rx, Ry, Rz the right-handed rotations about the viewer
    axes). Hence:

    - yaw > 0: the subject turns toward the image's right (their own left);
    - pitch > 0: the subject looks up;
    - roll > 0: the head tilts counter-clockwise as seen in the image (the subject's left eye,
      on the image's right, rises): the sense of a positive angle in `cv2.getRotationMatrix2D`.

    The nose direction (0, 0, 1) becomes (cos p sin y, sin p, cos p cos y): yaw and pitch are the
    angles of the direction the face points, whatever the roll. All zero: the face points along
    the optical axis at the camera's plane. Angles are in the camera's axes, not relative to the
    line of sight: a face in the image's corner that looks straight into the lens has a yaw and
    pitch equal to the angles of its line of sight. A horizontally mirrored image negates yaw and
    roll and keeps pitch.

Head translation (`head_translation_mm`)
    Camera-frame position of the point midway between the eyes (the mean of the four eye
    corners). Depth from the pinhole model, `Z = f_px * IRIS_DIAMETER_MM / iris diameter (px)`,
    with the horizontal iris diameter corrected for the head's and the eyes' rotation; X and Y
    from the point's pixel position at that depth.

Eye displacement (`EyeResult.displacement`)
    The iris centre's offset from the midpoint of the eye corners, in the eye's own axes: dx along
    the corner-to-corner line, positive toward the subject's left (the image's right when the face
    is upright); dy across it, positive toward the subject's chin (image down when upright). Both
    are divided by half the corner distance, so one unit is the same length on both axes, and
    clipped to [-1, 1]. Rolling the head, or the whole image, does not change them.

Gaze (`Gaze`, degrees)
    A direction in the viewer frame: yaw = atan2(x, z), positive toward the image's right; pitch =
    asin(y), positive up. Zero: parallel to the optical axis, toward the camera's plane. The signs
    are those of the head pose: eyes centred in their sockets give gaze = head yaw and pitch.

Screen (`ScreenGeometry`)
    The screen lies in the camera frame's plane Z = 0 (a webcam set in the screen's frame, its
    optical axis perpendicular to the screen), its top edge `camera_to_top_edge_mm` below the
    camera. Screen points are millimetres from the screen's top-left corner as the user sees it:
    x to the user's right (camera -X), y down (camera +Y).
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

IRIS_DIAMETER_MM: Final = 11.7
"""Horizontal visible iris diameter, nearly constant across people: 11.7 +/- 0.5 mm as used by
MediaPipe Iris for metric depth (Ablavatski et al. 2020, "Real-time Pupil Tracking from Monocular
Video for Digital Puppetry", arXiv:2006.11341; Google AI Blog "MediaPipe Iris", August 2020)."""

EYEBALL_RADIUS_MM: Final = 12.0
"""Radius of the globe: half the 24 mm axial length of the Gullstrand-Le Grand schematic eye."""

IRIS_CENTRE_FROM_EYE_CENTRE_MM: Final = math.sqrt(EYEBALL_RADIUS_MM**2
                                                  - (IRIS_DIAMETER_MM / 2) ** 2)
"""Distance from the eye's centre of rotation to the iris centre (about 10.5 mm): the iris taken as
a circle of 11.7 mm diameter on the 12 mm globe. An iris offset of `o` mm from straight ahead is an
eye rotation of `asin(o / IRIS_CENTRE_FROM_EYE_CENTRE_MM)`."""

LAPTOP_15_6_SCREEN_MM: Final = (344.0, 194.0)
"""Active area (width, height) of a 15.6 inch 16:9 laptop panel: the default screen."""

CAMERA_TO_TOP_EDGE_MM: Final = 10.0
"""Default vertical distance from a laptop webcam's centre down to the screen's active area."""

VIEWER_FROM_CAMERA: Final[npt.NDArray[np.float64]] = np.diag([1.0, -1.0, -1.0])
"""Axis flip between the camera frame (X right, Y down, Z forward) and the viewer frame (X right,
Y up, Z toward the camera); it is its own inverse."""
