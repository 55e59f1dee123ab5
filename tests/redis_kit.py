"""A real `redis-server` for the tests: started on a free port, stopped (and restarted) at will.

Import the fixture into a test module (`from tests.redis_kit import redis_server`). `.ci/run`
installs Debian's redis-server; without it these tests fail saying so.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self, workdir: Path, *, persist: bool = False) -> None:
        """`persist`: an append-only file synced on every write, so a restart keeps the data."""
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.fail("redis-server is not installed (apt-get install -y redis-server)")
        self.exe = exe
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.persist = persist

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        aof = ["--appendonly", "yes", "--appendfsync", "always"] if self.persist else []
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir"]
        self.proc = subprocess.Popen(
            [self.exe, *args, str(self.workdir), *(aof or ["--appendonly", "no"])],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def fresh_url(self) -> str:
        """The URL of a database of its own (1..15, emptied first), for a test whose servers
        use the default key prefix: tests share the server, not their data."""
        self._db = getattr(self, "_db", 0) % 15 + 1
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(f"SELECT {self._db}\r\nFLUSHDB\r\n".encode())
            reply = b""
            while reply.count(b"\r\n") < 2:
                reply += s.recv(64)
        return f"redis://127.0.0.1:{self.port}/{self._db}"

    @staticmethod
    def prefix() -> str:
        """A key prefix of its own for each test: tests share the server, not their keys."""
        return f"t-{uuid.uuid4().hex[:12]}:"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
