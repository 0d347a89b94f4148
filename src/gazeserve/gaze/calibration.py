"""Per-user calibration: a regression from eye and head features to screen pixels.

Why a regression rather than geometry: the geometric screen point (`face.screen_point_mm`) rests on
population constants (eye radius, iris size, the angle between the eye's optical and visual axes,
the screen's placement) that are each off for a given person and set-up; a few seconds of looking
at known points fixes that. WebGazer.js (Papoutsaki et al., IJCAI 2016) fits a ridge regression
to screen points from eye-patch pixels; this one regresses on geometric features (iris
displacement in each eye) and adds the head pose and position, so that moderate head movement
after calibration is compensated rather than read as a gaze shift.

Model: ridge regression (Hoerl & Kennard 1970) of (x_px, y_px) on the standardised features of
`FEATURE_NAMES` plus, optionally, the quadratic terms dx^2, dy^2, dx*dy of the mean eye
displacement (the iris moves on a sphere, so equal gaze steps give shrinking displacement steps
toward the eye's edge). The intercept is not penalised. Lambda is chosen by leave-one-target-out
cross-validation: samples of one target are strongly correlated, so leaving out single samples
would reward overfitting. The reported error is nested (each held-back target's lambda is chosen
without it), so it is an honest estimate of the error on a new point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from gazeserve.gaze.filters import check_time_order
from gazeserve.results import FaceResult, Point2

Array = npt.NDArray[np.float64]

FORMAT: Final = "gazeserve.calibration"
VERSION: Final = 1
MIN_TARGETS: Final = 5
"""Fewer distinct targets leave too little to fit and to hold back (one target at a time)."""
FEATURE_NAMES: Final = ("right_dx", "right_dy", "left_dx", "left_dy", "head_yaw_deg",
                        "head_pitch_deg", "head_roll_deg", "head_x_mm", "head_y_mm", "head_z_mm")
QUADRATIC_NAMES: Final = ("mean_dx^2", "mean_dy^2", "mean_dx*mean_dy")
_SCALE_FLOOR: Final = (0.02,) * 4 + (1.0,) * 3 + (5.0,) * 3 + (0.002,) * 3
"""Smallest standardisation scale per term, about the frame-to-frame landmark noise in that
unit (displacement 0.02, about 1.5 degrees of eye rotation; angles 1 degree; position 5 mm). A
feature that barely moved during calibration (a head held still) is then not blown up to unit
variance: ridge keeps its weight small, and later head movement does not throw the point off."""


@dataclass(frozen=True)
class ScreenInfo:
    """The screen the targets are shown on: pixels, and their size in mm (for degree errors)."""

    width_px: int
    height_px: int
    width_mm: float
    height_mm: float

    def __post_init__(self) -> None:
        for name in ("width_px", "height_px", "width_mm", "height_mm"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"ScreenInfo.{name} must be positive, got {value}")

    def contains(self, point_px: Point2) -> bool:
        x, y = point_px
        return 0.0 <= x <= self.width_px and 0.0 <= y <= self.height_px


@dataclass(frozen=True)
class CalibrationSample:
    features: tuple[float, ...]
    """The values of `FEATURE_NAMES`, as `face_features` gives them."""
    target_px: Point2
    """The screen point looked at, px from the screen's top-left corner."""

    def __post_init__(self) -> None:
        # Plain floats in tuples, whatever sequence or numpy scalars came in (JSON gives lists):
        # targets are grouped by value, and the samples must be hashable and comparable.
        try:
            object.__setattr__(self, "features", tuple(float(v) for v in self.features))
            x, y = self.target_px
            object.__setattr__(self, "target_px", (float(x), float(y)))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"a sample needs numeric features and an (x, y) target: {exc}") \
                from exc
        if len(self.features) != len(FEATURE_NAMES):
            raise ValueError(f"a sample needs {len(FEATURE_NAMES)} features {FEATURE_NAMES}, "
                             f"got {len(self.features)}")
        if not all(math.isfinite(v) for v in (*self.features, *self.target_px)):
            raise ValueError(f"a sample has a NaN or infinite value: features {self.features}, "
                             f"target {self.target_px}")
        if not self.features[-1] > 0.0:
            raise ValueError(f"head_z_mm must be positive (in front of the camera), got "
                             f"{self.features[-1]}")


