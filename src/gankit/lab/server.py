"""The lab's web server: FastAPI serves the page from the package (no CDN) and one WebSocket per tab.

All tabs watch and steer the same `LabSession`: a background task trains it in slices (while it plays, or runs the
iterations a "step" asked for) and broadcasts a frame after each to every open tab; each tab's messages get a reply
(ok or an error with the reason) and a fresh frame. Training runs in a worker thread so the event loop stays free,
one network step per hold of the session's lock, so no message waits behind a long step message; it pauses while no
tab is open. Binds 127.0.0.1 unless told.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import webbrowser
from pathlib import Path

import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from gankit.errors import GankitError
from gankit.lab.messages import MAX_MESSAGE_CHARS
from gankit.lab.session import LabSession

STATIC = Path(__file__).with_name("static")
FRAME_INTERVAL = 0.05  # seconds: at most 20 frames a second while playing
WORK_SLICE = 0.25  # seconds of training between two frames (in steps of one network, see LabSession.work)
SEND_TIMEOUT = 5.0  # seconds: a tab that cannot take a frame this long is dropped
log = logging.getLogger("gankit.lab")


class Hub:
    """The open tabs and the loop that steps the session and broadcasts its frames."""

    def __init__(self, session: LabSession):
        self.session = session
        self.clients: set[WebSocket] = set()
        self.dirty = False  # a message changed something: send a frame even while paused
        self.wake = asyncio.Event()

    async def broadcast(self, text: str) -> None:
        async def send(ws: WebSocket) -> None:
            try:
                await asyncio.wait_for(ws.send_text(text), SEND_TIMEOUT)
            except Exception:  # closed or stuck: forget the tab, never the loop
                self.clients.discard(ws)

        await asyncio.gather(*(send(ws) for ws in list(self.clients)))

    async def run(self) -> None:
        """Step while playing and someone watches; otherwise wait for a message or a tab."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                text, dirty, self.dirty = None, self.dirty, False
                if self.clients and self.session.busy():
                    text = await asyncio.to_thread(self.session.tick, WORK_SLICE)
                if text is None and self.clients and dirty:
                    text = await asyncio.to_thread(self.session.frame_json)
            except Exception as e:  # a bug or a diverged game: stop playing, tell the tabs, keep serving
                log.exception("lab frame failed")
                self.session.running = False
                text = json.dumps({"type": "error", "reason": f"training stopped: {type(e).__name__}: {e}"})
            if text is not None:
                await self.broadcast(text)
            if self.clients and self.session.busy():
                await asyncio.sleep(max(0.0, FRAME_INTERVAL - (loop.time() - started)))
            else:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), 1.0)
                self.wake.clear()

    async def serve_tab(self, ws: WebSocket) -> None:
        """One tab: the hello payload, then a reply to each message until it closes."""
        await ws.accept()
        self.clients.add(ws)
        self.wake.set()
        try:
            await ws.send_text(json.dumps(await asyncio.to_thread(self.session.hello), allow_nan=False))
            while True:
                event = await ws.receive()
                if event["type"] == "websocket.disconnect":
                    break
                text = event.get("text")
                if text is None:
                    reply = {"type": "error", "reason": "send JSON text messages, not binary"}
                elif len(text) > MAX_MESSAGE_CHARS:
                    reply = {"type": "error", "reason": f"message too long (at most {MAX_MESSAGE_CHARS} characters)"}
                else:
                    try:
                        reply = await asyncio.to_thread(self.session.handle, text)
                    except Exception as e:  # a bug: report it to the tab, keep serving
                        log.exception("lab message failed")
                        reply = {"type": "error", "reason": f"internal error: {type(e).__name__}: {e}"}
                await ws.send_text(json.dumps(reply, allow_nan=False))
                self.dirty = True
                self.wake.set()
        except WebSocketDisconnect:
            pass
        finally:
            self.clients.discard(ws)


def create_app(session: LabSession | None = None, *, runs_dir: str | Path = "runs") -> FastAPI:
    """The FastAPI app: GET / (the page), /favicon.ico, /static/* (its script and style), /ws (the WebSocket)."""
    hub = Hub(session or LabSession(runs_dir=runs_dir))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        task = asyncio.create_task(hub.run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app = FastAPI(title="gankit lab", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.hub = hub

    @app.get("/")
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    @app.get("/favicon.ico")
    async def favicon() -> FileResponse:
        return FileResponse(STATIC / "favicon.ico", media_type="image/x-icon")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.websocket("/ws")
    async def websocket(ws: WebSocket) -> None:
        await hub.serve_tab(ws)

    return app


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port (port 0: a free one); a taken port is a GankitError."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise GankitError(f"--host {host!r} is not an address of this machine: {e}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        raise GankitError(f"cannot listen on {host}:{port} ({e.strerror}); choose another --port") from None
    sock.listen(64)
    sock.setblocking(False)
    return sock


def make_server(session: LabSession | None = None, *, host: str = "127.0.0.1", port: int = 8765,
                runs_dir: str | Path = "runs") -> tuple[uvicorn.Server, socket.socket, str]:
    """A uvicorn server for the lab, its bound socket and its URL; run it with server.run(sockets=[sock])."""
    sock = bind(host, port)
    app = create_app(session, runs_dir=runs_dir)
    config = uvicorn.Config(app, log_level="warning", ws_max_size=4 * MAX_MESSAGE_CHARS, lifespan="on")
    bound = sock.getsockname()
    url_host = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    return uvicorn.Server(config), sock, f"http://{url_host}:{bound[1]}/"


def serve(*, host: str = "127.0.0.1", port: int = 8765, open_browser: bool = True, runs_dir: str | Path = "runs",
          threads: int = 1) -> None:
    """Start the lab and block until Ctrl-C; opens the page in the default browser unless told not to."""
    import torch

    torch.set_num_threads(max(1, threads))
    server, sock, url = make_server(host=host, port=port, runs_dir=runs_dir)
    print(f"gankit lab: {url}  (Ctrl-C to stop; exports go to {Path(runs_dir).resolve()})", flush=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print("gankit lab: warning: the lab has no login; anyone who can reach this address can steer it and "
              "write runs", flush=True)
    if open_browser:
        def open_when_up() -> None:
            for _ in range(200):  # up to 10 s
                if server.started:
                    webbrowser.open(url)
                    return
                threading.Event().wait(0.05)

        threading.Thread(target=open_when_up, daemon=True).start()
    server.run(sockets=[sock])
