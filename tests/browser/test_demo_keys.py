"""The demo page against a server with API keys: it asks for a key, keeps it in the tab's
sessionStorage, sends it as the WebSocket's first message, and asks again for a wrong one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.test_demo_page import demo, wait_for_status
from tests.e2e.server import running_server

pytestmark = pytest.mark.slow

KEY = "browser-key-0123456789abcdef"


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log_path = tmp_path_factory.mktemp("keyed-demo") / "server.log"
    with running_server({"GAZE_API_KEYS": KEY}, log_path=log_path) as url:
        yield url
    assert KEY not in log_path.read_text(errors="replace")


@pytest.fixture
def page(camera_browser: BrowserContext) -> Iterator[Page]:
    page = camera_browser.new_page()
    yield page
    page.close()


def test_the_page_asks_for_a_key_and_then_runs(page: Page, keyed_server: str) -> None:
    page.goto(keyed_server)
    wait_for_status(page, "key_required")
    assert page.locator("#access").is_visible()
    page.fill("#api-key", KEY)
    page.click("#use-key")
    wait_for_status(page, "running")
    page.wait_for_function("() => window.gazeDemo.counters.results >= 20", timeout=20_000)
    state = demo(page)
    assert state["counters"]["faces"] >= 0.8 * state["counters"]["results"]
    assert page.evaluate("() => sessionStorage.getItem('gazeserve.apiKey')") == KEY
    assert page.evaluate("() => localStorage.length") == 0
    assert KEY not in page.url
    assert not page.locator("#access").is_visible()

    # Reloaded in the same tab: the stored key is used at once.
    page.reload()
    wait_for_status(page, "running")
    page.wait_for_function("() => window.gazeDemo.counters.results >= 5", timeout=20_000)


def test_a_wrong_key_is_asked_for_again(page: Page, keyed_server: str) -> None:
    page.goto(keyed_server)
    # Let the keyless first load ask for a key first: asking clears the stored key, and it may
    # come after `goto` returns, which would wipe the wrong key before the reload could use it.
    wait_for_status(page, "key_required")
    page.evaluate("() => sessionStorage.setItem('gazeserve.apiKey', 'wrong-key-0123456789')")
    page.reload()
    wait_for_status(page, "key_required")
    # The page may first say that a key is needed, then that this one was refused.
    expect(page.locator("#access-note")).to_contain_text("refused", timeout=15_000)
    page.wait_for_function("() => sessionStorage.getItem('gazeserve.apiKey') === null",
                           timeout=15_000)
