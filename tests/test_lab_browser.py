"""The lab end to end in a real browser: Debian's chromium driven by Playwright (no browser download) against the
lab served on a free loopback port. Play moves the step counter and the canvas, the objective switches to WGAN,
a drawn point set becomes the data, a bad value shows its error, a layer switches off, the game is exported, and a
screenshot is saved."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at "
                                "/usr/bin/chromium (`make browser` or `apt-get install chromium` installs it)")

# As root in a container: no sandbox; no background networking (this machine reaches no internet).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
TIMEOUT_MS = 90_000  # generous: CI shares 2 cores with other tests


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.fixture
def lab(tmp_path):
    """(url, session) of a lab server running in a thread on a free port of 127.0.0.1."""
    from gankit.lab.server import make_server
    from gankit.lab.session import LabSession, default_config

    cfg = default_config()
    cfg.train.batch_size = 64
    session = LabSession(cfg, runs_dir=tmp_path / "runs")
    server, sock, url = make_server(session, host="127.0.0.1", port=0, runs_dir=tmp_path / "runs")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started)
    yield url, session
    server.should_exit = True
    thread.join(30)


def test_lab_in_chromium(lab, tmp_path):
    from playwright.sync_api import sync_playwright

    url, session = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            page.wait_for_function("document.getElementById('objective').options.length > 0", timeout=TIMEOUT_MS)
            page.wait_for_function("state.frame !== null && !state.redraw", timeout=TIMEOUT_MS)  # first frame drawn
            canvas = "document.getElementById('plane').toDataURL()"
            page.evaluate(f"window.before = {canvas}")

            page.click("#play")
            page.wait_for_function("Number(document.getElementById('step').textContent) >= 10", timeout=TIMEOUT_MS)
            assert session.running and session.step >= 10
            page.wait_for_function(f"{canvas} !== window.before", timeout=TIMEOUT_MS)  # the plane is redrawn

            page.select_option("#objective", "wgan")
            page.wait_for_function("state.frame.settings.objective === 'wgan'", timeout=TIMEOUT_MS)
            assert session.cfg.objective.name == "wgan"
            assert "W1 estimate" in page.text_content("#div-caption")

            page.select_option("#dataset", "points")  # draw mode: clicks and drags add points
            assert page.is_visible("#draw-tools")
            box = page.locator("#plane").bounding_box()
            for k in range(12):
                page.mouse.click(box["x"] + 120 + 25 * k, box["y"] + 200 + 8 * (k % 3))
            page.mouse.move(box["x"] + 150, box["y"] + 400)
            page.mouse.down()
            for k in range(1, 40):
                page.mouse.move(box["x"] + 150 + 8 * k, box["y"] + 400 - 4 * k)
            page.mouse.up()
            drawn = page.evaluate("state.drawn.length")
            assert drawn >= 40
            page.click("#use-points")
            page.wait_for_function("state.frame.settings.dataset === 'points' && state.frame.step >= 3",
                                   timeout=TIMEOUT_MS)
            assert session.cfg.data.name == "points" and len(session.points) == drawn
            assert session.cfg.objective.name == "wgan"  # a new data set keeps the chosen game

            page.fill("#g_lr", "5")
            page.press("#g_lr", "Tab")  # change event: the server refuses, the page shows why
            page.wait_for_function("document.getElementById('status').classList.contains('error')",
                                   timeout=TIMEOUT_MS)
            assert "g_lr must be a number from 1e-06 to 0.1" in page.text_content("#status")

            page.uncheck("[data-layer='heatmap']")  # a layer switched off is no longer computed
            page.wait_for_function("state.frame.heatmap === null", timeout=TIMEOUT_MS)
            assert session.layers["heatmap"] is False

            page.fill("#export-name", "from-page")
            page.click("#export")
            page.wait_for_function("document.getElementById('status').textContent.startsWith('exported to')",
                                   timeout=TIMEOUT_MS)
            assert (tmp_path / "runs" / "from-page" / "checkpoint.pt").is_file()
            page.wait_for_function("[...document.getElementById('runs').options].some(o => o.value === 'from-page')",
                                   timeout=TIMEOUT_MS)

            page.screenshot(path=str(tmp_path / "lab.png"), full_page=True)
            assert (tmp_path / "lab.png").stat().st_size > 10_000
            page.click("#play")  # pause
            page.wait_for_function("document.getElementById('play').textContent === 'Play'", timeout=TIMEOUT_MS)
            assert not session.running and errors == []
        finally:
            browser.close()
