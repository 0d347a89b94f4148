"""One Euro smoothing of a stream's per-frame signals.

The filter is the 1€ filter of Casiez, Roussel & Vogel, "1€ Filter: A Simple Speed-based Low-pass
Filter for Noisy Input in Interactive Systems", CHI 2012, pp. 2527-2530: an exponential low-pass
whose cutoff rises with the signal's speed, so a still gaze is steady (low cutoff, little jitter)
and a moving one follows with little lag (high cutoff). With sample period T_e:

    alpha(f_c) = 1 / (1 + tau / T_e),   tau = 1 / (2 pi f_c)
    dx_hat_i   = alpha(d_cutoff) * (x_i - x_hat_{i-1}) / T_e + (1 - alpha(d_cutoff)) * dx_hat_{i-1}
    f_c        = min_cutoff + beta * |dx_hat_i|
    x_hat_i    = alpha(f_c) * x_i + (1 - alpha(f_c)) * x_hat_{i-1}

The first sample passes through unchanged with a derivative of 0, as in the paper's reference code.
Vectors are filtered component by component (each its own cutoff), as MediaPipe's
OneEuroFilterCalculator does per landmark coordinate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Final, overload

import numpy as np
import numpy.typing as npt

from gazeserve.results import EyeResult, FaceResult, Gaze, HeadPose, Point2

Array = npt.NDArray[np.float64]


class TimestampOrderError(ValueError):
    """A sample's time is earlier than the previous sample's: one stream's time must not go back."""


def check_time_order(previous_s: float | None, t_s: float, what: str) -> None:
    """Raises `TimestampOrderError` when `t_s` is before `previous_s` (equal is allowed).

    Raises:
        ValueError: `t_s` is not finite.
    """
    if not math.isfinite(t_s):
        raise ValueError(f"{what}: timestamp must be finite, got {t_s}")
    if previous_s is not None and t_s < previous_s:
        raise TimestampOrderError(f"{what}: timestamp {t_s} s is earlier than the previous "
                                  f"sample's ({previous_s} s); a stream's time must not go back")


@dataclass(frozen=True)
class OneEuroOptions:
    """Parameters of one 1€ filter, in the units of the signal it smooths. Validated when built.

    Tuning (Casiez et al. 2012, section "Tuning"): with beta = 0, lower `min_cutoff` until a still
    signal stops jittering; then raise `beta` until fast movements no longer lag.
    """

    min_cutoff: float = 1.0
    """Cutoff frequency at rest, Hz: the jitter/lag trade-off for slow movements."""
    beta: float = 0.007
    """Cutoff increase per unit of speed, Hz per (signal unit / s)."""
    d_cutoff: float = 1.0
    """Cutoff of the low-pass on the speed estimate, Hz (the paper keeps it at 1 Hz)."""

    def __post_init__(self) -> None:
        for name in ("min_cutoff", "d_cutoff"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f"{name} must be a positive frequency in Hz, got {value}")
        if not (math.isfinite(self.beta) and self.beta >= 0.0):
            raise ValueError(f"beta must be >= 0, got {self.beta}")


def smoothing_factor(cutoff_hz: float, period_s: float) -> float:
    """alpha = 1 / (1 + tau / T_e) with tau = 1 / (2 pi f_c) (Casiez et al. 2012, eq. 2-3)."""
    tau_s = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau_s / period_s)


