"""What one large unauthenticated body costs the token service in memory.

Starts a real `token-service serve`, sends one `POST /` of `--megabytes` MB (Content-Length
declared, the body streamed from a small buffer so the client stays small), and reports the
server's resident memory before and its peak (VmHWM) after, with the status it answered.
`--source` runs another checkout of the service (e.g. an older commit exported with
`git archive`), to compare.

    .venv/bin/python bench/token_service_body_rss.py [--megabytes 400] [--source DIR]
"""

from __future__ import annotations

import argparse
import base64
import os
import select
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
CHUNK = b" " * (1 << 20)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of the process, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


def send_large_body(port: int, megabytes: int) -> str:
    """The status line the server answered, or how the connection ended."""
    head = (
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "X-Amz-Target: AWSCognitoIdentityProviderService.InitiateAuth\r\n"
        "Content-Type: application/x-amz-json-1.1\r\n"
        f"Content-Length: {megabytes << 20}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(head.encode())
        # A server that refuses on the declared length answers before any body byte is sent.
        if select.select([sock], [], [], 1.0)[0]:
            return sock.recv(65536).split(b"\r\n", 1)[0].decode("latin-1") + " (no body sent)"
        try:
            for _ in range(megabytes):
                sock.sendall(CHUNK)
        except OSError as error:
            return f"connection closed by the server while sending ({error.strerror})"
        answer = sock.recv(65536)
    return answer.split(b"\r\n", 1)[0].decode("latin-1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=400)
    parser.add_argument("--source", type=Path, default=REPO)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(args.source),
            "TOKEN_SERVICE_DATABASE_URL": f"sqlite:///{tmp}/ts.db",
            "TOKEN_SERVICE_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "token_service.cli", "serve", "--port", str(port)],
            cwd=args.source,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}/"
            for _ in range(600):
                try:
                    httpx.get(url + "health", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            before = memory_mb(server.pid)
            started = time.monotonic()
            answer = send_large_body(port, args.megabytes)
            seconds = time.monotonic() - started
            after = memory_mb(server.pid)
        finally:
            server.terminate()
            server.wait(10)
    print(f"source: {args.source}")
    print(f"body: {args.megabytes} MB, answer: {answer} in {seconds:.1f} s")
    print(f"RSS before: {before['VmRSS']:.0f} MB; peak after: {after['VmHWM']:.0f} MB")


if __name__ == "__main__":
    main()
