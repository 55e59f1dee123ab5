"""Hostile input to `parallizer lsp` over raw stdio: every malformed message gets a JSON-RPC
error, the server keeps serving, and `exit` leaves no process behind."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from ..clients.proc import PARALLIZER, clean_env
from ..conftest import children
from .kit import make_tree

pytestmark = pytest.mark.timeout(90)


def frame(body: bytes | str, length: int | None = None) -> bytes:
    raw = body.encode() if isinstance(body, str) else body
    return f"Content-Length: {len(raw) if length is None else length}\r\n\r\n".encode() + raw


def msg(**fields: Any) -> bytes:
    return frame(json.dumps({"jsonrpc": "2.0", **fields}))


class Raw:
    """The server as a process, and its messages as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.seen: list[dict[str, Any]] = []

    async def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        await self.proc.stdin.drain()

    async def _next(self) -> dict[str, Any]:
        out = self.proc.stdout
        assert out is not None
        length = 0
        while (line := await out.readline()).strip():
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return json.loads(await out.readexactly(length))

    async def wait(self, match: Any, within: float = 20.0) -> dict[str, Any]:
        for m in self.seen:
            if match(m):
                self.seen.remove(m)
                return m

        async def loop() -> dict[str, Any]:
            while True:
                m = await self._next()
                if match(m):
                    return m
                self.seen.append(m)

        return await asyncio.wait_for(loop(), within)

    async def ended(self, within: float = 20.0) -> int:
        """The exit code, once the process is gone and its pipes are closed."""
        code = await asyncio.wait_for(self.proc.wait(), within)
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        if self.proc.stdout is not None:
            await self.proc.stdout.read()
        return code

    async def request(self, ident: int, method: str, params: Any) -> dict[str, Any]:
        await self.send(msg(id=ident, method=method, params=params))
        return await self.wait(lambda m: m.get("id") == ident and "method" not in m)


async def start(roots: Path, **env: str) -> Raw:
    proc = await asyncio.create_subprocess_exec(
        PARALLIZER, "lsp",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL, env=clean_env(roots, **env),
        start_new_session=True,
    )  # fmt: skip
    return Raw(proc)


async def initialize(raw: Raw, folder: Path) -> None:
    reply = await raw.request(
        1, "initialize", {"processId": os.getpid(), "rootUri": folder.as_uri(), "capabilities": {}}
    )
    assert "capabilities" in reply["result"]
    await raw.send(msg(method="initialized", params={}))


def is_error(code: int) -> Any:
    return lambda m: "error" in m and m["error"]["code"] == code and "method" not in m


async def test_malformed_messages_get_errors_and_the_server_keeps_serving(tmp_path: Path):
    repo = make_tree(tmp_path / "repo")
    raw = await start(tmp_path)
    try:
        await initialize(raw, repo)
        await raw.send(frame("{this is not json"))
        bad = await raw.wait(is_error(-32700))
        assert bad["id"] is None and "not JSON" in bad["error"]["message"]

        # a broken header: an error, then the reader finds the next message and answers it
        await raw.send(b"Content-Length: twelve\r\n\r\n{}")
        bad = await raw.wait(is_error(-32700))
        assert "Content-Length" in bad["error"]["message"]
        assert (await raw.request(2, "shutdownX", None))["error"]["code"] == -32601

        await raw.send(b"garbage without a colon\r\n\r\n")
        await raw.wait(is_error(-32700))
        assert (await raw.request(3, "shutdownY", None))["error"]["code"] == -32601

        await raw.send(frame("[" * 200_000 + "]" * 200_000))  # nested past the parser's depth
        await raw.wait(is_error(-32700))

        await raw.send(frame("[1, 2]"))
        await raw.wait(is_error(-32600))
        await raw.send(frame(json.dumps({"jsonrpc": "1.0", "id": 7, "method": "x"})))
        assert (await raw.wait(is_error(-32600)))["id"] == 7

        unknown = await raw.request(8, "parallizer/noSuchMethod", {})
        assert unknown["error"]["code"] == -32601

        # params that do not fit the method: an error to that request, not a silent drop
        wrong = await raw.request(9, "textDocument/hover", {"textDocument": 3})
        assert wrong["error"]["code"] in (-32602, -32603)

        # still serving: a real request after all of that is answered
        hover = await raw.request(
            10,
            "textDocument/hover",
            {
                "textDocument": {"uri": (repo / "nope.md").as_uri()},
                "position": {"line": 0, "character": 0},
            },
        )
        assert "result" in hover or "error" in hover
    finally:
        await raw.send(msg(id=99, method="shutdown"))
        await raw.send(msg(method="exit"))
        assert await raw.ended() == 0


async def test_a_message_over_the_size_cap_is_dropped_with_an_error(tmp_path: Path):
    repo = make_tree(tmp_path / "repo")
    raw = await start(tmp_path, PARALLIZER_MAX_DOCUMENT_BYTES="1000")
    try:
        await initialize(raw, repo)
        big = b"x" * (17 << 20)  # past the cap (16 MiB for a small document limit)
        await raw.send(frame(big))
        bad = await raw.wait(is_error(-32600), within=60)
        assert "over the limit" in bad["error"]["message"]
        assert (await raw.request(3, "shutdown", None))["result"] is None
    finally:
        await raw.send(msg(method="exit"))
        assert await raw.ended() == 0


async def test_exit_in_the_middle_of_indexing_leaves_no_process(tmp_path: Path):
    """The client says exit while the first index build runs in worker processes (a tree
    too big to parse in a thread): the server stops them and exits; nothing of its process
    group is left."""
    repo = make_tree(tmp_path / "repo")
    body = "".join(f"def helper_{i}(a, b):\n    return a + b + {i}\n\n" for i in range(150))
    for n in range(400):
        (repo / "src" / f"gen_{n}.py").write_text(body, encoding="utf-8")
    raw = await start(tmp_path)
    pid = raw.proc.pid
    await initialize(raw, repo)  # `initialized` starts indexing the workspace folder
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not children(pid):
        assert loop.time() < deadline, "the server never started a child process"
        await asyncio.sleep(0.01)
    await raw.send(msg(id=2, method="shutdown"))
    await raw.send(msg(method="exit"))
    assert await raw.ended() == 0
    await asyncio.sleep(0.3)
    try:
        os.killpg(pid, 0)
        left = True
    except ProcessLookupError:
        left = False
    if left:
        os.killpg(pid, signal.SIGKILL)
    assert not left, "a process of the server's group outlived it"


async def test_stdin_closed_without_exit_ends_the_server(tmp_path: Path):
    repo = make_tree(tmp_path / "repo")
    raw = await start(tmp_path)
    await initialize(raw, repo)
    assert raw.proc.stdin is not None
    raw.proc.stdin.close()
    assert await raw.ended() == 0