@dataclass(frozen=True)
class CalibrationOptions:
    """How the fit chooses its penalty, and how a guided run picks frames. Validated when built."""

    lambdas: tuple[float, ...] = tuple(float(v) for v in np.logspace(-4.0, 2.0, 13))
    """Candidate ridge penalties, per unit of standardised variance (the normal equations are
    divided by the sample count, so they do not depend on how many frames each target got)."""
    quadratic: bool = True
    settle_s: float = 0.3
    """`CalibrationSession` ignores frames this soon after a target appears: a saccade's latency
    is about 200 ms (Carpenter, "Movements of the Eyes", 1988), plus its flight and settling."""

    def __post_init__(self) -> None:
        if not self.lambdas or not all(math.isfinite(v) and v > 0.0 for v in self.lambdas):
            raise ValueError(f"lambdas must be positive numbers, got {self.lambdas}")
        if not (math.isfinite(self.settle_s) and self.settle_s >= 0.0):
            raise ValueError(f"settle_s must be >= 0, got {self.settle_s}")


@dataclass(frozen=True)
class TargetError:
    """One held-back target's error: its samples predicted by a model fitted without it."""

    target_px: Point2
    samples: int
    mean_error_px: float
    mean_error_deg: float


@dataclass(frozen=True)
class CalibrationQuality:
    """Error on held-back targets: each target predicted by a model fitted without it."""

    mean_error_px: float
    median_error_px: float
    mean_error_deg: float
    """Visual angle of the error at the head's distance (`head_z_mm`), approximating the eye's
    line to the screen as perpendicular to it (an error of e mm at z mm is atan(e / z))."""
    per_target: tuple[TargetError, ...]


def face_features(face: FaceResult) -> tuple[float, ...] | None:
    """The calibration features of a face; None when its irises were not measured."""
    right, left = face.right_eye.displacement, face.left_eye.displacement
    if right is None or left is None:
        return None
    pose = face.head_pose
    return (*right, *left, pose.yaw_deg, pose.pitch_deg, pose.roll_deg, *face.head_translation_mm)


def _terms(features: Array, quadratic: bool) -> Array:
    """Regression terms of an n x 10 feature array: the features, then the quadratic terms."""
    if not quadratic:
        return features
    dx = 0.5 * (features[:, 0] + features[:, 2])
    dy = 0.5 * (features[:, 1] + features[:, 3])
    return np.column_stack([features, dx * dx, dy * dy, dx * dy])


@dataclass(frozen=True)
class Calibration:
    """A fitted mapping from a face to screen pixels; see the module doc."""

    screen: ScreenInfo
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights_px: tuple[tuple[float, float], ...]
    """Per standardised term, its weight for (x_px, y_px)."""
    intercept_px: Point2
    ridge_lambda: float
    quadratic: bool
    quality: CalibrationQuality | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        terms = len(FEATURE_NAMES) + (len(QUADRATIC_NAMES) if self.quadratic else 0)
        if not len(self.mean) == len(self.scale) == len(self.weights_px) == terms:
            raise ValueError(f"a calibration with quadratic={self.quadratic} needs {terms} terms, "
                             f"got {len(self.mean)}, {len(self.scale)}, {len(self.weights_px)}")
        values = [*self.mean, *self.scale, *np.ravel(self.weights_px), *self.intercept_px]
        if not all(math.isfinite(v) for v in values) or min(self.scale) <= 0.0:
            raise ValueError("a calibration's values must be finite with positive scales")

    def predict_features(self, features: npt.ArrayLike) -> Array:
        """Screen points (n x 2, px) of an n x 10 (or 10) feature array."""
        x = np.atleast_2d(np.asarray(features, dtype=np.float64))
        z = (_terms(x, self.quadratic) - np.asarray(self.mean)) / np.asarray(self.scale)
        out: Array = z @ np.asarray(self.weights_px) + np.asarray(self.intercept_px)
        return out

    def predict(self, face: FaceResult) -> Point2 | None:
        """The screen point (px) the face looks at; None when its irises were not measured.

        Not clipped to the screen: a point off the screen says where, and how far, it is off.
        """
        features = face_features(face)
        if features is None:
            return None
        x, y = self.predict_features(features)[0]
        return float(x), float(y)

    def to_json(self) -> dict[str, Any]:
        """A versioned JSON-ready dict; `from_json` reads it back."""
        s = self.screen
        return {
            "format": FORMAT, "version": VERSION,
            "screen": {"width_px": s.width_px, "height_px": s.height_px,
                       "width_mm": s.width_mm, "height_mm": s.height_mm},
            "terms": list(FEATURE_NAMES + (QUADRATIC_NAMES if self.quadratic else ())),
            "quadratic": self.quadratic, "mean": list(self.mean), "scale": list(self.scale),
            "weights_px": [list(w) for w in self.weights_px],
            "intercept_px": list(self.intercept_px), "ridge_lambda": self.ridge_lambda,
            "quality": None if self.quality is None else _quality_json(self.quality),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        """A calibration from `to_json`'s dict (the held-back error is not read back).

        Raises:
            ValueError: not a gazeserve calibration, another version, or bad values.
        """
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} document")
        if data.get("version") != VERSION:
            raise ValueError(f"calibration version {data.get('version')!r} is not supported "
                             f"(this build reads version {VERSION})")
        try:
            s = data["screen"]
            return cls(
                screen=ScreenInfo(int(s["width_px"]), int(s["height_px"]),
                                  float(s["width_mm"]), float(s["height_mm"])),
                mean=tuple(float(v) for v in data["mean"]),
                scale=tuple(float(v) for v in data["scale"]),
                weights_px=tuple((float(w[0]), float(w[1])) for w in data["weights_px"]),
                intercept_px=(float(data["intercept_px"][0]), float(data["intercept_px"][1])),
                ridge_lambda=float(data["ridge_lambda"]),
                quadratic=bool(data["quadratic"]),
            )
        except (KeyError, IndexError, TypeError) as exc:
            raise ValueError(f"malformed calibration document: {exc!r}") from exc


