"""Builds the attention mesh's custom-op delegate (C) with the machine's C compiler.

`python -m gazeserve.native.build` (run by `make setup`) compiles the sources next to this file
into one shared library under the user's cache, `~/.cache/gazeserve/native/` (XDG_CACHE_HOME and
`GAZE_NATIVE_DIR` honoured). The file name carries a hash of the sources and flags, so the build
is idempotent (nothing to do when the sources did not change), a changed source gets a new file,
and the runtime never loads a library built from other sources than the ones installed.

Variants: `--sanitize address` builds an AddressSanitizer + UBSan copy for the memcheck CI step;
`--fault NAME` builds a deliberately broken copy that tests use to prove the self-check refuses it.
"""

from __future__ import annotations

import argparse
import enum
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gazeserve.models.registry import default_cache_dir

SOURCE_DIR = Path(__file__).resolve().parent
HEADERS = ("tflite_abi.h", "mediapipe_ops.h")
C_SOURCES = ("mediapipe_ops.c", "options.c", "delegate.c")
LIBRARY_STEM = "libgazeserve_mpops"
ENV_DIR = "GAZE_NATIVE_DIR"

BASE_FLAGS = (
    "-std=c11", "-O2", "-fPIC", "-shared", "-fvisibility=hidden",
    # MediaPipe's kernels are compiled without FMA contraction; keep the same rounding.
    "-ffp-contract=off",
    "-Wall", "-Wextra",
)
LIBS = ("-lm",)
_COMPILERS = ("cc", "gcc", "clang")


class NativeBuildError(RuntimeError):
    """The delegate library could not be built (no compiler, or the compiler failed)."""


class Sanitizer(enum.StrEnum):
    NONE = "none"
    ADDRESS = "address"


class Fault(enum.StrEnum):
    """Deliberate defects for tests of the self-check (never built by `make setup`)."""

    NONE = "none"
    SHIFTED_SAMPLES = "shifted-samples"
    """The bilinear op samples 0.75 px off: loads, runs, and is numerically wrong."""
    TENSOR_LAYOUT = "tensor-layout"
    """Our TfLiteTensor gains a field: the header disagrees with the runtime."""


