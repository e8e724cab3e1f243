"""The lab end to end in a real browser: Debian's chromium driven by Playwright (no browser download) against the
lab served on a free loopback port. Play moves the step counter and the canvas, the objective switches to WGAN,
a drawn point set becomes the data, a bad value shows its error, a layer switches off, the game is exported, and a
screenshot is saved."""

from __future__ import annotations

import contextlib
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


@contextlib.contextmanager
def open_page(url: str, width: int, height: int):
    """Chromium on the lab's page: yields the page and the list its script errors are collected in."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            yield page, errors
        finally:
            browser.close()


def test_lab_in_chromium(lab, tmp_path):
    url, session = lab
    with open_page(url, 1400, 1000) as (page, errors):
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


ORANGE_PIXELS = """(id) => {  // pixels of the first series' colour (#d95f02): a curve was drawn
  const c = document.getElementById(id);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let k = 0; k < d.length; k += 4) if (d[k] > 190 && d[k + 1] > 60 && d[k + 1] < 120 && d[k + 2] < 60) n++;
  return n;
}"""


def test_overview_slow_motion_hidden_controls_and_a_loaded_runs_charts_at_1280x720(lab, tmp_path):
    """At 1280 x 720: the plane and the charts fit with no scrolling; controls the objective never reads are
    hidden and the objective's recommended settings are one click away; each box of the model overview opens
    its details; slow motion walks one iteration with a caption per sub-step; a loaded run's charts have data."""
    from gankit.lab.session import LabSession

    url, session = lab
    old = LabSession(session.cfg, runs_dir=tmp_path / "runs")
    old.run(5)
    old.run(5)
    old.export(tmp_path / "runs" / "old")
    with open_page(url, 1280, 720) as (page, errors):
        page.wait_for_function("state.frame !== null && !state.redraw", timeout=TIMEOUT_MS)
        assert page.evaluate("document.documentElement.scrollHeight") <= 720
        for selector in ("#plane", "#chart-loss", "#chart-kl", "#overview"):
            box = page.locator(selector).bounding_box()
            assert box["y"] >= 0 and box["y"] + box["height"] <= 720 and box["x"] + box["width"] <= 1280, selector
        assert page.request.get(url + "favicon.ico").status == 200

        # controls the objective never reads are hidden; a switch shows its own and offers its preset
        assert page.is_visible("#d_steps") and page.is_visible("#g_steps")
        assert not any(page.is_visible(f"#{k}") for k in ("divergence", "g_form", "clip", "gp_lambda"))
        page.select_option("#objective", "wgan")
        page.wait_for_function("state.frame.settings.objective === 'wgan'", timeout=TIMEOUT_MS)
        assert page.is_visible("#clip") and not page.is_visible("#gp_lambda") and not page.is_visible("#divergence")
        page.wait_for_selector("#recommend", state="visible", timeout=TIMEOUT_MS)
        assert "rmsprop" in page.text_content("#recommend-text")
        page.click("#apply-recommended")
        page.wait_for_function("state.frame.settings.d_steps === 5", timeout=TIMEOUT_MS)
        assert session.cfg.opt_D.name == "rmsprop" and session.cfg.opt_D.lr == 5e-5
        page.wait_for_selector("#recommend", state="hidden", timeout=TIMEOUT_MS)
        page.select_option("#objective", "fgan")
        page.wait_for_function("state.frame.settings.objective === 'fgan'", timeout=TIMEOUT_MS)
        assert page.is_visible("#divergence") and page.is_visible("#g_form") and not page.is_visible("#clip")

        # the model overview: each box shows its details
        page.click(".box[data-box='G']")
        page.wait_for_selector("#box-details", state="visible", timeout=TIMEOUT_MS)
        assert "layer widths 2 → 128 → 128 → 128 → 2" in page.text_content("#box-details")
        page.click(".box[data-box='D']")
        assert "layer widths 2 → 128 → 128 → 128 → 1" in page.text_content("#box-details")
        assert "mean T(x)" in page.text_content("#box-details")
        page.click(".box[data-box='z']")
        assert "2-d normal, a batch of 64" in page.text_content("#box-details")
        page.click("#close-details")
        assert not page.is_visible("#box-details")

        # slow motion: five sub-steps, each with its caption; the updates are the game's own steps
        step = session.step
        captions = []
        for k in range(1, 6):
            page.click("#slowmo-next")
            page.wait_for_function(f"state.frame.slowmo && state.frame.slowmo.phase === {k - 1}",
                                   timeout=TIMEOUT_MS)
            caption = page.text_content("#slowmo-caption")
            assert caption.startswith(f"{k} of 5.") and caption not in captions
            captions.append(caption)
            assert page.is_visible("#before-figure") == (k == 4)  # D's heat map before its update
            assert page.text_content("#slowmo-steps li.now") == ["sample z", "G forward", "D on real and fake",
                                                                "D update", "G update"][k - 1]
        assert session.step == step + 1 and page.locator(".box.active").count() == 2
        page.click("#slowmo-stop")
        page.wait_for_selector("#slowmo-panel", state="hidden", timeout=TIMEOUT_MS)

        # a loaded run's charts show its history
        page.select_option("#runs", "old")
        page.click("#load")
        page.wait_for_function("state.frame.step === 10 && state.history.length >= 2", timeout=TIMEOUT_MS)
        page.wait_for_function("!state.redraw", timeout=TIMEOUT_MS)
        assert page.evaluate("state.history.map(r => r.step)") == [5, 10]
        assert page.evaluate(ORANGE_PIXELS, "chart-loss") > 20
        page.screenshot(path=str(tmp_path / "lab-720.png"))
        assert errors == []