def _quality_json(q: CalibrationQuality) -> dict[str, Any]:
    return {"mean_error_px": round(q.mean_error_px, 2),
            "median_error_px": round(q.median_error_px, 2),
            "mean_error_deg": round(q.mean_error_deg, 3),
            "per_target": [{"target_px": list(t.target_px), "samples": t.samples,
                            "mean_error_px": round(t.mean_error_px, 2),
                            "mean_error_deg": round(t.mean_error_deg, 3)}
                           for t in q.per_target]}


class _GroupedRidge:
    """Ridge fits that leave out whole targets, from per-target sums of the normal equations."""

    def __init__(self, a: Array, y: Array, groups: Array) -> None:
        """`a`: standardised terms with a column of ones; `y`: targets; `groups`: target ids."""
        self.labels = np.unique(groups)
        self.gram = np.stack([a[groups == g].T @ a[groups == g] for g in self.labels])
        self.cross = np.stack([a[groups == g].T @ y[groups == g] for g in self.labels])
        self.counts = np.array([np.sum(groups == g) for g in self.labels], dtype=np.float64)
        self.penalty = np.diag(np.r_[np.ones(a.shape[1] - 1), 0.0])

    def solve(self, keep: Array, lambdas: Sequence[float]) -> Array:
        """Coefficients ((terms + 1) x 2) per lambda, fitted on the targets `keep` (a mask)."""
        n = self.counts[keep].sum()
        gram = self.gram[keep].sum(axis=0) / n
        cross = self.cross[keep].sum(axis=0) / n
        systems = gram[None] + np.asarray(lambdas)[:, None, None] * self.penalty[None]
        out: Array = np.linalg.solve(systems, np.broadcast_to(cross, (len(lambdas), *cross.shape)))
        return out


