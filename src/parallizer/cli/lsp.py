"""`parallizer lsp`: the Language Server for plans (stdio by default; TCP or WebSocket).

Every log line goes to stderr: stdout is the protocol."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from .common import load_settings_or_fail
from .root import app, fail


def parse_address(raw: str, option: str) -> tuple[str, int]:
    host, sep, port = raw.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise fail(f"{option} {raw!r}: expected HOST:PORT (a port from 0 to 65535)")
    return host, int(port)


@app.command()
def lsp(
    tcp: Annotated[
        str | None,
        typer.Option("--tcp", help="serve on HOST:PORT over TCP instead of stdio (no auth)"),
    ] = None,
    ws: Annotated[
        str | None,
        typer.Option("--ws", help="serve on HOST:PORT over WebSocket instead of stdio (no auth)"),
    ] = None,
) -> None:
    """A Language Server for plans: findings as diagnostics, quick fixes, hover, go to
    definition, links and completions from the code of the workspace folder."""
    if tcp is not None and ws is not None:
        raise fail("give --tcp or --ws, not both")
    address = (
        parse_address(tcp, "--tcp") if tcp is not None
        else parse_address(ws, "--ws") if ws is not None
        else None
    )  # fmt: skip
    settings = load_settings_or_fail()
    from ..clients.lsp import serve

    try:
        if tcp is not None and address is not None:
            asyncio.run(serve.run_tcp(settings, *address))
        elif ws is not None and address is not None:
            asyncio.run(serve.run_ws(settings, *address))
        else:
            asyncio.run(serve.run_stdio(settings))
    except OSError as exc:
        raise fail(f"cannot serve: {exc.strerror or exc}") from exc
    except KeyboardInterrupt:
        pass
