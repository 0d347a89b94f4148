"""The container's health check: exit 0 when gazeserve answers /readyz with 200, else 1.

Readiness, not liveness: a container is healthy once its models are loaded and warm and its
inference workers run. Uses only the standard library (no curl in the slim image).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_S = 3.0


def main() -> int:
    port = os.environ.get("GAZE_PORT", "8000")
    url = f"http://127.0.0.1:{port}/readyz"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError) as exc:
        print(f"not ready: {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
