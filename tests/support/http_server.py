"""A small HTTP server on a free local port, in a daemon thread, for the partners the tests
play (token issuers, identity providers, documents, app callbacks), and a request handler
that answers with a body in one call and writes no access log."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    """A handler that answers with `send_body` or `send_json` and logs nothing."""

    def send_body(self, status: int, kind: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_json(self, document: Any, status: int = 200) -> None:
        self.send_body(status, "application/json", json.dumps(document).encode())

    def log_message(self, *args: Any) -> None:
        pass


class LocalServer:
    """`handler` served at `url` (http://127.0.0.1:<port>) until `close()`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
