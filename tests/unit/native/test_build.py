"""`python -m gazeserve.native.build`: idempotent, content-addressed, clear without a compiler."""

from __future__ import annotations

import pytest

from gazeserve.native import build
from gazeserve.native.build import Fault, NativeBuildError, Variant


def test_second_build_is_a_no_op(tmp_path) -> None:
    first = build.build(cache_dir=tmp_path)
    stamp = first.stat().st_mtime_ns
    assert build.build(cache_dir=tmp_path) == first
    assert first.stat().st_mtime_ns == stamp
    assert first.name.startswith(build.LIBRARY_STEM) and build.build_key() in first.name
    assert first.with_suffix(".json").is_file()  # compiler and flags it was built with


def test_new_build_replaces_only_stale_copies_of_its_own_variant(tmp_path) -> None:
    stale = tmp_path / f"{build.LIBRARY_STEM}-{'0' * 16}.so"
    other_variant = tmp_path / f"{build.LIBRARY_STEM}-address-{'0' * 16}.so"
    stale.write_bytes(b"old")
    other_variant.write_bytes(b"asan")
    build.build(cache_dir=tmp_path)
    assert not stale.exists()
    assert other_variant.exists()


def test_variants_get_their_own_files() -> None:
    plain = build.library_path()
    faulty = build.library_path(Variant(fault=Fault.SHIFTED_SAMPLES))
    assert plain != faulty and "shifted-samples" in faulty.name


def test_missing_compiler_is_named(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CC", "no-such-cc")
    with pytest.raises(NativeBuildError, match=r"no C compiler found .*no-such-cc.*gcc"):
        build.build(cache_dir=tmp_path)


def test_optional_build_reports_and_succeeds(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CC", "no-such-cc")
    monkeypatch.setenv(build.ENV_DIR, str(tmp_path))
    assert build.main(["--optional"]) == 0
    assert "warning: no C compiler found" in capsys.readouterr().err
    assert build.main([]) == 1
    assert "error: no C compiler found" in capsys.readouterr().err
