"""Shared fixtures: a small real code tree to search with the real `rg`."""

from __future__ import annotations

import os
import stat
import sys
import textwrap
from pathlib import Path

import pytest

from parallizer.backends.ripgrep import find_rg

RG = find_rg()


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
    pre.write_text("#!/bin/sh\nexec sleep 5\n")
    wrapper = tmp_path / "slow-rg"
    wrapper.write_text(f'#!/bin/sh\nexec "{rg_binary}" --pre "{pre}" "$@"\n')
    for p in (pre, wrapper):
        p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return str(wrapper)


def children_named(name: str) -> list[int]:
    """Live (non-zombie) processes of ours whose command line starts with `name`'s basename."""
    me = os.getpid()
    out = []
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            status = (pid_dir / "status").read_text()
            cmd = (pid_dir / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        ppid = next((ln.split()[1] for ln in status.splitlines() if ln.startswith("PPid:")), "")
        state = next((ln.split()[1] for ln in status.splitlines() if ln.startswith("State:")), "")
        if ppid == str(me) and state != "Z" and os.path.basename(cmd) == os.path.basename(name):
            out.append(int(pid_dir.name))
    return out


PY = sys.executable
