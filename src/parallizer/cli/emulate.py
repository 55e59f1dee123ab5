"""`parallizer emulate perplexity|llm`: a loopback stand-in of a remote API, until Ctrl-C."""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Annotated

import typer

from .root import app, fail

DEFAULT_PORTS = {"perplexity": 8765, "llm": 8766}


async def _serve(kind: str, host: str, port: int, options: dict[str, object]) -> None:
    from ..emulators import EmulatorConfig, build

    emu = build(kind, EmulatorConfig(**options))  # type: ignore[arg-type]
    try:
        await emu.start(host, port)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise fail(str(exc)) from exc
    name = "Perplexity" if kind == "perplexity" else "OpenAI-compatible LLM"
    cfg = emu.config
    lines = [
        f"{name} emulator listening on {emu.url}",
        f"  latency {cfg.latency}s, fail rate {cfg.fail_rate:g}"
        + (f" ({', '.join(cfg.faults)})" if cfg.fail_rate else "")
        + (f", format {cfg.llm_format}" if kind == "llm" else "")
        + (
            (
                f", capacity {cfg.capacity} (the excess queues)"
                if cfg.queue
                else f", capacity {cfg.capacity} (429, Retry-After {cfg.retry_after:g}s)"
            )
            if cfg.capacity
            else ""
        ),
        "  request record: GET " + emu.root + "/_stats   reset: POST " + emu.root + "/_reset",
        "Point parallizer at it:",
        *(f"  export {k}={v}" for k, v in emu.env().items()),
        "Ctrl-C to stop.",
    ]
    print("\n".join(lines), flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await emu.stop()


@app.command()
def emulate(
    kind: Annotated[str, typer.Argument(help="perplexity or llm")],
    port: Annotated[
        int | None,
        typer.Option("--port", help="port (default 8765 perplexity, 8766 llm; 0 = any free)"),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="loopback address")] = "127.0.0.1",
    latency: Annotated[
        str,
        typer.Option(
            "--latency", help="seconds per answer: 0.3, uniform:0.2,0.4 or normal:0.3,0.05"
        ),
    ] = "0.3",
    fail_rate: Annotated[
        float, typer.Option("--fail-rate", help="fraction of requests given a fault, 0..1")
    ] = 0.0,
    faults: Annotated[
        str,
        typer.Option("--faults", help="fault kinds to draw from: 500,429,hang,malformed,drop"),
    ] = "500,429,hang,malformed,drop",
    fault_on: Annotated[
        list[str] | None,
        typer.Option(
            "--fault-on", help="TEXT=KIND[*N]: fault for requests containing TEXT (repeatable)"
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="seed of the latency and fault draws")] = 0,
    retry_after: Annotated[
        float, typer.Option("--retry-after", help="Retry-After seconds sent with a 429")
    ] = 1.0,
    llm_format: Annotated[
        str,
        typer.Option(
            "--format", help="llm only: schema, reject, fenced, list, prose, refuse or empty"
        ),
    ] = "schema",
    capacity: Annotated[
        int | None,
        typer.Option(
            "--capacity",
            help="calls served at once; more get 429 with Retry-After (--retry-after)",
        ),
    ] = None,
    queue: Annotated[
        bool,
        typer.Option(
            "--queue",
            help="with --capacity: the excess waits for its turn (as a local model server "
            "does) instead of getting 429",
        ),
    ] = False,
    api_key: Annotated[
        str | None,
        typer.Option("--require-key", help="reject requests without this bearer key (401)"),
    ] = None,
) -> None:
    """Run a loopback emulator of the Perplexity or OpenAI-compatible chat API."""
    if kind not in DEFAULT_PORTS:
        raise fail(f"unknown emulator {kind!r}: expected perplexity or llm")
    options: dict[str, object] = {
        "latency": latency,
        "fail_rate": fail_rate,
        "faults": faults,
        "fault_on": fault_on or [],
        "seed": seed,
        "retry_after": retry_after,
        "llm_format": llm_format,
        "api_key": api_key,
        "capacity": capacity,
        "queue": queue,
    }
    from ..emulators import EmulatorConfig

    try:
        EmulatorConfig(**options)  # type: ignore[arg-type]
    except (ValueError, TypeError) as exc:
        raise fail(str(exc)) from exc
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    emu_log = logging.getLogger("parallizer.emulate")
    emu_log.handlers[:] = [handler]
    emu_log.setLevel(logging.INFO)
    emu_log.propagate = False
    port = DEFAULT_PORTS[kind] if port is None else port
    try:
        asyncio.run(_serve(kind, host, port, options))
    except KeyboardInterrupt:
        print("emulator stopped", file=sys.stderr)
