"""Coverage-guided fuzzing (atheris, libFuzzer) of what a frame goes through: decode, then the
whole pipeline (detector, mesh, irises, gaze, the result's JSON form), one image alone and on a
tracking stream.

Any exception other than `ImageDecodeError` is a crash: libFuzzer stops, prints the traceback
and writes the input to `-artifact_prefix`. The header parsing and the decoder chain
(`gazeserve.imaging`) are instrumented for coverage; the native decoders and the models run
uninstrumented, so they are exercised but not steered.

    python tests/fuzz/atheris_decode.py [libFuzzer flags] CORPUS_DIR [MORE_DIRS]
    make fuzz FUZZ_SECONDS=600      # the seeds are written to an empty corpus dir first

To replay a crash: `python tests/fuzz/atheris_decode.py crash-<sha1>`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

REPO = Path(__file__).resolve().parents[2]
MAX_PIXELS = 4_000_000
"""Below the service's default (25 MP): keeps one input under libFuzzer's per-input timeout."""

with atheris.instrument_imports(include=["gazeserve.imaging"]):
    from gazeserve.imaging.decode import decode
    from gazeserve.imaging.errors import ImageDecodeError

from gazeserve.pipeline import GazeEngine  # noqa: E402 (after the instrumented imports)
from gazeserve.streams import StreamState  # noqa: E402

ENGINE: GazeEngine | None = None
STREAM = StreamState("fuzz")


def write_seeds(corpus: Path) -> None:
    """The real-image seeds of `tests.fuzz.corpus`, when the corpus folder is empty."""
    if corpus.is_dir() and any(corpus.iterdir()):
        return
    sys.path.insert(0, str(REPO))
    from tests.fuzz.corpus import seeds

    corpus.mkdir(parents=True, exist_ok=True)
    for name, data in seeds().items():
        (corpus / name).write_bytes(data)


def one_input(data: bytes) -> None:
    try:
        image = decode(data, MAX_PIXELS)
    except ImageDecodeError:
        return
    assert ENGINE is not None
    rgb = image.rgb
    ENGINE.process(rgb, max_faces=2).to_dict()
    tracked = ENGINE.process(rgb, STREAM)
    tracked.to_dict()


def main() -> None:
    global ENGINE
    corpora = [Path(a) for a in sys.argv[1:] if not a.startswith("-")]
    if corpora and not corpora[0].is_file():
        write_seeds(corpora[0])
    ENGINE = GazeEngine.create()
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