class OneEuroFilter:
    """A 1€ filter over a scalar or a small vector sampled at irregular times (seconds).

    One filter holds one signal's state: keep one per stream and signal, and `reset()` it when
    the signal is interrupted (track lost) so the next value is not pulled toward a stale one.
    The state is a tuple of plain floats: a signal has one to four components, where numpy's
    per-call overhead would cost more than the arithmetic (`step` is the plain-float entry).
    """

    def __init__(self, options: OneEuroOptions | None = None) -> None:
        self.options = options or OneEuroOptions()
        self._x: tuple[float, ...] | None = None
        self._dx: tuple[float, ...] | None = None
        self._t_s: float | None = None

    @property
    def value(self) -> Array | None:
        """The current estimate (a copy), None before the first sample."""
        return None if self._x is None else np.array(self._x)

    @property
    def estimate(self) -> tuple[float, ...] | None:
        """The current estimate as plain floats, None before the first sample."""
        return self._x

    def reset(self) -> None:
        """Forgets the signal: the next sample passes through unchanged."""
        self._x = self._dx = self._t_s = None

    @overload
    def __call__(self, value: float, t_s: float) -> float: ...

    @overload
    def __call__(self, value: npt.ArrayLike, t_s: float) -> Array: ...

    def __call__(self, value: float | npt.ArrayLike, t_s: float) -> float | Array:
        """The filtered value at time `t_s` (seconds, any origin, never decreasing).

        A sample at the same time as the previous one carries no time to filter over: the previous
        estimate is returned and the state is kept.

        Raises:
            TimestampOrderError: `t_s` is earlier than the previous sample's time.
            ValueError: a non-finite value, or a shape other than the first sample's.
        """
        if isinstance(value, int | float):
            return self.step((float(value),), t_s)[0]
        x = np.array(value, dtype=np.float64, ndmin=1)
        return np.array(self.step(tuple(x.ravel().tolist()), t_s)).reshape(x.shape)

    def step(self, values: tuple[float, ...], t_s: float) -> tuple[float, ...]:
        """`__call__` for a signal given as plain floats, one per component."""
        for v in values:
            if not math.isfinite(v):
                raise ValueError(f"OneEuroFilter: values must be finite, got {values!r}")
        check_time_order(self._t_s, t_s, "OneEuroFilter")
        if self._x is None or self._dx is None or self._t_s is None:
            self._x, self._dx, self._t_s = values, (0.0,) * len(values), t_s
            return values
        if len(values) != len(self._x):
            raise ValueError(f"OneEuroFilter: expected shape ({len(self._x)},), got "
                             f"({len(values)},)")
        period_s = t_s - self._t_s
        if period_s > 0.0:
            opts = self.options
            alpha_d = smoothing_factor(opts.d_cutoff, period_s)
            x_hat, dx_hat = [], []
            for x, previous, d_previous in zip(values, self._x, self._dx, strict=True):
                d = d_previous + alpha_d * ((x - previous) / period_s - d_previous)
                alpha = smoothing_factor(opts.min_cutoff + opts.beta * abs(d), period_s)
                x_hat.append(previous + alpha * (x - previous))
                dx_hat.append(d)
            self._x, self._dx, self._t_s = tuple(x_hat), tuple(dx_hat), t_s
        return self._x


DISPLACEMENT_DEG_PER_UNIT: Final = math.degrees(15.0 / 10.5)
"""About 82 degrees of eye rotation per unit of eye displacement: one unit is half the corner
distance (about 15 mm on an adult eye), and an iris offset of o mm turns the eye by about
o / 10.5 rad (`conventions.IRIS_CENTRE_FROM_EYE_CENTRE_MM`)."""
HEAD_MM_DEG_PER_UNIT: Final = math.degrees(1.0 / 600.0)
"""About 0.1 degree of visual angle per mm of head movement at a 600 mm viewing distance."""
SCREEN_PX_DEG_PER_UNIT: Final = math.degrees(0.26 / 600.0)
"""About 0.025 degree per screen pixel: a 96 dpi pixel (0.26 mm) seen from 600 mm."""


def _scaled(deg_per_unit: float) -> OneEuroOptions:
    """The default options for a signal whose unit is `deg_per_unit` degrees: beta scaled so the
    same angular speed opens the filter as much as it does for a signal in degrees."""
    return OneEuroOptions(beta=OneEuroOptions().beta * deg_per_unit)


