"""``voicelab serve``: the streaming agent over WebSocket (``websockets``), many clients at once."""

from __future__ import annotations

import asyncio
import json
import signal
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from voicelab.live import PLAYER_JS
from voicelab.serve.models import ModelManager
from voicelab.serve.protocol import CLOSE_GOING_AWAY, CLOSE_TRY_AGAIN, MAX_FRAME_BYTES, ProtocolError, error_message
from voicelab.serve.session import ServerSession
from voicelab.store import ConversationStore

STATIC = Path(__file__).with_name("static")
PAGES = {"/": STATIC / "index.html", "/index.html": STATIC / "index.html", "/client.js": STATIC / "client.js",
         "/player.js": PLAYER_JS}
"""The web page's files by request path (the reply player is :mod:`voicelab.live`'s, shared with the notebook)."""
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8"}

MAX_SESSIONS = 8
"""Default concurrent sessions; one more client is answered with close code 1013."""

KEEP_FINISHED = 4
"""Finished sessions kept in :attr:`VoiceServer.finished` (with their traces and audio, for
inspection and tests); older ones are released. Unbounded, a long-running server grew by
~12 MB per session (``benchmarks/serve_memory.py``)."""


class VoiceServer:
    """Serves :class:`~voicelab.serve.session.ServerSession` per connection on one model set.

    ``GET /health`` answers ``200`` with JSON (sessions running, limit); ``GET /`` is a web
    page that speaks the protocol (microphone with echo cancellation, playback, transcript,
    reply, per-turn latencies); a WebSocket upgrade on any path opens a session.
    Frames over ``max_frame_bytes`` close the connection with
    code 1009 (``websockets``' ``max_size``); a client beyond ``max_sessions`` gets an
    ``error`` (``session_limit``) and close code 1013. :meth:`shutdown` closes every session.

    ``finished``: the last ``keep_finished`` closed sessions (their ``result``: trace and audio).
    ``store``: where sessions are persisted and resumed from (None: nothing is stored, and
    ``start`` with a ``session_id`` is answered ``unknown_session``). The server does not
    close it: its owner does, after :meth:`shutdown` (:meth:`run` does both).
    """

    def __init__(self, manager: ModelManager, max_sessions: int = MAX_SESSIONS,
                 max_frame_bytes: int = MAX_FRAME_BYTES, log: Callable[[str], None] = print,
                 store: ConversationStore | None = None, keep_finished: int = KEEP_FINISHED) -> None:
        self.manager = manager
        self.store = store
        self.max_sessions = max_sessions
        self.max_frame_bytes = max_frame_bytes
        self.sessions: set[ServerSession] = set()
        self.finished: deque[ServerSession] = deque(maxlen=keep_finished)
        self._connections: set[ServerConnection] = set()
        self._log = log
        self._server: Server | None = None

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        """Plain HTTP before any upgrade: ``/health``, and the web page (``/``, ``/client.js``, ``/player.js``)."""
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None  # a session
        if request.path == "/health":
            body = json.dumps({"status": "ok", "sessions": len(self.sessions), "max_sessions": self.max_sessions})
            return connection.respond(HTTPStatus.OK, body + "\n")
        page = PAGES.get(request.path)
        if page is None:
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        body = page.read_bytes()
        headers = Headers([("Content-Type", CONTENT_TYPES[page.suffix]), ("Content-Length", str(len(body))),
                           ("Cache-Control", "no-cache")])
        return Response(HTTPStatus.OK.value, HTTPStatus.OK.phrase, headers, body)

    async def _handle(self, ws: ServerConnection) -> None:
        if len(self.sessions) >= self.max_sessions:
            await ws.send(error_message(ProtocolError("session_limit", f"{self.max_sessions} sessions are running")))
            await ws.close(CLOSE_TRY_AGAIN, "session limit")
            return
        session = ServerSession(self.manager, ws.send, self.store, lookup=self._find, hangup=ws.close)
        self.sessions.add(session)
        self._connections.add(ws)
        try:
            async for frame in ws:
                if not await session.receive(frame):
                    break
        except ConnectionClosed:
            pass  # the client went away (or sent an oversized frame: 1009): the session closes
        finally:
            await session.close()
            self.sessions.discard(session)
            self._connections.discard(ws)
            self.finished.append(session)

    def _find(self, session_id: str) -> ServerSession | None:
        """The running session ``session_id`` (for an observer), or None."""
        return next((s for s in self.sessions if s.session_id == session_id and s.running), None)

    async def start(self, host: str = "127.0.0.1", port: int = 8765) -> int:
        """Listen on ``host:port`` (0 = any free port); return the port."""
        self._server = await serve(self._handle, host, port, max_size=self.max_frame_bytes,
                                   process_request=self._http)
        return self._server.sockets[0].getsockname()[1]

    async def shutdown(self) -> None:
        """Stop accepting, close every open session (each is finished and its client told)."""
        if self._server is None:
            return
        self._server.close(close_connections=False)
        for session in self.sessions:
            session.end_reason = "shutdown"
        await asyncio.gather(*(s.close() for s in list(self.sessions)), return_exceptions=True)
        # the clients still connected are told the server is going away (1001); a second
        # Server.close() would not do it: websockets runs the first close only
        await asyncio.gather(*(ws.close(CLOSE_GOING_AWAY, "server shutdown") for ws in list(self._connections)),
                             return_exceptions=True)
        await self._server.wait_closed()

    async def run(self, host: str = "127.0.0.1", port: int = 8765) -> None:
        """Serve until SIGINT or SIGTERM, then :meth:`shutdown` and close the store (every
        queued write lands)."""
        port = await self.start(host, port)
        stored = f"; storing sessions in {self.store.url}" if self.store is not None else ""
        self._log(f"serving on ws://{host}:{port} (health: http://{host}:{port}/health){stored}; Ctrl-C stops")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            self._log(f"shutting down: closing {len(self.sessions)} session(s)")
            await self.shutdown()
            if self.store is not None:
                await asyncio.to_thread(self.store.close)
                self._log(f"sessions stored in {self.store.url}")