_FAULT_DEFINES = {
    Fault.NONE: (),
    Fault.SHIFTED_SAMPLES: ("-DGZ_FAULT_SHIFTED_SAMPLES",),
    Fault.TENSOR_LAYOUT: ("-DGZ_FAULT_TENSOR_LAYOUT",),
}
_SANITIZER_FLAGS = {
    Sanitizer.NONE: (),
    Sanitizer.ADDRESS: ("-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                        "-fno-omit-frame-pointer", "-g"),
}


@dataclass(frozen=True)
class Variant:
    """Which flavour of the library to build or look up."""

    sanitizer: Sanitizer = Sanitizer.NONE
    fault: Fault = Fault.NONE

    @property
    def flags(self) -> tuple[str, ...]:
        return (*BASE_FLAGS, *_SANITIZER_FLAGS[self.sanitizer], *_FAULT_DEFINES[self.fault])

    @property
    def suffix(self) -> str:
        parts = [p for p in (self.sanitizer, self.fault) if p != "none"]
        return "".join(f"-{p}" for p in parts)


DEFAULT = Variant()


def native_cache_dir() -> Path:
    """`GAZE_NATIVE_DIR` when set, else `native/` under the user's gazeserve cache."""
    env = os.environ.get(ENV_DIR)
    return Path(env).expanduser() if env else default_cache_dir() / "native"


def build_key(variant: Variant = DEFAULT) -> str:
    """Hash of the sources and flags the library for `variant` is built from."""
    digest = hashlib.sha256()
    for name in (*HEADERS, *C_SOURCES):
        digest.update(name.encode())
        digest.update((SOURCE_DIR / name).read_bytes())
    digest.update("\0".join((*variant.flags, *LIBS)).encode())
    return digest.hexdigest()[:16]


def library_path(variant: Variant = DEFAULT, cache_dir: Path | None = None) -> Path:
    """Where the library built from the installed sources lives (whether built yet or not)."""
    directory = cache_dir or native_cache_dir()
    return directory / f"{LIBRARY_STEM}{variant.suffix}-{build_key(variant)}.so"


def find_compiler() -> str:
    """`$CC` when set, else the first of cc, gcc, clang on PATH."""
    candidates = [os.environ["CC"]] if os.environ.get("CC") else list(_COMPILERS)
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    raise NativeBuildError(
        f"no C compiler found (looked for {', '.join(candidates)}); the attention mesh's "
        "delegate needs one: install gcc (Debian/Ubuntu: `apt-get install gcc`) or set CC, "
        "then run `python -m gazeserve.native.build` again. Without it gazeserve uses the "
        "split face mesh + iris pipeline."
    )


def build(variant: Variant = DEFAULT, cache_dir: Path | None = None,
          force: bool = False) -> Path:
    """Builds the library for `variant` unless it is already there; returns its path.

    Raises:
        NativeBuildError: no compiler, or it failed (its message is included).
    """
    target = library_path(variant, cache_dir)
    if target.is_file() and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _lock(target.parent / ".build.lock"):
        if target.is_file() and not force:  # another process built it while we waited
            return target
        compiler = find_compiler()
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
        os.close(fd)
        try:
            cmd = [compiler, *variant.flags, "-I", str(SOURCE_DIR), "-o", tmp,
                   *(str(SOURCE_DIR / s) for s in C_SOURCES), *LIBS]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                                  env=_compiler_env())
            if proc.returncode != 0:
                raise NativeBuildError(
                    f"{Path(compiler).name} failed to build the attention delegate "
                    f"(exit {proc.returncode}):\n{proc.stderr.strip()}")
            os.chmod(tmp, 0o755)
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
        _write_manifest(target, compiler, variant)
        _remove_stale(target, variant)
    return target


def _write_manifest(target: Path, compiler: str, variant: Variant) -> None:
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True,
                             check=False, env=_compiler_env()).stdout.splitlines()
    manifest = {"compiler": compiler, "compiler_version": version[0] if version else "",
                "flags": list(variant.flags), "sources": list(C_SOURCES)}
    target.with_suffix(".json").write_text(json.dumps(manifest, indent=1) + "\n")


def _compiler_env() -> dict[str, str]:
    """The environment without a preloaded sanitizer runtime (the memcheck step preloads
    libasan into Python; the compiler must not run under it)."""
    return {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS",
                                                              "LSAN_OPTIONS", "UBSAN_OPTIONS")}


def _remove_stale(target: Path, variant: Variant) -> None:
    """Deletes libraries of the same variant built from older sources."""
    same_variant = re.compile(rf"{re.escape(LIBRARY_STEM + variant.suffix)}-[0-9a-f]{{16}}\.so")
    for old in target.parent.glob(f"{LIBRARY_STEM}{variant.suffix}-*.so"):
        if old != target and same_variant.fullmatch(old.name):
            old.unlink(missing_ok=True)
            old.with_suffix(".json").unlink(missing_ok=True)


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gazeserve.native.build",
                                     description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sanitize", choices=[s.value for s in Sanitizer], default="none")
    parser.add_argument("--fault", choices=[f.value for f in Fault], default="none",
                        help="build a deliberately broken copy (tests only)")
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    parser.add_argument("--optional", action="store_true",
                        help="report a failed build as a warning and exit 0 (gazeserve then "
                             "uses the split pipeline)")
    parser.add_argument("--print-path", action="store_true",
                        help="print the library's path and nothing else")
    args = parser.parse_args(argv)
    variant = Variant(Sanitizer(args.sanitize), Fault(args.fault))
    try:
        path = build(variant, force=args.force)
    except NativeBuildError as exc:
        print(f"{'warning' if args.optional else 'error'}: {exc}", file=sys.stderr)
        return 0 if args.optional else 1
    print(path if args.print_path else f"attention delegate: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
