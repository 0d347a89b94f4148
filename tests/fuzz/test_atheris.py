"""A short coverage-guided run of `atheris_decode.py` (decode -> pipeline) in CI; `make fuzz`
runs it for longer. The corpus and any crash go to a temporary folder."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

TARGET = Path(__file__).with_name("atheris_decode.py")
SECONDS = int(os.environ.get("GAZE_FUZZ_SECONDS", "40"))


@pytest.mark.slow
def test_coverage_guided_decode_and_pipeline(tmp_path: Path) -> None:
    crashes = tmp_path / "crashes"
    crashes.mkdir()
    proc = subprocess.run(
        [sys.executable, str(TARGET), f"-max_total_time={SECONDS}", "-timeout=10",
         "-rss_limit_mb=3072", "-max_len=65536", f"-artifact_prefix={crashes}/",
         "-print_final_stats=1", str(tmp_path / "corpus")],
        capture_output=True, text=True, timeout=SECONDS + 120, check=False)
    tail = "\n".join(proc.stderr.splitlines()[-40:])
    assert proc.returncode == 0, tail
    assert not any(crashes.iterdir()), tail
    runs = re.search(r"Done (\d+) runs", proc.stderr)
    assert runs and int(runs.group(1)) > 1000, tail
    print(f"atheris: {runs.group(1)} inputs in {SECONDS} s, corpus "
          f"{len(list((tmp_path / 'corpus').iterdir()))} files")
