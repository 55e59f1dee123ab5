"""Test fulfillers, app builders and HTTP helpers for the service tests.

The fulfillers are the unit being orchestrated: small, deterministic, each doing its work
through `ctx.run(...)` (the real fan-out); one runs the real `rg` over a fixture tree. HTTP,
orchestrator, fan-out, feed and rg are all real.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import httpx
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from parallizer.backends.base import Availability, CodeQuery
from parallizer.backends.ripgrep import RipgrepBackend
from parallizer.config import Settings
from parallizer.fanout import Call
from parallizer.fulfillers.base import FulfillerContext, code_call
from parallizer.models import Card, CardType
from parallizer.runtime import Runtime
from parallizer.service import create_app

from ..conftest import eventually
from ..hermetic import clean_env

# --- fulfillers ------------------------------------------------------------------------------


@dataclass
class Meter:
    """Counts how many runs of a fulfiller are going at once, and which were cancelled."""

    now: int = 0
    peak: int = 0
    started: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)


class Echo:
    """Fast: one question card that names the user and quotes the cursor line."""

    name = "echo"
    card_type: ClassVar[CardType] = CardType.question

    def availability(self) -> Availability:
        return Availability.yes()

    async def fulfill(self, ctx: FulfillerContext) -> list[Card]:
        user = ctx.job.request.user_id
        line = ctx.document.cursor[0]
        return [
            Card.make(
                type=CardType.question,
                header=f"Question for {user}",
                text=f"What does {user} mean by: {ctx.document.cursor_line.strip()}?",
                source=self.name,
                citations=[ctx.job.plan_citation(line)],
            )
        ]


class Grep:
    """Real ripgrep: each `backticked` identifier of the plan is searched under scope_root;
    a context card per identifier found, citing where."""

    name = "grep"
    card_type: ClassVar[CardType] = CardType.context

    def __init__(self, rg: RipgrepBackend | None = None) -> None:
        self.rg = rg
        """The service's own ripgrep (`app_with` hands it over), so a test's rg runs here."""

    def availability(self) -> Availability:
        return Availability.yes()

    async def fulfill(self, ctx: FulfillerContext) -> list[Card]:
        terms = list(dict.fromkeys(re.findall(r"`([A-Za-z_]\w*)`", ctx.document.text)))[:5]
        if not terms or ctx.job.scope_root is None:
            return []
        assert self.rg is not None, "app_with gives Grep the service's ripgrep"
        root = ctx.job.scope_root
        outcomes = await ctx.run([code_call(self.rg, root, CodeQuery(pattern=t)) for t in terms])
        cards = []
        for o in outcomes:
            if o.ok and o.value is not None and o.value.matches:
                first = o.value.matches[0]
                cards.append(
                    Card.make(
                        type=CardType.context,
                        header=f"`{o.label}` in the code",
                        text=f"`{o.label}` appears at {first.citation}: `{first.text.strip()}`",
                        source=self.name,
                        citations=[m.citation for m in o.value.matches[:3]],
                    )
                )
        return cards


class Sleepy:
    """Waits `delay` seconds (as one query through the fan-out), then one completion card
    naming the user and the document's first line. Instrumented with a Meter."""

    card_type: ClassVar[CardType] = CardType.completion

    def __init__(self, name: str = "slow", delay: float = 0.3) -> None:
        self.name = name
        self.delay = delay
        self.meter = Meter()

    def availability(self) -> Availability:
        return Availability.yes()

    async def fulfill(self, ctx: FulfillerContext) -> list[Card]:
        user = ctx.job.request.user_id
        tag = f"{user}:{ctx.document.lines[0]}"

        async def wait() -> str:
            m = self.meter
            m.now += 1
            m.peak = max(m.peak, m.now)
            m.started.append(tag)
            try:
                await asyncio.sleep(self.delay)
            except asyncio.CancelledError:
                m.cancelled.append(tag)
                raise
            finally:
                m.now -= 1
            m.finished.append(tag)
            return tag

        [outcome] = await ctx.run([Call(label=f"wait {self.delay:g}s", backend="clock", run=wait)])
        if not outcome.ok:
            return []
        return [
            Card.make(
                type=CardType.completion,
                header=f"Completion for {user}",
                text=f"{user} continues {ctx.document.lines[0]!r} after {self.delay:g}s",
                source=self.name,
            )
        ]


class Failing:
    name = "failing"
    card_type: ClassVar[CardType] = CardType.question

    def availability(self) -> Availability:
        return Availability.yes()

    async def fulfill(self, ctx: FulfillerContext) -> list[Card]:
        raise RuntimeError("the test fulfiller failed on purpose")


class Unavailable:
    name = "needs_key"
    card_type: ClassVar[CardType] = CardType.context

    def __init__(self, reason: str = "PARALLIZER_FAKE_URL is not set") -> None:
        self.reason = reason

    def availability(self) -> Availability:
        return Availability.no(self.reason)

    async def fulfill(self, ctx: FulfillerContext) -> list[Card]:  # pragma: no cover
        raise AssertionError("an unavailable fulfiller is never run")


class Many:
    """Emits the given cards as they are (to exercise the feed through HTTP)."""

    name = "many"
    card_type: ClassVar[CardType] = CardType.question

    def __init__(self, cards: list[Card]) -> None:
        self.cards = cards

    def availability(self) -> Availability:
        return Availability.yes()

    async def fulfill(self, ctx: FulfillerContext) -> list[Card]:
        return list(self.cards)


# --- apps ------------------------------------------------------------------------------------


def settings_for(root: Path, **overrides: Any) -> Settings:
    """Settings without `.env` (the conftest clears PARALLIZER_* variables): allowed root
    `root`."""
    return Settings(allowed_roots=str(root), **overrides)


