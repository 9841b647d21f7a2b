"""Real HTTP servers on 127.0.0.1 for tests: one that must never be asked, one that drips bytes."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = b"root:x:0:0:root:/root:/bin/bash\n"


@contextmanager
def secret_server() -> Iterator[tuple[str, list[str]]]:
    """(base URL, paths asked) of a server holding a secret that no fetch may ever reach."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(SECRET)))
            self.end_headers()
            self.wfile.write(SECRET)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def dripping_server(head: bytes, body: bytes, interval_s: float = 1.0) -> Iterator[tuple[str, list[int]]]:
    """A server that sends ``head`` then ``body`` one byte every ``interval_s`` (bytes sent are counted).

    Whatever ``head`` is sent all at once except its last 20 bytes, which drip too, so a slow
    header is also covered when ``body`` is empty.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    sent = [0]
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                fast, slow = (head[:-20], head[-20:] + body) if not body else (head, body)
                try:
                    conn.sendall(fast)
                    for byte in slow:
                        if stop.is_set():
                            return
                        conn.sendall(bytes([byte]))
                        sent[0] += 1
                        time.sleep(interval_s)
                except OSError:
                    continue  # the client hung up: what the deadline is for

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", sent
    finally:
        stop.set()
        listener.close()
