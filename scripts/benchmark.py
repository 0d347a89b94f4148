"""Load test of a running gazeserve, with the deployment guide's flags.

    python scripts/benchmark.py --requests 1000 --concurrent 10 [--url http://127.0.0.1:8000]

A thin alias of `gazeserve loadtest`: every other flag of that command passes through
(`--ws`, `--streams`, `--fps`, `--json`, `--plot`, `--against-mediapipe`, ...).
"""

from __future__ import annotations

import sys

from gazeserve.cli import app

if __name__ == "__main__":
    app(["loadtest", *sys.argv[1:]], prog_name="benchmark.py")
