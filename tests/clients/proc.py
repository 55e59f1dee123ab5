"""Run `parallizer` as a real process for the client tests: a clean environment, its own
process group (so a test can find anything it left behind), output read as it comes."""

from __future__ import annotations

import asyncio
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .. import hermetic

PARALLIZER = str(Path(sys.executable).with_name("parallizer"))
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]")


def clean_env(roots: Path, **extra: str) -> dict[str, str]:
    """No setting of the machine's (tests/hermetic.py), nor its terminal's size or colours."""
    env = hermetic.clean_env()
    for k in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR"):
        env.pop(k, None)
    env["PARALLIZER_ALLOWED_ROOTS"] = str(roots)
    env.update(extra)
    return env


def plain(text: str) -> str:
    """Terminal output without its escape sequences."""
    return _ANSI.sub("", text).replace("\r", "")


@dataclass
class Output:
    """Everything a process wrote so far, and a way to wait for a piece of it."""

    text: str = ""
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, chunk: str) -> None:
        self.text += chunk
        self.changed.set()

    async def wait_for(self, pattern: str, *, within: float = 20.0, after: int = 0) -> re.Match:
        """The first match of the regex `pattern` in the output from offset `after` on."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while (m := re.compile(pattern).search(plain(self.text), after)) is None:
            self.changed.clear()
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(
                    f"no {pattern!r} within {within:g} s; output:\n{plain(self.text)}"
                )
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                pass
        return m
