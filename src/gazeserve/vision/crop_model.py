"""A landmark model fed one square crop in [0, 1]: the face mesh and the iris model alike."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gazeserve.runtime.base import InferenceSession, Tensor
from gazeserve.vision.roi import ImageRGB, RotatedRect, crop_input


class CropModel:
    """Crops a rotated ROI to the model's input size, scales it to [0, 1] and runs the model.

    Input name and size are read from the model; outputs are returned ordered by element count,
    smallest first, which tells them apart without relying on tensor names.
    """

    def __init__(self, session: InferenceSession) -> None:
        self._session = session
        spec = session.inputs[0]
        self._input_name = spec.name
        self.input_size = spec.shape[1]
        self._output_names = [o.name for o in sorted(session.outputs,
                                                     key=lambda o: int(np.prod(o.shape)))]

    def infer(self, image: ImageRGB, roi: RotatedRect, flip_horizontally: bool = False
              ) -> list[Tensor]:
        inp = crop_input(image, roi, self.input_size, flip_horizontally)
        out = self._session.run({self._input_name: inp})
        return [out[name] for name in self._output_names]

    def infer_many(self, image: ImageRGB, crops: Sequence[tuple[RotatedRect, bool]]
                   ) -> list[list[Tensor]]:
        """`infer` for each (roi, flip_horizontally): one batched call where the session takes
        batches (both eyes of a face in one call), else one call each."""
        if not self._session.accepts_batches or len(crops) < 2:
            return [self.infer(image, roi, flip) for roi, flip in crops]
        inp = np.concatenate([crop_input(image, roi, self.input_size, flip)
                              for roi, flip in crops])
        out = self._session.run({self._input_name: inp})
        return [[out[name][i:i + 1] for name in self._output_names] for i in range(len(crops))]
