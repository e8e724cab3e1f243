"""The lab's server: the page and its files are served from the package, each tab gets a hello, a reply per
message (an error with the reason for a bad one, never a crash) and the frames; several tabs share one game and
a closed tab is forgotten while the others play on. Plus `gankit lab`'s one-line errors."""

from __future__ import annotations

import socket
import time

import pytest

pytest.importorskip("fastapi", reason="the lab extra is not installed: pip install 'gankit[lab]'")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx (in the dev extra)")

from fastapi.testclient import TestClient  # noqa: E402

from gankit.cli import main  # noqa: E402
from gankit.lab.server import create_app  # noqa: E402
from gankit.lab.session import LabSession, default_config  # noqa: E402


def small_session(tmp_path) -> LabSession:
    cfg = default_config()
    cfg.train.batch_size = 32
    cfg.model.g_hidden, cfg.model.d_hidden = [16], [16]
    return LabSession(cfg, runs_dir=tmp_path / "runs")


def next_of(ws, kinds: set[str], limit: int = 50) -> dict:
    """The next message of one of `kinds`, skipping frames and others (at most `limit` messages)."""
    for _ in range(limit):
        msg = ws.receive_json()
        if msg["type"] in kinds:
            return msg
    raise AssertionError(f"no {kinds} message among {limit}")


def wait_until(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_page_and_static_files_are_served(tmp_path):
    with TestClient(create_app(small_session(tmp_path))) as client:
        page = client.get("/")
        assert page.status_code == 200 and '<canvas id="plane"' in page.text
        texts = [page.text]
        for name in ("lab.js", "draw.js", "lab.css"):
            reply = client.get(f"/static/{name}")
            assert reply.status_code == 200
            texts.append(reply.text)
        assert not any(("http://" in t or "https://" in t) for t in texts)  # nothing fetched from elsewhere
        assert client.get("/static/../session.py").status_code == 404


def test_a_tab_gets_hello_replies_and_frames(tmp_path):
    session = small_session(tmp_path)
    with TestClient(create_app(session)) as client, client.websocket_connect("/ws") as ws:
        hello = ws.receive_json()
        assert hello["type"] == "hello" and hello["frame"]["step"] == 0 and "wgan" in hello["fields"]["objective"][
            "choices"]
        ws.send_text("{not json")
        assert "not JSON" in next_of(ws, {"error", "ok"})["reason"]
        ws.send_bytes(b"\x00\x01")
        assert "not binary" in next_of(ws, {"error", "ok"})["reason"]
        ws.send_json({"type": "settings", "settings": {"g_lr": -1}})
        assert "g_lr" in next_of(ws, {"error", "ok"})["reason"]
        ws.send_json({"type": "step", "which": "both", "n": 2})
        assert next_of(ws, {"error", "ok"}) == {"type": "ok", "for": "step"}
        frame = next_of(ws, {"frame"})
        while frame["step"] < 2:
            frame = next_of(ws, {"frame"})
        assert frame["step"] == 2 and len(frame["fake"]) == len(frame["real"])
        assert session.step == 2  # the server is still up after the bad messages


def test_tabs_share_one_game_and_a_closed_tab_is_forgotten(tmp_path):
    session = small_session(tmp_path)
    app = create_app(session)
    hub = app.state.hub
    with TestClient(app) as client, client.websocket_connect("/ws") as second:
        assert second.receive_json()["type"] == "hello"
        with client.websocket_connect("/ws") as first:
            assert first.receive_json()["type"] == "hello"
            first.send_json({"type": "play"})
            assert next_of(first, {"ok", "error"}) == {"type": "ok", "for": "play"}
            seen = next_of(second, {"frame"})["step"]
            while seen < 3:  # the other tab watches the game the first one started
                seen = next_of(second, {"frame"})["step"]
        wait_until(lambda: len(hub.clients) == 1)
        later = next_of(second, {"frame"})["step"]
        while later <= seen:  # still playing for the remaining tab
            later = next_of(second, {"frame"})["step"]
        second.send_json({"type": "pause"})
        assert next_of(second, {"ok", "error"}) == {"type": "ok", "for": "pause"}
        assert not session.running


def test_cli_lab_errors_are_one_line(capsys):
    assert main(["lab", "--port", "70000", "--no-browser"]) == 2
    assert "gankit: error: --port must be from 0 to 65535" in capsys.readouterr().err
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        assert main(["lab", "--port", str(taken.getsockname()[1]), "--no-browser"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("gankit: error: cannot listen on 127.0.0.1:") and err.count("\n") == 1
    finally:
        taken.close()


def test_the_favicon_is_served_from_the_package(tmp_path):
    with TestClient(create_app(small_session(tmp_path))) as client:
        reply = client.get("/favicon.ico")
        assert reply.status_code == 200 and reply.headers["content-type"] == "image/x-icon"
        assert reply.content[:4] == b"\x00\x00\x01\x00" and 100 < len(reply.content) < 10_000  # an ICO header
        assert 'rel="icon" href="/favicon.ico"' in client.get("/").text


def test_deeply_nested_json_gets_an_error_reply_and_the_tab_carries_on(tmp_path):
    session = small_session(tmp_path)
    with TestClient(create_app(session)) as client, client.websocket_connect("/ws") as ws:
        assert ws.receive_json()["type"] == "hello"
        ws.send_text("[" * 100_000)
        assert "nested too deeply" in next_of(ws, {"error", "ok"})["reason"]
        ws.send_text('{"type": "slowmo", "action": "next"}')
        assert next_of(ws, {"error", "ok"}) == {"type": "ok", "for": "slowmo", "slowmo": 0}
        frame = next_of(ws, {"frame"})
        while frame["slowmo"] is None:  # a frame sent for the earlier message may come first
            frame = next_of(ws, {"frame"})
        assert frame["slowmo"]["name"] == "sample_z" and frame["model"]["G"]["widths"] == [2, 16, 2]


def test_a_tab_asking_hello_after_a_load_gets_the_runs_history(tmp_path):
    session = small_session(tmp_path)
    session.run(3)
    session.export(tmp_path / "runs" / "old")
    with TestClient(create_app(small_session(tmp_path))) as client, client.websocket_connect("/ws") as ws:
        assert ws.receive_json()["history"] == []
        ws.send_json({"type": "load", "name": "old"})
        assert next_of(ws, {"error", "ok"})["for"] == "load"
        ws.send_json({"type": "hello"})
        hello = next_of(ws, {"hello"})
        assert [r["step"] for r in hello["history"]] == [3] and hello["frame"]["step"] == 3
