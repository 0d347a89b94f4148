"""INT8 models: ONNX Runtime static quantisation (QDQ, per-channel weights) on real crops, and
the parity bounds an INT8 model must meet to be used.

MinMax calibration: on these models it matched Percentile and Entropy calibration in accuracy
(landmarks 0.43 / 0.45 / 0.43 px mean on held-back crops) and ran 7-12x faster.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gazeserve.models.manifest import Parity
from gazeserve.models.registry import ModelName


@dataclass(frozen=True)
class ParityBound:
    """The most an INT8 model may differ from the LiteRT float model on held-back crops.

    In the model's input pixels. The end-to-end aim is landmarks within 2% of the inter-ocular
    distance (IOD) of the float pipeline: in the 192 px face crop the IOD is about 60 px, so a
    1 px mean error is about 1.7% IOD; in the 64 px eye crop (2.3x the eye's width) the IOD is
    about 75 px, so 0.5 px is about 0.7% IOD, leaving room for the mesh's own error.
    """

    mean_px: float
    max_px: float
    max_score_error: float | None = None
    """Largest face score / presence probability difference (None: no score)."""

    def violations(self, parity: Parity) -> list[str]:
        found = []
        if parity.mean_px > self.mean_px:
            found.append(f"mean error {parity.mean_px:.3f} px > {self.mean_px} px")
        if parity.max_px > self.max_px:
            found.append(f"max error {parity.max_px:.3f} px > {self.max_px} px")
        if self.max_score_error is not None and parity.max_score_error is not None \
                and parity.max_score_error > self.max_score_error:
            found.append(f"score error {parity.max_score_error:.3f} > {self.max_score_error}")
        return found


INT8_BOUNDS: dict[ModelName, ParityBound] = {
    # Presence is thresholded at 0.5: a 0.1 shift can flip only crops already scored 0.4-0.6.
    ModelName.FACE_LANDMARK: ParityBound(mean_px=1.0, max_px=6.0, max_score_error=0.1),
    ModelName.IRIS_LANDMARK: ParityBound(mean_px=0.5, max_px=6.0),
    # A detector's boxes only seed the mesh ROI (which is 1.5x the box), but a missed or extra
    # face is an error the mesh cannot undo: scores are held tight.
    ModelName.FACE_DETECTOR_SHORT: ParityBound(mean_px=1.0, max_px=4.0, max_score_error=0.1),
    ModelName.FACE_DETECTOR_FULL: ParityBound(mean_px=1.5, max_px=6.0, max_score_error=0.1),
}

FLOAT_BOUND = ParityBound(mean_px=0.01, max_px=0.05, max_score_error=1e-4)
"""A float32 conversion must reproduce LiteRT to rounding (measured: <= 1.4e-4 on any output)."""


CALIBRATION_BATCH = 16
"""Inputs per calibration run (the models take any batch; MinMax ranges do not depend on it)."""


class _CalibrationReader:
    """ONNX Runtime's `CalibrationDataReader` protocol over an array of inputs, in batches."""

    def __init__(self, input_name: str, inputs: npt.NDArray[np.float32]) -> None:
        self._items = iter([{input_name: inputs[i:i + CALIBRATION_BATCH]}
                            for i in range(0, len(inputs), CALIBRATION_BATCH)])

    def get_next(self) -> dict[str, npt.NDArray[np.float32]] | None:
        return next(self._items, None)


class _DropPreprocessingHint(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing" not in record.getMessage()


@contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """The quantiser logs a generic pre-processing hint to the root logger on every call; our
    float models are already optimised, so the hint is noise."""
    root = logging.getLogger()
    hint = _DropPreprocessingHint()
    root.addFilter(hint)
    try:
        yield
    finally:
        root.removeFilter(hint)


def quantize_int8(float_model: Path, dest: Path, calibration: npt.NDArray[np.float32]) -> None:
    """Static INT8 quantisation of `float_model` (QDQ, per-channel int8 weights, int8
    activations, MinMax ranges from `calibration`, N x H x W x 3 as the model takes them)."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    if not len(calibration):
        raise ValueError("need at least one calibration input")
    input_name = onnx.load(float_model, load_external_data=False).graph.input[0].name
    with _quiet_quantizer():
        quantize_static(str(float_model), str(dest), _CalibrationReader(input_name, calibration),
                        quant_format=QuantFormat.QDQ, per_channel=True,
                        weight_type=QuantType.QInt8, activation_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
