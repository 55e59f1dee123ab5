"""How many of the package's modules one request runs through, from the route to `rg` and
back (issue 21's yardstick for a readable request path).

An in-process service (offline, the plan read in a thread so it is traced too) answers
`POST /fulfill` for `examples/plan.md` against this repository twice to warm the index and
caches, then once more for a changed plan while every thread's profiler records the source
file of each Python function it enters. Modules count once, whichever the thread; import-time work is
not traced (everything is imported by the warm-up). Usage:

    .venv/bin/python scripts/request_path.py [--list]
"""

from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "parallizer"


def module_of(filename: str) -> str | None:
    path = Path(filename)
    if not path.is_relative_to(PACKAGE):
        return None
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


async def main(show: bool) -> int:
    from parallizer.config import Settings
    from parallizer.service.app import create_app

    settings = Settings(allowed_roots=str(ROOT), read_workers=0, log_level="WARNING")
    app = create_app(settings)
    plan = (ROOT / "examples" / "plan.md").read_text()
    seen: set[str] = set()
    tracing = False

    def profile(frame: Any, event: str, _arg: Any) -> None:
        if tracing and event == "call":
            name = module_of(frame.f_code.co_filename)
            if name is not None:
                seen.add(name)

    def body(text: str) -> dict[str, Any]:
        lines = text.split("\n")
        return {
            "user_id": "trace",
            "document_text": text,
            "cursor_position": [len(lines) - 1, 0],
            "global_context": {"scope_root": str(ROOT), "plan_path": str(ROOT / "examples/plan.md")},
        }

    # every thread is profiled from the start (threads of a pool started during the warm-up
    # live on), recording only while `tracing`
    threading.setprofile(profile)
    sys.setprofile(profile)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            # twice: a first request on a stale or missing index file rebuilds and saves it,
            # and the save may still run during the next one
            for _ in range(2):
                r = await client.post("/fulfill", json=body(plan), timeout=120)
                r.raise_for_status()
            tracing = True
            r = await client.post("/fulfill", json=body(plan + "\nAlso see `Orchestrator`.\n"),
                                  timeout=120)  # fmt: skip
            tracing = False
            r.raise_for_status()
    sys.setprofile(None)
    threading.setprofile(None)  # type: ignore[arg-type]
    total = sum(1 for p in PACKAGE.rglob("*.py"))
    print(f"{len(seen)} of {total} modules on one request's path")
    if show:
        for name in sorted(seen):
            print(" ", name)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main("--list" in sys.argv)))
