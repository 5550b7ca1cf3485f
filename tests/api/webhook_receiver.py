"""A real HTTP receiver for webhook tests: a stdlib server on a free loopback port, in a thread.

Each path has a script of status codes to answer with (the last one repeats) and optionally a reply
body (default "ok"; e.g. the JSON an SMS gateway answers) and reply headers (e.g. a redirect's
Location); every request is recorded with its headers, body and arrival time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from api.webhooks.targets import TargetPolicy

#: The receiver listens on 127.0.0.1, which the default target policy refuses (loopback): delivery
#: workers sending to it are given this allowance explicitly.
LOCAL_TARGETS = TargetPolicy(allow_private=True)


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    #: When it arrived (wall clock, seconds since the epoch).
    at: float = field(default_factory=time.time)


@dataclass
class Receiver:
    port: int
    scripts: dict[str, list[int]] = field(default_factory=dict)
    replies: dict[str, bytes] = field(default_factory=dict)
    reply_headers: dict[str, dict[str, str]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str) -> int:
        with self.lock:
            script = self.scripts.get(path, [200])
            return script.pop(0) if len(script) > 1 else script[0]

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout} s; received: {self.received}")
            time.sleep(0.05)


@contextmanager
def receiver() -> Iterator[Receiver]:
    holder: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            rec = holder[0]
            with rec.lock:
                rec.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
            status = rec.answer(self.path)
            reply = rec.replies.get(self.path, b"ok")
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            for name, value in rec.reply_headers.get(self.path, {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    holder.append(Receiver(port=server.server_address[1]))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