def fit_calibration(samples: Sequence[CalibrationSample], screen: ScreenInfo,
                    options: CalibrationOptions | None = None) -> Calibration:
    """Fits the mapping and measures it on held-back targets (see the module doc).

    Raises:
        ValueError: fewer than `MIN_TARGETS` distinct targets, or a target off the screen.
    """
    opts = options or CalibrationOptions()
    targets = sorted({s.target_px for s in samples})
    if len(targets) < MIN_TARGETS:
        raise ValueError(f"calibration needs at least {MIN_TARGETS} distinct targets, got "
                         f"{len(targets)} ({len(samples)} samples)")
    off = [t for t in targets if not screen.contains(t)]
    if off:
        raise ValueError(f"targets off the {screen.width_px} x {screen.height_px} px screen: {off}")
    features = np.array([s.features for s in samples], dtype=np.float64)
    y = np.array([s.target_px for s in samples], dtype=np.float64)
    index = {t: i for i, t in enumerate(targets)}
    groups = np.array([index[s.target_px] for s in samples])
    x = _terms(features, opts.quadratic)
    mean = x.mean(axis=0)
    scale = np.maximum(x.std(axis=0), np.asarray(_SCALE_FLOOR[:x.shape[1]]))
    a = np.column_stack([(x - mean) / scale, np.ones(len(x))])
    ridge = _GroupedRidge(a, y, groups)
    everyone = np.ones(len(targets), dtype=bool)
    best = _choose_lambda(ridge, a, y, groups, everyone, opts.lambdas)
    coef = ridge.solve(everyone, [opts.lambdas[best]])[0]
    errors: list[TargetError] = []
    sample_errors_px: list[Array] = []
    degrees: list[Array] = []
    for g, target in enumerate(targets):
        keep = everyone.copy()
        keep[g] = False
        inner = _choose_lambda(ridge, a, y, groups, keep, opts.lambdas)
        held = groups == g
        delta = a[held] @ ridge.solve(keep, [opts.lambdas[inner]])[0] - y[held]
        err_px = np.hypot(delta[:, 0], delta[:, 1])
        err_mm = np.hypot(delta[:, 0] * screen.width_mm / screen.width_px,
                          delta[:, 1] * screen.height_mm / screen.height_px)
        err_deg = np.degrees(np.arctan2(err_mm, features[held, -1]))
        sample_errors_px.append(err_px)
        degrees.append(err_deg)
        errors.append(TargetError(target, int(held.sum()), float(err_px.mean()),
                                  float(err_deg.mean())))
    all_px = np.concatenate(sample_errors_px)
    quality = CalibrationQuality(float(all_px.mean()), float(np.median(all_px)),
                                 float(np.concatenate(degrees).mean()), tuple(errors))
    return Calibration(screen, tuple(mean.tolist()), tuple(scale.tolist()),
                       tuple((float(wx), float(wy)) for wx, wy in coef[:-1]),
                       (float(coef[-1, 0]), float(coef[-1, 1])), opts.lambdas[best],
                       opts.quadratic, quality)


def _choose_lambda(ridge: _GroupedRidge, a: Array, y: Array, groups: Array, keep: Array,
                   lambdas: Sequence[float]) -> int:
    """Index of the lambda with the least mean error over the targets in `keep`, each held out
    in turn (leave-one-target-out)."""
    totals = np.zeros(len(lambdas))
    for g in np.flatnonzero(keep):
        inner = keep.copy()
        inner[g] = False
        held = groups == g
        predicted = np.einsum("nt,ltk->lnk", a[held], ridge.solve(inner, lambdas))
        totals += np.hypot(*np.moveaxis(predicted - y[held], -1, 0)).sum(axis=1)
    return int(np.argmin(totals))


class CalibrationSession:
    """Collects a guided calibration run of one stream: targets shown one after another, frames
    while each is shown; `finish()` fits. Frames in the first `settle_s` after a target appears,
    frames with both eyes closed, and frames without measured irises are skipped."""

    def __init__(self, screen: ScreenInfo, options: CalibrationOptions | None = None) -> None:
        self.screen = screen
        self.options = options or CalibrationOptions()
        self.samples: list[CalibrationSample] = []
        self._target: Point2 | None = None
        self._shown_s = 0.0
        self._t_s: float | None = None

    def target(self, target_px: Point2, t_s: float) -> None:
        """The client now shows this target (px on `screen`), from time `t_s` (seconds).

        Raises:
            ValueError: the target is not finite or off the screen.
        """
        point = (float(target_px[0]), float(target_px[1]))
        if not (all(math.isfinite(v) for v in point) and self.screen.contains(point)):
            raise ValueError(f"target {target_px} is not on the {self.screen.width_px} x "
                             f"{self.screen.height_px} px screen")
        check_time_order(self._t_s, t_s, "CalibrationSession")
        self._t_s = t_s
        self._target, self._shown_s = point, t_s

    def add(self, face: FaceResult, t_s: float) -> bool:
        """Offers one frame's face; True when it was kept as a sample of the current target.

        A frame captured before the current target appeared (still in flight when the client
        moved on) is skipped, not an error.
        """
        if self._target is None or t_s - self._shown_s < self.options.settle_s:
            return False
        self._t_s = max(self._t_s or t_s, t_s)
        features = face_features(face)
        if features is None or (face.right_eye.closed and face.left_eye.closed):
            return False
        if not (all(math.isfinite(v) for v in features) and features[-1] > 0.0):
            return False
        self.samples.append(CalibrationSample(features, self._target))
        return True

    def finish(self) -> Calibration:
        """Fits the collected samples (see `fit_calibration`, whose errors it raises)."""
        self._target = None
        return fit_calibration(self.samples, self.screen, self.options)
