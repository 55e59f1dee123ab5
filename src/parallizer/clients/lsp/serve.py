"""Run the Language Server: one process-wide `Runtime` (its code index built once per scope),
one `PlanServer` per client connection.

* stdio (the default): the editor starts the process; it ends at `exit` or when stdin closes.
* `--tcp HOST:PORT` and `--ws HOST:PORT`: the same protocol to each client that connects
  (several at once, each its own session over the one runtime); the process ends on
  SIGINT/SIGTERM. Neither transport has authentication: bind them to loopback.

However it ends, every review is cancelled (their `rg` processes killed) and the runtime is
closed (index worker processes stopped) before the process exits.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from contextlib import suppress
from typing import Any

from ... import assembly
from ...config import Settings
from ...runtime import Runtime
from .server import PlanServer, create_server
from .transport import Framer, handle_safely, serve_stream, stdio_reader

log = logging.getLogger("parallizer.lsp")


def max_message(settings: Settings) -> int:
    """The largest message read: a whole document over the limit still arrives (and gets
    its diagnostic saying so); far beyond that it is dropped unread."""
    return max(4 * settings.max_document_bytes + (1 << 20), 16 << 20)


def quiet_pygls(settings: Settings) -> None:
    """pygls logs every message body at INFO; plans are not for the log."""
    if settings.log_level != "DEBUG":
        logging.getLogger("pygls").setLevel(logging.WARNING)


async def _session(server: PlanServer, framer: Framer, settings: Settings) -> None:
    try:
        await serve_stream(server, framer, max_message=max_message(settings))
    finally:
        await server.aclose()


async def run_stdio(settings: Settings) -> None:
    quiet_pygls(settings)

    class _Out:
        def __init__(self) -> None:
            self.stream = sys.stdout.buffer

        def write(self, data: bytes) -> None:
            self.stream.write(data)
            self.stream.flush()

        def close(self) -> None:
            pass

    async with Runtime(settings) as runtime:
        server = create_server(settings, assembly.orchestrator(runtime))
        server.protocol.set_writer(_Out())
        framer = await stdio_reader()
        log.info("language server on stdio")
        await _session(server, framer, settings)
    log.info("language server stopped")


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def run_tcp(settings: Settings, host: str, port: int) -> None:
    quiet_pygls(settings)
    stop = asyncio.Event()
    _stop_on_signals(stop)
    async with Runtime(settings) as runtime:
        orchestrator = assembly.orchestrator(runtime)
        sessions: set[asyncio.Task[Any]] = set()

        async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer = writer.get_extra_info("peername")
            log.info("client connected from %s", peer)
            server = create_server(settings, orchestrator)
            server.protocol.set_writer(writer)
            task = asyncio.current_task()
            if task is not None:
                sessions.add(task)
            try:
                await _session(server, Framer(reader.read), settings)
            finally:
                if task is not None:
                    sessions.discard(task)
                writer.close()
                with suppress(Exception):
                    await writer.wait_closed()
                log.info("client %s gone", peer)

        listener = await asyncio.start_server(connection, host, port)
        names = ", ".join(str(s.getsockname()) for s in listener.sockets)
        log.info("language server on tcp %s", names)
        print(f"parallizer lsp: listening on tcp {names}", file=sys.stderr, flush=True)
        async with listener:
            await stop.wait()
            listener.close()
            for t in list(sessions):
                t.cancel()
            if sessions:
                await asyncio.wait(sessions)
    log.info("language server stopped")


async def run_ws(settings: Settings, host: str, port: int) -> None:
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import ConnectionClosed

    quiet_pygls(settings)
    stop = asyncio.Event()
    _stop_on_signals(stop)
    max_size = max_message(settings)
    async with Runtime(settings) as runtime:
        orchestrator = assembly.orchestrator(runtime)

        async def connection(ws: ServerConnection) -> None:
            server = create_server(settings, orchestrator)
            outbox: asyncio.Queue[str] = asyncio.Queue()

            class _Out:
                def write(self, data: bytes) -> None:
                    outbox.put_nowait(data.decode("utf-8"))  # sent in order by `sender`

                def close(self) -> None:
                    pass

            async def sender() -> None:
                while True:
                    await ws.send(await outbox.get())

            server.protocol.set_writer(_Out(), include_headers=False)
            log.info("client connected from %s", ws.remote_address)
            sending = asyncio.create_task(sender(), name="lsp-ws-send")
            try:
                while not server.stopping:
                    try:
                        frame = await ws.recv()
                    except ConnectionClosed:
                        break
                    handle_safely(
                        server, frame.encode("utf-8") if isinstance(frame, str) else frame
                    )
            finally:
                await server.aclose()
                sending.cancel()
                with suppress(asyncio.CancelledError, ConnectionClosed):
                    await sending
                await ws.close()

        async with serve(connection, host, port, max_size=max_size) as listener:
            names = ", ".join(str(s.getsockname()) for s in listener.sockets)
            log.info("language server on ws %s", names)
            print(f"parallizer lsp: listening on ws {names}", file=sys.stderr, flush=True)
            await stop.wait()
    log.info("language server stopped")
