"""Face indices that keep meaning the same person across the frames of a recording.

A gazeserve stream tracks one face. With several faces, each frame is processed as a single image
and its faces are matched to the previous frames' faces here, by position: greedy nearest-centre
matching (the closest pair of track and face first, then the next closest among those left) with
a distance gate relative to the face's size. Greedy matching equals the optimal (Hungarian)
assignment whenever each face is nearer its own track than any other track is, which the gate
makes the rule for faces that are not overlapping; it avoids a SciPy dependency for the few faces
(at most 16) of a frame.

A face that matches no track starts a new index (new faces of one frame numbered left to right);
a track not matched for `max_missing_s` ends, and its index is not reused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

BoxPx = tuple[float, float, float, float]
"""(x_min, y_min, x_max, y_max), image pixels."""


@dataclass(frozen=True)
class TrackerOptions:
    """How far a face may move between frames, and how long a track outlives its face."""

    max_step: float = 0.5
    """Largest centre distance between matched faces, as a share of the face's size (the larger
    side of the larger box): people who stay in view move well under half a face between frames
    at video rates, while two faces side by side are at least a face apart."""
    max_missing_s: float = 1.0
    """A track whose face is not found for this long ends (detection misses last a few frames;
    a person who left and came back gets a new index)."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.max_step) and self.max_step > 0.0):
            raise ValueError(f"max_step must be positive, got {self.max_step}")
        if not (math.isfinite(self.max_missing_s) and self.max_missing_s >= 0.0):
            raise ValueError(f"max_missing_s must be >= 0, got {self.max_missing_s}")


@dataclass
class _Track:
    box_px: BoxPx
    last_seen_s: float


@dataclass(frozen=True)
class Assignment:
    """One frame's matching."""

    indices: tuple[int, ...]
    """The face index of each box, in the order the boxes were given."""
    missing: tuple[int, ...]
    """Tracks still alive whose face was not found in this frame."""
    ended: tuple[int, ...]
    """Tracks that ended with this frame (not found for `max_missing_s`)."""


class FaceTracker:
    """Face indices by position for one recording; see the module doc."""

    def __init__(self, options: TrackerOptions | None = None) -> None:
        self.options = options or TrackerOptions()
        self._tracks: dict[int, _Track] = {}
        self._next_index = 0

    @property
    def active(self) -> tuple[int, ...]:
        return tuple(sorted(self._tracks))

    def assign(self, boxes_px: Sequence[BoxPx], t_s: float) -> Assignment:
        """Matches one frame's face boxes to the tracks, at time `t_s` (seconds)."""
        gate = self.options.max_step
        pairs: list[tuple[float, int, int]] = []
        for index, track in self._tracks.items():
            for box, box_px in enumerate(boxes_px):
                distance = _centre_distance(track.box_px, box_px)
                if distance <= gate * max(_size(track.box_px), _size(box_px)):
                    pairs.append((distance, index, box))
        pairs.sort()
        indices: list[int | None] = [None] * len(boxes_px)
        taken: set[int] = set()
        for _, index, box in pairs:
            if index in taken or indices[box] is not None:
                continue
            indices[box] = index
            taken.add(index)
        for box in sorted((b for b in range(len(boxes_px)) if indices[b] is None),
                          key=lambda b: _centre(boxes_px[b])[0]):
            indices[box] = self._next_index
            self._next_index += 1
        assigned = [i for i in indices if i is not None]
        for box_px, index in zip(boxes_px, assigned, strict=True):
            self._tracks[index] = _Track(box_px, t_s)
        seen = set(assigned)
        ended = tuple(i for i, track in sorted(self._tracks.items())
                      if i not in seen and t_s - track.last_seen_s > self.options.max_missing_s)
        for index in ended:
            del self._tracks[index]
        missing = tuple(i for i in sorted(self._tracks) if i not in seen)
        return Assignment(tuple(assigned), missing, ended)

    def end_all(self) -> tuple[int, ...]:
        """Ends every track (the recording is over); their indices."""
        ended = self.active
        self._tracks.clear()
        return ended


def _centre(box: BoxPx) -> tuple[float, float]:
    return 0.5 * (box[0] + box[2]), 0.5 * (box[1] + box[3])


def _size(box: BoxPx) -> float:
    return max(box[2] - box[0], box[3] - box[1])


def _centre_distance(a: BoxPx, b: BoxPx) -> float:
    (ax, ay), (bx, by) = _centre(a), _centre(b)
    return math.hypot(ax - bx, ay - by)
