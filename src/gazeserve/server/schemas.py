"""What the routes answer, as pydantic models: the OpenAPI schema's responses.

The routes serialise with orjson (`GazeResult.to_dict` and friends) rather than through these
models, which only describe the answers; the schema tests (`tests/fuzz/test_openapi.py`) check
that every answer matches its model. `extra="allow"`: fields may be added within schema v1.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(_Open):
    code: str = Field(description="Stable and machine-readable: `corrupt_image`, "
                      "`overloaded`, `unauthorized`, ...")
    message: str = Field(description="One line for a person")


class ErrorResponse(_Open):
    """Every error, whatever its status."""

    error: ErrorDetail


class FrameModel(_Open):
    width: int
    height: int
    timestamp_ms: float | None
    stream_id: str | None


class EyeModel(_Open):
    iris_center_px: list[float] | None
    iris_radius_px: float | None
    displacement: list[float] | None
    openness: float
    closed: bool


class HeadPoseModel(_Open):
    yaw: float
    pitch: float
    roll: float


class GazeModel(_Open):
    yaw_deg: float
    pitch_deg: float
    displacement: list[float] | None
    screen_point_px: list[float] | None


class AttentionModel(_Open):
    score: float
    state: Literal["attentive", "looking_away", "eyes_closed", "no_face"]


class QualityModel(_Open):
    confidence: float
    flags: list[str]


class EyesModel(_Open):
    left: EyeModel
    right: EyeModel


class FaceModel(_Open):
    score: float
    box_px: list[float]
    head_pose_deg: HeadPoseModel
    head_translation_mm: list[float]
    eyes: EyesModel
    gaze: GazeModel
    on_screen: bool
    attention: AttentionModel
    quality: QualityModel | None = None
    landmarks_px: list[list[float]] | None = Field(
        default=None, description="478 x 3, with `include=landmarks` only")


class TimingsModel(_Open):
    decode: float
    detect: float
    landmarks: float
    iris: float
    gaze: float
    total: float


class GazeResultModel(_Open):
    """Result schema v1 (`gazeserve.results.GazeResult.to_dict`)."""

    schema_: Literal["gazeserve.gaze.v1"] = Field(alias="schema")
    frame: FrameModel
    face_detected: bool
    detector_ran: bool
    faces: list[FaceModel]
    events: list[dict[str, Any]]
    timings_ms: TimingsModel


class CalibrationReplyModel(_Open):
    error_px: float | None
    error_deg: float | None
    points: int | None
    calibration: dict[str, Any]


class DeletedModel(_Open):
    status: Literal["deleted"]


class SummaryModel(_Open):
    stream_id: str
    frames: int


class HealthModel(_Open):
    status: Literal["ok"]


class ReadyModel(_Open):
    status: Literal["ready"]
    engine: str
    mesh: str
    mesh_reason: str
    batching: str
    """Whether and what the engine batches across streams (GAZE_BATCHING), and why."""
    workers: int


ERROR_STATUSES = (400, 401, 404, 408, 409, 413, 415, 422, 429, 503)


def responses(ok: type[BaseModel] | None, *statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: `ok` for 200, the error shape for each of `statuses`."""
    out: dict[int | str, dict[str, Any]] = {}
    if ok is not None:
        out[200] = {"model": ok}
    for status in statuses:
        out[status] = {"model": ErrorResponse}
    return out
