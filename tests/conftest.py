"""Shared fixtures: hermetic settings (every test), a small real code tree to search with the
real `rg`."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from parallizer.backends.ripgrep import find_rg

from .hermetic import scrub

pytest_plugins = ["tests.redis_kit"]  # the `redis_server` fixture: a real redis-server

RG = find_rg()


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting reaches a test from the environment or a `.env` file (tests/hermetic.py)."""
    scrub(monkeypatch)


class FakeTimer:
    """A clock a test moves by hand (`timer.now += 61`): expiry without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def write(root: Path, rel: str, text: str) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return p


@pytest.fixture(scope="session")
def rg_binary() -> str:
    assert RG, "the ripgrep wheel must be installed (make test installs it)"
    return RG


@pytest.fixture
def code_tree(tmp_path: Path) -> Path:
    """A tiny repository: two definitions of `load_config`, a RetryPolicy, ignored files."""
    root = tmp_path / "repo"
    write(
        root,
        "src/app/retry.py",
        '''
        """Retry helpers."""
        import time


        class RetryPolicy:
            """Exponential backoff."""

            def __init__(self, max_retries: int = 3) -> None:
                self.max_retries = max_retries

            def delay(self, attempt: int) -> float:
                return 0.1 * 2 ** attempt
        ''',
    )
    write(
        root,
        "src/app/config.py",
        '''
        def load_config(path):
            """Read the settings file."""
            return {}
        ''',
    )
    write(
        root,
        "src/legacy/config.py",
        """
        # old loader, still imported by the CLI
        def load_config(path, strict=False):
            return None
        """,
    )
    write(
        root,
        "src/app/client.py",
        """
        from .retry import RetryPolicy
        from .config import load_config

        policy = RetryPolicy(max_retries=5)
        naïve_café = "unicode ✓ RetryPolicy"
        """,
    )
    write(root, ".gitignore", "build/\n*.log\n")
    write(root, "build/generated.py", "class RetryPolicy: pass  # ignored\n")
    write(root, "debug.log", "RetryPolicy failed\n")
    (root / "blob.bin").write_bytes(b"RetryPolicy\x00\x01\x02binary")
    return root


@pytest.fixture
def slow_rg(tmp_path: Path, rg_binary: str) -> str:
    """A real `rg` made slow: it runs a preprocessor that sleeps on every file it searches.

    The wrapper `exec`s rg, so the spawned pid is rg itself; the test can check it is gone.
    """
    pre = tmp_path / "sleepy-pre.sh"
    # slow for up to 30 s, but gone within 50 ms of rg (its parent): no orphan outlives a test
    pre.write_text(
        "#!/bin/sh\ni=0\n"
        'while [ $i -lt 600 ] && kill -0 "$PPID" 2>/dev/null; do sleep 0.05; i=$((i+1)); done\n'
    )
    wrapper = tmp_path / "slow-rg"
    wrapper.write_text(f'#!/bin/sh\nexec "{rg_binary}" --pre "{pre}" "$@"\n')
    for p in (pre, wrapper):
        p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return str(wrapper)


def _stat(pid: int | str) -> tuple[str, list[str]] | None:
    """(command name, the fields after it) from /proc/PID/stat; None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()


def children(parent: int | None = None) -> list[tuple[int, str]]:
    """(pid, command name) of the live (non-zombie) children of `parent` (default: us)."""
    parent = os.getpid() if parent is None else parent
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and (st := _stat(d.name)) is not None:
            name, fields = st
            if int(fields[1]) == parent and fields[0] != "Z":
                out.append((int(d.name), name))
    return out


def children_named(name: str, parent: int | None = None) -> list[int]:
    """Live children of `parent` (default: us) running the program `name` (a path's
    basename counts, so the slow_rg wrapper, which execs rg, shows as `rg`)."""
    want = os.path.basename(name)[:15]  # the kernel keeps 15 characters of a command name
    return [pid for pid, comm in children(parent) if comm == want]


def group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, command name) of the live processes of process group `pgid`, wherever they
    were reparented: a child that outlived its parent is still in the group."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and (st := _stat(d.name)) is not None:
            name, fields = st
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.append((int(d.name), name))
    return out


async def eventually(pred: Any, *, within: float = 5.0, what: str = "the condition") -> None:
    """Poll `pred()` (sync or async) until it is true; fail after `within` seconds."""
    step = 0.01
    for _ in range(int(within / step)):
        ok = pred()
        if asyncio.iscoroutine(ok):
            ok = await ok
        if ok:
            return
        await asyncio.sleep(step)
    raise AssertionError(f"{what} did not happen within {within:g} s")


def alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[1][0] != "Z"


PY = sys.executable


@pytest.fixture
def polyglot(tmp_path: Path) -> Path:
    """Python, Rust and YAML: a method on one of two classes, a stub and a test that must
    not count as definitions, `load_config` defined in two source files."""
    root = tmp_path / "poly"
    write(
        root,
        "src/app/client.py",
        '''
        """Clients."""


        class Client:
            def close(self) -> None:
                pass


        class AsyncClient:
            async def send(self, message, timeout=None):
                return message


        class HttpTransport:
            pass
        ''',
    )
    write(root, "src/app/client.pyi", "class Client:\n    def send(self, message) -> None: ...\n")
    write(root, "src/app/config.py", "def load_config(path):\n    return {}\n")
    write(root, "src/legacy/config.py", "\n# old\ndef load_config(path, strict=False):\n    return None\n")
    write(root, "tests/test_client.py", "class HttpTransports:\n    pass\n")
    write(
        root,
        "src/args.rs",
        """
        pub struct HiArgs {
            pub verbose: bool,
        }

        impl HiArgs {
            pub fn new(verbose: bool) -> HiArgs {
                HiArgs { verbose }
            }
        }
        """,
    )
    write(root, "settings.yaml", "retry_budget: 3\n")
    return root
