"""A real server on loopback for the request-level fuzz tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.hardening import ServerProcess, server_process


@pytest.fixture(scope="session")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log_path = tmp_path_factory.mktemp("fuzz-server") / "server.log"
    with server_process({"MAX_QUEUE_SIZE": "64", "MAX_FRAME_AGE_MS": "5000"},
                        log_path=log_path) as server:
        yield server
    assert "Traceback" not in log_path.read_text(errors="replace"), \
        "the server logged an unexpected error"