@dataclass(frozen=True)
class SmootherOptions:
    """One Euro options per signal group, each in its own unit. Validated by its parts.

    The defaults are the paper's (min_cutoff 1 Hz, beta 0.007 per degree/s) for angles; the other
    groups scale beta by their unit's size in degrees (see the `*_DEG_PER_UNIT` constants).
    """

    angles_deg: OneEuroOptions = field(default_factory=OneEuroOptions)
    """Head yaw/pitch/roll and gaze yaw/pitch."""
    displacement: OneEuroOptions = field(default_factory=lambda: _scaled(
        DISPLACEMENT_DEG_PER_UNIT))
    translation_mm: OneEuroOptions = field(default_factory=lambda: _scaled(HEAD_MM_DEG_PER_UNIT))
    screen_px: OneEuroOptions = field(default_factory=lambda: _scaled(SCREEN_PX_DEG_PER_UNIT))


class SignalSmoother:
    """Smooths the landmark-derived signals of one stream's tracked face.

    Smoothed: head pose, head translation, both eyes' displacement (and the gaze displacement,
    their mean), gaze yaw/pitch, and the screen point when there is one. Left raw: eye openness
    and the closed flags (blink detection needs the raw dips), on_screen and attention (decided
    per frame by the geometry; `events` debounces on_screen).

    While both eyes are closed the iris landmarks are guesses, so the gaze and eye filters are not
    fed and the last smoothed gaze is reported. Call `reset()` when the face is lost.
    """

    def __init__(self, options: SmootherOptions | None = None) -> None:
        self.options = options or SmootherOptions()
        opts = self.options
        self._head = OneEuroFilter(opts.angles_deg)
        self._gaze = OneEuroFilter(opts.angles_deg)
        self._eyes = OneEuroFilter(opts.displacement)
        self._translation = OneEuroFilter(opts.translation_mm)
        self._screen = OneEuroFilter(opts.screen_px)

    def reset(self) -> None:
        """Forgets every signal: call when the stream's face track is lost."""
        for f in (self._head, self._gaze, self._eyes, self._translation, self._screen):
            f.reset()

    def smooth(self, face: FaceResult, t_s: float) -> FaceResult:
        """The face with its signals smoothed at time `t_s` (seconds); `face` is not changed.

        Raises:
            TimestampOrderError: `t_s` is earlier than the previous frame's.
        """
        pose = face.head_pose
        yaw, pitch, roll = self._head.step((pose.yaw_deg, pose.pitch_deg, pose.roll_deg), t_s)
        tx, ty, tz = self._translation.step(tuple(face.head_translation_mm), t_s)
        right, left, gaze = face.right_eye, face.left_eye, face.gaze
        closed = right.closed and left.closed
        held = self._gaze.estimate
        gaze_yaw, gaze_pitch = held if closed and held is not None else self._gaze.step(
            (gaze.yaw_deg, gaze.pitch_deg), t_s)
        right_d, left_d = self._displacements(right, left, closed, t_s)
        point = gaze.screen_point_px
        if point is None:
            self._screen.reset()
        else:
            x, y = self._screen.step((float(point[0]), float(point[1])), t_s)
            point = (x, y)
        mean_d = None if right_d is None or left_d is None else (
            0.5 * (right_d[0] + left_d[0]), 0.5 * (right_d[1] + left_d[1]))
        return replace(
            face,
            head_pose=HeadPose(yaw, pitch, roll),
            head_translation_mm=(tx, ty, tz),
            right_eye=replace(right, displacement=right_d),
            left_eye=replace(left, displacement=left_d),
            gaze=Gaze(gaze_yaw, gaze_pitch, mean_d, point),
        )

    def _displacements(self, right: EyeResult, left: EyeResult, closed: bool, t_s: float
                       ) -> tuple[Point2 | None, Point2 | None]:
        """Both eyes' smoothed displacement; None (and the filter reset) when the irises were not
        measured; the held value while both eyes are closed."""
        if right.displacement is None or left.displacement is None:
            self._eyes.reset()
            return right.displacement, left.displacement
        held = self._eyes.estimate
        rx, ry, lx, ly = held if closed and held is not None else self._eyes.step(
            right.displacement + left.displacement, t_s)
        return (rx, ry), (lx, ly)
