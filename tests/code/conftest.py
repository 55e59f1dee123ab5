"""Fixture trees for the code index: copied to a temporary directory per test, so the
project's own .gitignore (which ignores `build/`, `dist/`) does not apply to them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from parallizer.code import CodeKnowledge, Snapshot

FIXTURES = Path(__file__).parent / "fixtures"
collect_ignore = ["fixtures"]  # fixture trees hold test_*.py files of their own


def copy_fixture(name: str, dest: Path) -> Path:
    root = dest / name
    shutil.copytree(FIXTURES / name, root)
    return root.resolve()


@pytest.fixture
async def store():
    s = CodeKnowledge(workers=0)
    try:
        yield s
    finally:
        await s.aclose()


async def build(name: str, tmp_path: Path, store: CodeKnowledge) -> Snapshot:
    return await store.snapshot(copy_fixture(name, tmp_path))


def table(index: Snapshot, path: str) -> set[tuple]:
    """(qualname, kind, path, line, params, role) of every definition in one file."""
    return {
        (d.qualname, d.kind, d.path, d.line, d.params, d.role.value)
        for d in index.definitions()
        if d.path == path
    }
