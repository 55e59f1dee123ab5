"""What both emulators share: latency, fault injection, a request record, the aiohttp server.

* Latency: `0.3` (fixed), `uniform:0.2,0.4`, `normal:0.3,0.05` (clamped at 0), drawn per
  request from a generator seeded by (seed, request text, attempt), so a run is repeatable
  whatever order concurrent requests arrive in.
* Faults: `500`, `429` (with `Retry-After`), `hang` (answer only after `hang_s`, long past any
  client timeout), `malformed` (a 200 whose body is cut-off JSON), `drop` (the connection is
  closed without an answer). Chosen at `fail_rate` by the same seeded draw, from `faults`; and
  `fault_on` rules force a fault for requests whose text contains a substring
  (`"slow topic=hang"`, optionally only the first N times: `"flaky=429*1"`).
* Capacity: with `capacity` C, a request arriving while C are in flight is answered at once
  with 429 and `Retry-After` (as real providers do), recorded with fault `capacity`, and not
  counted in flight; `/_stats` counts them (`rejected`) beside every 429 (`rate_limited`).
  Settable at run time through `POST /_config` (`{"capacity": 32}`, `null` for none). With
  `queue`, the excess waits for its turn instead (as a local model server does): every
  request is answered, later (`queued_ms` in the record, `peak_queued` in `/_stats`).
* Record: every request (path, text, fault, status, timing) plus in-flight and peak in-flight
  counts; `GET /_stats`, `POST /_reset`, `POST /_config` over HTTP, `.stats` in process.
* Loopback only: the server refuses to listen anywhere else.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from aiohttp import web

from .fake import stable

log = logging.getLogger("parallizer.emulate")

FAULT_KINDS = ("500", "429", "hang", "malformed", "drop")
LLMFormat = Literal["schema", "reject", "fenced", "list", "prose", "refuse", "empty"]
LLM_FORMATS: tuple[str, ...] = ("schema", "reject", "fenced", "list", "prose", "refuse", "empty")


# --- latency --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Latency:
    kind: Literal["fixed", "uniform", "normal"] = "fixed"
    a: float = 0.0
    b: float = 0.0

    @classmethod
    def parse(cls, spec: str | float | Latency) -> Latency:
        if isinstance(spec, Latency):
            return spec
        if isinstance(spec, int | float):
            spec = str(spec)
        text = spec.strip().lower()
        try:
            if ":" not in text:
                value = float(text)
                if value < 0:
                    raise ValueError
                return cls("fixed", value)
            name, _, args = text.partition(":")
            a_txt, _, b_txt = args.partition(",")
            a, b = float(a_txt), float(b_txt)
        except ValueError:
            raise ValueError(
                f"latency {spec!r}: expected seconds (0.3), uniform:LOW,HIGH or normal:MEAN,SD"
            ) from None
        if name == "uniform" and 0 <= a <= b:
            return cls("uniform", a, b)
        if name == "normal" and a >= 0 and b >= 0:
            return cls("normal", a, b)
        raise ValueError(
            f"latency {spec!r}: expected uniform:LOW,HIGH (0 <= LOW <= HIGH) or normal:MEAN,SD"
        )

    def draw(self, rng: random.Random) -> float:
        if self.kind == "uniform":
            return rng.uniform(self.a, self.b)
        if self.kind == "normal":
            return max(0.0, rng.gauss(self.a, self.b))
        return self.a

    def __str__(self) -> str:
        return f"{self.a:g}" if self.kind == "fixed" else f"{self.kind}:{self.a:g},{self.b:g}"


# --- faults ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultRule:
    match: str
    kind: str
    times: int | None = None  # fire for the first N requests with this text only

    @classmethod
    def parse(cls, spec: str) -> FaultRule:
        text, sep, kind = spec.rpartition("=")
        if not sep or not text:
            raise ValueError(f"fault rule {spec!r}: expected TEXT=KIND or TEXT=KIND*N")
        kind, _, times = kind.partition("*")
        if kind not in FAULT_KINDS:
            raise ValueError(f"fault rule {spec!r}: kind must be one of {', '.join(FAULT_KINDS)}")
        return cls(text, kind, int(times) if times else None)


def _rules(items: Any) -> list[FaultRule]:
    out = []
    for item in items or []:
        if isinstance(item, FaultRule):
            out.append(item)
        elif isinstance(item, str):
            out.append(FaultRule.parse(item))
        elif isinstance(item, dict | tuple | list):
            out.append(FaultRule(**item) if isinstance(item, dict) else FaultRule(*item))
    return out


@dataclass
class EmulatorConfig:
    latency: Latency = field(default_factory=Latency)
    fail_rate: float = 0.0
    faults: tuple[str, ...] = FAULT_KINDS
    fault_on: list[FaultRule] = field(default_factory=list)
    seed: int = 0
    retry_after: float = 1.0
    hang_s: float = 3600.0
    api_key: str | None = None
    """When set, requests must carry `Authorization: Bearer <it>` (like the real APIs)."""
    llm_format: LLMFormat = "schema"
    canned: list[str] = field(default_factory=list)
    """llm only: answer contents given verbatim, one per request, before generated ones."""
    capacity: int | None = None
    """Requests served at once; beyond, 429 with `Retry-After: retry_after` (None: no limit)."""
    queue: bool = False
    """With a capacity: the excess waits for its turn (first come first served), no 429."""

    def __post_init__(self) -> None:
        self.latency = Latency.parse(self.latency)
        self.fault_on = _rules(self.fault_on)
        faults: Iterable[str] | str = self.faults  # "500,429" from the command line, /_config
        if isinstance(faults, str):
            faults = [f.strip() for f in faults.split(",") if f.strip()]
        self.faults = tuple(faults)
        bad = [f for f in self.faults if f not in FAULT_KINDS]
        if bad or not self.faults:
            raise ValueError(f"faults must be among {', '.join(FAULT_KINDS)}")
        if not 0.0 <= self.fail_rate <= 1.0:
            raise ValueError("fail_rate must be between 0 and 1")
        if self.capacity is not None and (
            isinstance(self.capacity, bool) or not isinstance(self.capacity, int) or self.capacity < 1
        ):
            raise ValueError("capacity must be a whole number >= 1 (or null for none)")
        if self.retry_after < 0:
            raise ValueError("retry_after must be >= 0")
        if self.llm_format not in LLM_FORMATS:
            raise ValueError(f"llm_format must be one of {', '.join(LLM_FORMATS)}")

    def update(self, **changes: Any) -> None:
        for k, v in changes.items():
            if not hasattr(self, k):
                raise ValueError(f"unknown setting {k!r}")
            setattr(self, k, v)
        self.__post_init__()

    def public(self) -> dict[str, Any]:
        d = asdict(self)
        d["latency"] = str(self.latency)
        d["api_key"] = "set" if self.api_key else None  # never echoed
        d["fault_on"] = [asdict(r) for r in self.fault_on]
        return d


# --- the record -----------------------------------------------------------------------------


@dataclass
class RequestRecord:
    seq: int
    path: str
    text: str
    attempt: int
    fault: str | None
    start_s: float
    ms: float | None = None
    status: int | None = None
    response_format: str | None = None
    authorized: bool | None = None
    queued_ms: float | None = None
    """Time waited for a turn (`queue` mode), before the latency."""


class Stats:
    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.requests: list[RequestRecord] = []
        self.in_flight = 0
        self.peak = 0
        self.queued = 0
        self.peak_queued = 0

    def begin(
        self, path: str, text: str, attempt: int, fault: str | None, **extra: Any
    ) -> RequestRecord:
        rec = RequestRecord(
            seq=len(self.requests),
            path=path,
            text=text[:4000],
            attempt=attempt,
            fault=fault,
            start_s=round(time.monotonic() - self.t0, 4),
            **extra,
        )
        self.requests.append(rec)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        return rec

    def reject(self, path: str, text: str, attempt: int) -> None:
        """A request turned away at capacity (429 at once; never in flight)."""
        start = round(time.monotonic() - self.t0, 4)
        self.requests.append(
            RequestRecord(
                seq=len(self.requests), path=path, text=text[:4000], attempt=attempt,
                fault="capacity", start_s=start, ms=0.0, status=429,
            )
        )  # fmt: skip

    def end(self, rec: RequestRecord, status: int | None) -> None:
        self.in_flight -= 1
        rec.status = status
        rec.ms = round((time.monotonic() - self.t0 - rec.start_s) * 1000.0, 1)

    def reset(self) -> None:
        self.requests = []
        self.peak = self.in_flight
        self.peak_queued = self.queued
        self.t0 = time.monotonic()

    @property
    def total(self) -> int:
        return len(self.requests)

    @property
    def rejected(self) -> int:
        """Requests turned away at capacity."""
        return sum(r.fault == "capacity" for r in self.requests)

    def texts(self) -> list[str]:
        return [r.text for r in self.requests]

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "in_flight": self.in_flight,
            "peak": self.peak,
            "peak_queued": self.peak_queued,
            "faults": sum(r.fault is not None for r in self.requests),
            "rejected": self.rejected,
            "rate_limited": sum(r.status == 429 for r in self.requests),
            "requests": [asdict(r) for r in self.requests],
        }


# --- the server -----------------------------------------------------------------------------

Handler = Callable[[web.Request, dict[str, Any], "Emulator"], Awaitable[web.StreamResponse]]


def error_body(message: str, type_: str, code: int | str | None) -> dict[str, Any]:
    """The OpenAI-style error body both APIs use."""
    return {"error": {"message": message, "type": type_, "code": code}}


def request_text(body: dict[str, Any]) -> str:
    """The last user message of a chat request (what a fault rule or the record names)."""
    for msg in reversed(body.get("messages") or []):
        if isinstance(msg, dict) and msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, list):  # content parts
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


class Emulator:
    """One emulated API on loopback. `kind` is `perplexity` or `llm`."""

    def __init__(
        self, kind: str, config: EmulatorConfig, routes: Callable[[Emulator], web.Application]
    ) -> None:
        self.kind = kind
        self.config = config
        self.stats = Stats()
        self._attempts: dict[str, int] = {}
        self._closing = asyncio.Event()
        self._turn = asyncio.Condition()
        self._serving = 0
        """Requests being served now (`queue` mode: the others wait for a turn)."""
        self._runner: web.AppRunner | None = None
        self.app = routes(self)
        self.app.router.add_get("/_stats", self._get_stats)
        self.app.router.add_post("/_reset", self._post_reset)
        self.app.router.add_post("/_config", self._post_config)
        self.host = "127.0.0.1"
        self.port = 0

    @property
    def root(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The base URL a client is configured with."""
        return self.root + ("/v1" if self.kind == "llm" else "")

    def env(self, api_key: str = "emulator-key") -> dict[str, str]:
        if self.kind == "llm":
            return {
                "PARALLIZER_LLM_URL": self.url,
                "PARALLIZER_LLM_MODEL": "emulated-model",
                "PARALLIZER_LLM_API_KEY": api_key,
            }
        return {"PERPLEXITY_API_KEY": api_key, "PARALLIZER_PERPLEXITY_URL": self.url}

    def reset(self) -> None:
        self.stats.reset()
        self._attempts.clear()

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        try:
            if not ipaddress.ip_address(host).is_loopback:
                raise ValueError
        except ValueError:
            if host != "localhost":
                raise ValueError(f"emulators listen on loopback only, not {host!r}") from None
        self._runner = web.AppRunner(
            self.app, handler_cancellation=True, access_log=None, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        try:
            await site.start()
        except BaseException:
            await self._runner.cleanup()
            raise
        self.host, self.port = self._runner.addresses[0][:2]
        log.info("%s emulator listening on %s", self.kind, self.url)

    async def stop(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- the wrapper every API endpoint goes through -------------------------------------

    def endpoint(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                body = await request.json()
                if not isinstance(body, dict):
                    raise ValueError
            except ValueError:
                return web.json_response(
                    error_body("request body must be a JSON object", "invalid_request_error", 400),
                    status=400,
                )
            text = request_text(body)
            cap = self.config.capacity
            if cap is not None and not self.config.queue and self.stats.in_flight >= cap:
                self.stats.reject(request.path, text, self._attempts.get(text, 0))
                return web.json_response(
                    error_body(
                        f"Too many requests in flight (emulated capacity {cap})",
                        "rate_limit_error",
                        429,
                    ),
                    status=429,
                    headers={"Retry-After": f"{self.config.retry_after:g}"},
                )
            attempt = self._attempts.get(text, 0)
            self._attempts[text] = attempt + 1
            fault = self._fault(text, attempt)
            rf = body.get("response_format")
            rec = self.stats.begin(
                request.path,
                text,
                attempt,
                fault,
                response_format=rf.get("type") if isinstance(rf, dict) else None,
                authorized=self._authorized(request),
            )
            status: int | None = None
            try:
                await self._wait_for_turn(rec)
                resp = await self._serve(request, body, handler, text, attempt, fault)
                status = None if fault == "drop" else resp.status
                return resp
            finally:
                await self._turn_done(rec)
                self.stats.end(rec, status)
                log.info(
                    "%s %s %r attempt %d%s -> %s",
                    request.method,
                    request.path,
                    text[:60],
                    attempt + 1,
                    f" [fault {fault}]" if fault else "",
                    status if status is not None else "no answer",
                )

        return wrapped

    def _has_turn(self) -> bool:
        cap = self.config.capacity
        return not self.config.queue or cap is None or self._serving < cap

    async def _wait_for_turn(self, rec: RequestRecord) -> None:
        """`queue` mode: wait until fewer than `capacity` are being served. `rec.queued_ms`
        is set once the request has its turn."""
        if not self._has_turn():
            t0 = time.monotonic()
            self.stats.queued += 1
            self.stats.peak_queued = max(self.stats.peak_queued, self.stats.queued)
            try:
                async with self._turn:
                    await self._turn.wait_for(self._has_turn)
                    self._serving += 1
                    rec.queued_ms = round((time.monotonic() - t0) * 1000.0, 1)
                    return
            finally:
                self.stats.queued -= 1
        self._serving += 1
        rec.queued_ms = 0.0

    async def _turn_done(self, rec: RequestRecord) -> None:
        if rec.queued_ms is None:
            return  # cancelled while waiting: never served
        self._serving -= 1
        async with self._turn:
            self._turn.notify_all()

    @staticmethod
    def _bearer(request: web.Request) -> str:
        return request.headers.get("Authorization", "").removeprefix("Bearer ").strip()

    def _authorized(self, request: web.Request) -> bool | None:
        """Whether the request carried the key (None: no key required); never the key."""
        return None if self.config.api_key is None else self._bearer(request) == self.config.api_key

    def _fault(self, text: str, attempt: int) -> str | None:
        cfg = self.config
        for rule in cfg.fault_on:
            if rule.match in text and (rule.times is None or attempt < rule.times):
                return rule.kind
        if cfg.fail_rate > 0:
            rng = random.Random(stable(cfg.seed, "fault", text, attempt))
            if rng.random() < cfg.fail_rate:
                return cfg.faults[rng.randrange(len(cfg.faults))]
        return None

    async def _serve(
        self,
        request: web.Request,
        body: dict[str, Any],
        handler: Handler,
        text: str,
        attempt: int,
        fault: str | None,
    ) -> web.StreamResponse:
        cfg = self.config
        if cfg.api_key is not None:
            given = self._bearer(request)
            if given != cfg.api_key:
                # like the real APIs, the rejected key is echoed back: clients must redact it
                return web.json_response(
                    error_body(
                        f"Incorrect API key provided: {given or '(none)'}.",
                        "invalid_request_error",
                        "invalid_api_key",
                    ),
                    status=401,
                )
        delay = cfg.latency.draw(random.Random(stable(cfg.seed, "latency", text, attempt)))
        if fault == "hang":
            try:
                async with asyncio.timeout(cfg.hang_s):
                    await self._closing.wait()
            except TimeoutError:
                pass
        else:
            await asyncio.sleep(delay)
        if fault == "500":
            return web.json_response(
                error_body("Internal server error (emulated)", "server_error", 500), status=500
            )
        if fault == "429":
            return web.json_response(
                error_body("Rate limit exceeded (emulated)", "rate_limit_error", 429),
                status=429,
                headers={"Retry-After": f"{cfg.retry_after:g}"},
            )
        if fault == "malformed":
            return web.Response(
                text='{"id": "emu", "choices": [{"message": {"content": "The ans',
                content_type="application/json",
            )
        if fault == "drop":
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=200)
        return await handler(request, body, self)

    # --- control endpoints ----------------------------------------------------------------

    async def _get_stats(self, request: web.Request) -> web.Response:
        return web.json_response({**self.stats.to_dict(), "config": self.config.public()})

    async def _post_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})

    async def _post_config(self, request: web.Request) -> web.Response:
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object")
            changes.pop("api_key", None)  # not settable over HTTP
            self.config.update(**changes)
        except (ValueError, TypeError) as exc:
            return web.json_response({"detail": str(exc)}, status=422)
        return web.json_response(self.config.public())
