"""A fault-injecting OpenAI-compatible server: a proxy in front of llama.cpp's server that fails on cue.

Each request takes the next fault from a queue the test fills with ``plan``; with the queue empty (or the fault
``"ok"``) the request goes to the real upstream server unchanged. Faults are what remote providers do under load:
429 with Retry-After, 500, a reply that never comes (timeout), a body that is not JSON, a reply that stops halfway,
the real reply (its token usage included) with the model's answer replaced by JSON that fits no schema
(``off-schema``: the provider billed the call, the output is useless), and the errors retrying cannot fix (400, 401 echoing part of the key as OpenAI's does, 404 for an unknown model).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["FAULTS", "FaultServer"]

FAULTS = ("ok", "429", "500", "timeout", "malformed", "halfway", "off-schema", "400", "401", "404")

_STATUS = {
    "429": (429, "rate_limit_exceeded", "Rate limit reached for requests"),
    "500": (500, "server_error", "The server had an error while processing your request"),
    "400": (400, "invalid_request_error", "Invalid value for 'temperature': must be a number"),
    "404": (404, "model_not_found", "The model 'no-such-model' does not exist"),
}


class FaultServer:
    """``with FaultServer(upstream) as server:`` — ``server.url`` is a ``/v1`` base URL; ``server.plan(...)``
    queues faults; ``server.seen`` lists (path, fault) per request received."""

    def __init__(self, upstream: str | None = None, *, retry_after: str = "0", hang_s: float = 3.0) -> None:
        """``upstream``: the real server's /v1 base URL (e.g. the ``llama_server_url`` fixture); None answers "ok"
        with 502. ``hang_s``: how long a "timeout" fault keeps the client waiting before closing."""
        self.upstream = upstream.rstrip("/") if upstream else None
        self.retry_after = retry_after
        self.hang_s = hang_s
        self.seen: list[tuple[str, str]] = []
        self._faults: deque[str] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The OpenAI-compatible base URL (ends in /v1)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def plan(self, *faults: str) -> None:
        """Queue ``faults`` for the next requests, one each."""
        unknown = set(faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {', '.join(FAULTS)}")
        with self._lock:
            self._faults.extend(faults)

    def pending(self) -> int:
        """Faults planned and not yet served."""
        with self._lock:
            return len(self._faults)

    def _next(self, path: str) -> str:
        with self._lock:
            fault = self._faults.popleft() if self._faults else "ok"
            self.seen.append((path, fault))
            return fault

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
                 ) -> None:
        self._server.shutdown()
        self._server.server_close()


def _error_body(status: str, key: str) -> tuple[int, bytes]:
    if status == "401":
        shown = f"{key[:6]}***{key[-4:]}" if len(key) > 10 else "***"
        return 401, json.dumps({"error": {
            "message": f"Incorrect API key provided: {shown}. You can find your API key at the dashboard.",
            "type": "invalid_request_error", "code": "invalid_api_key",
        }}).encode()
    code, kind, message = _STATUS[status]
    return code, json.dumps({"error": {"message": message, "type": kind, "code": kind}}).encode()


def _off_schema(payload: bytes) -> bytes:
    """The reply with the model's answer (tool call arguments, else text) replaced by JSON that fits no schema."""
    reply = json.loads(payload)
    message = reply["choices"][0]["message"]
    for call in message.get("tool_calls") or []:
        call["function"]["arguments"] = '{"off_schema": true}'
    if not message.get("tool_calls"):
        message["content"] = '{"off_schema": true}'
    return json.dumps(reply).encode()


def _handler(server: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: pytest shows failures, not traffic
            pass

        def do_GET(self) -> None:
            self._serve(b"")

        def do_POST(self) -> None:
            self._serve(self.rfile.read(int(self.headers.get("Content-Length", "0"))))

        def _serve(self, body: bytes) -> None:
            fault = server._next(self.path)
            if fault in ("ok", "off-schema"):
                self._forward(body, off_schema=fault == "off-schema")
            elif fault == "timeout":
                time.sleep(server.hang_s)
                self.close_connection = True
            elif fault == "malformed":
                self._send(200, b'{"id": "chatcmpl-1", "choices": [{"message": {"content": "{\\"pro', close=False)
            elif fault == "halfway":
                payload = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "choices": []}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
            else:
                key = self.headers.get("Authorization", "").removeprefix("Bearer ")
                code, payload = _error_body(fault, key)
                headers = {"Retry-After": server.retry_after} if fault == "429" else {}
                self._send(code, payload, headers=headers)

        def _forward(self, body: bytes, *, off_schema: bool = False) -> None:
            if server.upstream is None:
                self._send(502, json.dumps({"error": {"message": "no upstream server", "type": "server_error"}})
                           .encode())
                return
            request = urllib.request.Request(
                server.upstream.removesuffix("/v1") + self.path, data=body or None, method=self.command,
                headers={"Content-Type": self.headers.get("Content-Type", "application/json")},
            )
            with urllib.request.urlopen(request, timeout=600) as reply:
                status, payload = reply.status, reply.read()
            if off_schema:
                payload = _off_schema(payload)
            self._send(status, payload)

        def _send(self, code: int, payload: bytes, *, headers: dict[str, str] | None = None, close: bool = False
                  ) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
            self.close_connection = close

    return Handler
