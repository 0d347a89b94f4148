"""MediaPipe 0.10.21 as a reference implementation, run in its own venv by subprocess.

Used to make golden landmarks and to compare against in tests and benchmarks; never imported by
the serving path. `facemesh_worker.py` runs inside that venv and must not import gazeserve.
"""

from gazeserve.reference.env import (
    MEDIAPIPE_VERSION,
    ReferenceEnvError,
    default_venv_dir,
    ensure_mediapipe_env,
)
from gazeserve.reference.facemesh import ReferenceRunError, run_reference_facemesh

__all__ = ["MEDIAPIPE_VERSION", "ReferenceEnvError", "ReferenceRunError", "default_venv_dir",
           "ensure_mediapipe_env", "run_reference_facemesh"]