def runtime_with(settings: Settings, *, rg_binary: str | None = None) -> Runtime:
    rg = (
        RipgrepBackend(
            binary=rg_binary, max_concurrent=settings.rg_max_concurrent, timeout=settings.rg_timeout
        )
        if rg_binary
        else None
    )
    return Runtime(settings, rg=rg)


def app_with(settings: Settings, *fulfillers: Any, rg_binary: str | None = None, **kw: Any):
    """The service with these fulfillers as its registry."""
    runtime = runtime_with(settings, rg_binary=rg_binary)
    for f in fulfillers:
        if isinstance(f, Grep) and f.rg is None:
            f.rg = runtime.rg  # type: ignore[assignment]
    return create_app(settings, runtime, fulfillers=list(fulfillers), **kw)


@contextlib.asynccontextmanager
async def asgi_client(app: FastAPI, **kw: Any) -> AsyncIterator[httpx.AsyncClient]:
    """httpx against the ASGI app, its lifespan run by asgi-lifespan."""
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, **kw)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@contextlib.asynccontextmanager
async def uvicorn_server(app: FastAPI) -> AsyncIterator[str]:
    """A real uvicorn on a free loopback port, in this event loop; yields its base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="on", log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]  # pytest's
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started or task.done(), within=10, what="uvicorn start")
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)


# --- waiting --------------------------------------------------------------------------------


# --- request bodies and SSE ------------------------------------------------------------------

PLAN = """# Retry plan

We wrap calls in `RetryPolicy` and read settings with `load_config`.

## Open points
How many retries before we give up
"""


def body(user: str = "u1", *, text: str = PLAN, scope: Path | None = None, **kw: Any) -> dict:
    lines = text.split("\n")
    line = max(0, len(lines) - 2)
    out: dict[str, Any] = {
        "user_id": user,
        "document_text": text,
        "cursor_position": [line, len(lines[line])],
    }
    if scope is not None:
        out["global_context"] = {"scope_root": str(scope)}
    out.update(kw)
    return out


@dataclass
class SSE:
    event: str
    data: Any
    id: str | None = None


def parse_sse(lines: list[str]) -> list[SSE]:
    """The text/event-stream format: fields until a blank line dispatch an event; lines
    starting with ':' are comments."""
    events: list[SSE] = []
    fields: dict[str, list[str]] = {}
    for line in lines:
        if line == "":
            if "data" in fields:
                events.append(
                    SSE(
                        event=(fields.get("event") or ["message"])[-1],
                        data=json.loads("\n".join(fields["data"])),
                        id=(fields.get("id") or [None])[-1],
                    )
                )
            fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields.setdefault(name, []).append(value[1:] if value.startswith(" ") else value)
    return events


async def read_sse(response: httpx.Response, on_event=None) -> list[SSE]:
    """Read a streaming response event by event; `on_event(sse)` is called as each arrives."""
    events: list[SSE] = []
    pending: list[str] = []
    async for line in response.aiter_lines():
        pending.append(line)
        if line == "":
            for ev in parse_sse(pending):
                events.append(ev)
                if on_event is not None:
                    on_event(ev)
            pending = []
    events += parse_sse([*pending, ""])
    return events


def metric_value(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels` (0 if none)."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        metric, _, rest = head.partition("{")
        if metric != name:
            continue
        have = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', rest))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(value)
    return total


# --- `parallizer serve` as a real process ---------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
PARALLIZER = Path(sys.executable).with_name("parallizer")


@dataclass
class Server:
    proc: asyncio.subprocess.Process
    base: str = ""
    lines: list[str] = field(default_factory=list)

    @property
    def log(self) -> str:
        return "\n".join(self.lines)


def server_env(**extra: str) -> dict[str, str]:
    """A child process's environment: no setting of the machine's (tests/hermetic.py)."""
    env = clean_env()
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


@contextlib.asynccontextmanager
async def serve(
    *args: str, workers: int = 1, factory: str | None = "tests.service.kit:serve_app", **env: str
) -> AsyncIterator[Server]:
    """`parallizer serve` on a free port, in its own process group (so a failed test can
    stop the workers too); ready once every worker has started its application. `factory`
    None runs the real app (the real fulfillers)."""
    if workers > 1:
        args = ("--workers", str(workers), *args)
    if factory is not None:
        args = ("--factory", factory, *args)
    proc = await asyncio.create_subprocess_exec(
        str(PARALLIZER),
        "serve",
        "--port",
        "0",
        *args,
        env=server_env(**env),
        cwd=str(ROOT),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    server = Server(proc)
    ready = 0

    async def pump() -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            server.lines.append(line)
            if m := re.search(r"Uvicorn running on (http://127\.0\.0\.1:\d+)", line):
                server.base = m.group(1)
            if "Application startup complete" in line:
                nonlocal ready
                ready += 1

    reader = asyncio.create_task(pump())
    try:
        await eventually(lambda: server.base and ready == workers, within=20, what="start")
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # no-op when it exited as it should
        await proc.wait()
        await asyncio.wait_for(reader, 10)


# --- the app `parallizer serve --factory tests.service.kit:serve_app` runs -----------------------


def serve_app() -> FastAPI:
    """`app_from_env` with the test fulfillers: echo, grep (rg from PARALLIZER_TEST_RG if set),
    slow (PARALLIZER_TEST_DELAY seconds)."""
    from parallizer.service.app import settings_from_env

    settings = settings_from_env()  # logging set up as in production
    delay = float(os.environ.get("PARALLIZER_TEST_DELAY", "0.3"))
    return app_with(
        settings,
        Echo(),
        Grep(),
        Sleepy(delay=delay),
        rg_binary=os.environ.get("PARALLIZER_TEST_RG") or None,
    )
