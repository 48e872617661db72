"""A real HTTP server (a thread on a free loopback port) standing in for a
provider: each test gives it a function that answers a request as the
provider would, checking what the provider checks."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tessera.plugins.channels import wechat


@dataclass
class ProviderRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Answer = tuple[int, Any]  # status, and a JSON-able body or raw bytes


@dataclass
class ProviderServer:
    url: str = ""
    requests: list[ProviderRequest] = field(default_factory=list)
    answer: Callable[[ProviderRequest], Answer] = lambda request: (200, {})
    # Set at teardown: a handler told to hang (a timeout test) returns then.
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hang(self) -> Answer:
        self.release.wait(30)
        return 200, {}

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]


@pytest.fixture
def provider() -> Iterator[ProviderServer]:
    state = ProviderServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            parts = urlsplit(self.path)
            request = ProviderRequest(
                self.command,
                parts.path,
                {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
                {k.lower(): v for k, v in self.headers.items()},
                body,
            )
            with state.lock:
                state.requests.append(request)
            status, payload = state.answer(request)
            raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json; charset=utf-8")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            except OSError:
                pass  # the client gave up (a timeout test)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(autouse=True)
def _fresh_wechat_tokens() -> Iterator[None]:
    # Each test's server is a new WeChat: tokens cached for another are void.
    wechat.forget_tokens()
    yield
    wechat.forget_tokens()
