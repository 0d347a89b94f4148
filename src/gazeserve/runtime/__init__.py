"""Runtimes behind one small interface: tensors in, tensors out.

Vision code never imports a runtime; it receives an `InferenceSession`.
"""

from gazeserve.runtime.base import InferenceSession, TensorSpec
from gazeserve.runtime.factory import RuntimeKind, open_session

__all__ = ["InferenceSession", "RuntimeKind", "TensorSpec", "open_session"]
