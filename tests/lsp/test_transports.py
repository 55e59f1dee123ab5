"""`parallizer lsp --tcp` and `--ws` serve the same protocol; SIGTERM ends them cleanly.
And the VS Code extension folder is a well-formed extension that starts `parallizer lsp`."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from ..clients.proc import PARALLIZER, clean_env
from .kit import make_tree

pytestmark = pytest.mark.timeout(90)
ROOT = Path(__file__).resolve().parents[2]


async def serve(option: str, roots: Path) -> tuple[asyncio.subprocess.Process, int]:
    proc = await asyncio.create_subprocess_exec(
        PARALLIZER, "lsp", option, "127.0.0.1:0",
        stderr=asyncio.subprocess.PIPE, env=clean_env(roots),
    )  # fmt: skip
    assert proc.stderr is not None
    while True:
        line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
        assert line, "the server ended before listening"
        if m := re.search(r"listening on \w+ \('127\.0\.0\.1', (\d+)\)", line):
            return proc, int(m.group(1))


def initialize(folder: Path) -> dict:
    return {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"processId": None, "rootUri": folder.as_uri(), "capabilities": {}}}  # fmt: skip


async def stop(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 20) == 0
    assert proc.stderr is not None
    await proc.stderr.read()  # its pipe closed: nothing left for the garbage collector


async def test_tcp_serves_lsp(tmp_path: Path):
    repo = make_tree(tmp_path / "repo")
    proc, port = await serve("--tcp", tmp_path)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = json.dumps(initialize(repo)).encode()
        writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
        length = 0
        while (line := await asyncio.wait_for(reader.readline(), 20)).strip():
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        reply = json.loads(await reader.readexactly(length))
        assert reply["id"] == 1 and reply["result"]["serverInfo"]["name"] == "parallizer"
        writer.close()
    finally:
        await stop(proc)


async def test_websocket_serves_lsp(tmp_path: Path):
    repo = make_tree(tmp_path / "repo")
    proc, port = await serve("--ws", tmp_path)
    try:
        async with connect(f"ws://127.0.0.1:{port}") as ws:
            await ws.send(json.dumps(initialize(repo)))
            reply = json.loads(await asyncio.wait_for(ws.recv(), 20))
            assert reply["id"] == 1 and "hoverProvider" in reply["result"]["capabilities"]
            await ws.send("{not json")
            error = json.loads(await asyncio.wait_for(ws.recv(), 20))
            assert error["error"]["code"] == -32700
    finally:
        await stop(proc)


@pytest.mark.parametrize(
    "args", [["--tcp", "nowhere"], ["--tcp", "127.0.0.1:1", "--ws", "127.0.0.1:2"]]
)
def test_a_bad_address_is_exit_2(tmp_path: Path, args: list[str]):
    r = subprocess.run([PARALLIZER, "lsp", *args], env=clean_env(tmp_path), capture_output=True,
                       text=True, timeout=30)  # fmt: skip
    assert r.returncode == 2 and r.stderr.startswith("parallizer: error: ")


def test_the_vscode_extension_starts_parallizer_lsp_for_markdown():
    folder = ROOT / "editors" / "vscode"
    manifest = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    assert manifest["main"] == "./extension.js"
    assert "onLanguage:markdown" in manifest["activationEvents"]
    assert "vscode-languageclient" in manifest["dependencies"]
    source = (folder / "extension.js").read_text(encoding="utf-8")
    assert 'args: ["lsp"]' in source and 'language: "markdown"' in source
    node = shutil.which("node")
    if node is not None:  # the syntax, as node reads it
        subprocess.run([node, "--check", str(folder / "extension.js")], check=True, timeout=30)
