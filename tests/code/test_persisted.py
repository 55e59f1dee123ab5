"""The persisted index (`PARALLIZER_INDEX_DIR`): a restart parses only what changed; a
corrupt, foreign or old file is rebuilt; worker processes share one directory."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from parallizer.code import CodeKnowledge
from parallizer.code.store import FORMAT, IndexStore

from ..hermetic import clean_env
from .conftest import copy_fixture

PARALLIZER = str(Path(sys.executable).with_name("parallizer"))


async def build(root: Path, index_dir: Path) -> tuple[dict, set]:
    """A fresh store (a restarted process) over `index_dir`: its stats, every definition."""
    store = CodeKnowledge(workers=0, store=IndexStore(index_dir))
    try:
        snap = await store.snapshot(root)
        return snap.stats(), {(d.qualname, d.path, d.line, d.role) for d in snap.definitions()}
    finally:
        await store.aclose()


async def test_a_restart_loads_the_index_and_parses_only_what_changed(tmp_path: Path) -> None:
    root = copy_fixture("python", tmp_path)
    index_dir = tmp_path / "index"
    first, defs = await build(root, index_dir)
    assert first["reparsed"] == 8 and first["loaded"] == 0
    assert first["index_file"].startswith(str(index_dir)) and read(first["index_file"])

    again, same = await build(root, index_dir)
    assert again["reparsed"] == 0 and again["loaded"] == 8 and same == defs
    # the tables persisted with it answer as the ones made from the rows do
    assert await lookups(root, index_dir) == await lookups(root, None)

    client = root / "pkg" / "client.py"
    client.write_text(client.read_text() + "\n\ndef added(a, b):\n    pass\n")
    example = root / "docs" / "example.py"
    os.utime(example, ns=(1, 1))  # touched, same content: its hash says unchanged
    edited, now = await build(root, index_dir)
    assert edited["reparsed"] == 1 and edited["loaded"] == 8
    assert now - defs == {("added", "pkg/client.py", now_line(client, "def added"), "source")}
    # and the touched file's new time was persisted: nothing to hash or parse next time
    last, _ = await build(root, index_dir)
    assert last["reparsed"] == 0


async def lookups(root: Path, index_dir: Path | None) -> list:
    store = CodeKnowledge(workers=0, store=IndexStore(index_dir) if index_dir else None)
    try:
        snap = await store.snapshot(root)
    finally:
        await store.aclose()
    names = sorted({d.name for d in snap.definitions()} | {"Clint", "sendd"})
    return [
        (n, [d.citation for d in snap.lookup(n)], [d.citation for d in snap.folded(n)],
         [d.citation for d in snap.members(n)], [(d.citation, s) for d, s in snap.near(n)])
        for n in names
    ] + [snap.stats()["roles"], snap.stats()["names"]]  # fmt: skip


def read(path: str) -> bytes:
    return Path(path).read_bytes()


def write(path: str, data: bytes) -> None:
    Path(path).write_bytes(data)


def now_line(path: Path, needle: str) -> int:
    return next(i for i, ln in enumerate(path.read_text().splitlines(), 1) if needle in ln)


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage", "empty"])
async def test_a_corrupt_index_file_is_rebuilt_with_one_log_line(
    tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    root = copy_fixture("python", tmp_path)
    index_dir = tmp_path / "index"
    first, defs = await build(root, index_dir)
    path = first["index_file"]
    data = read(path)
    write(
        path,
        {
            "flip": data[:-40] + bytes([data[-40] ^ 0xFF]) + data[-39:],
            "truncate": data[: len(data) // 2],
            "garbage": os.urandom(len(data)),
            "empty": b"",
        }[damage],
    )
    with caplog.at_level(logging.WARNING, logger="parallizer.index"):
        rebuilt, same = await build(root, index_dir)
    assert rebuilt["reparsed"] == 8 and rebuilt["loaded"] == 0 and same == defs
    assert len([r for r in caplog.records if "rebuilding" in r.getMessage()]) == 1
    healed, _ = await build(root, index_dir)  # the rebuild wrote a good file back
    assert healed["reparsed"] == 0 and healed["loaded"] == 8


async def test_a_foreign_or_old_index_file_is_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    one = copy_fixture("python", tmp_path / "one")
    two = copy_fixture("python", tmp_path / "two")
    index_dir = tmp_path / "index"
    a, _ = await build(one, index_dir)
    b, defs = await build(two, index_dir)
    # another scope's file in this scope's place
    write(b["index_file"], read(a["index_file"]))
    with caplog.at_level(logging.WARNING, logger="parallizer.index"):
        foreign, same = await build(two, index_dir)
    assert foreign["reparsed"] == 8 and same == defs
    assert any("another scope" in r.getMessage() for r in caplog.records)
    # a file of an older format, and one made by other extractors
    data = read(b["index_file"])
    fmt = f'"format": {FORMAT}'.encode()
    for old, new in ((fmt, b'"format": 0'), (b'"fingerprint": "', b'"fingerprint": "0')):
        assert old in data
        write(b["index_file"], data.replace(old, new, 1))
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="parallizer.index"):
            stale, same = await build(two, index_dir)
        assert stale["reparsed"] == 8 and same == defs
        assert [r for r in caplog.records if "rebuilding" in r.getMessage()]


async def test_a_package_index_is_keyed_by_its_version_not_its_root(tmp_path: Path) -> None:
    root = copy_fixture("python", tmp_path)
    files = ["pkg/client.py", "pkg/__init__.py"]
    store = CodeKnowledge(workers=0, store=IndexStore(tmp_path / "index"))
    try:
        v1 = await store.package(root, files, key="python:pkg==1.0:" + str(root), label="pkg")
        v2 = await store.package(root, files, key="python:pkg==2.0:" + str(root), label="pkg")
        again = await store.package(root, files, key="python:pkg==1.0:" + str(root), label="pkg")
    finally:
        await store.aclose()
    assert v1.build.reparsed == 2 and v2.build.reparsed == 2
    assert again.build.reparsed == 0 and again.build.loaded == 2
    assert v1.build.index_file != v2.build.index_file


def test_two_worker_processes_share_one_index_directory(tmp_path: Path) -> None:
    root = copy_fixture("python", tmp_path)
    index_dir = tmp_path / "index"
    env = clean_env(PARALLIZER_ALLOWED_ROOTS=str(tmp_path), PARALLIZER_INDEX_DIR=str(index_dir))

    def start() -> subprocess.Popen[str]:
        return subprocess.Popen(
            [PARALLIZER, "index", str(root), "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
        )  # fmt: skip

    both = [start(), start()]  # at once: both build, both write, one file stays whole
    outs = [p.communicate(timeout=60) for p in both]
    assert [p.returncode for p in both] == [0, 0], outs
    built = [json.loads(out) for out, _ in outs]
    assert built[0]["definitions"] == built[1]["definitions"] > 0
    third = start()
    out, err = third.communicate(timeout=60)
    stats = json.loads(out)
    assert stats["reparsed"] == 0 and stats["loaded"] == 8, err
    assert [p.name for p in index_dir.iterdir()] == [Path(stats["index_file"]).name]


def test_a_reader_never_sees_half_a_file_while_another_process_writes(tmp_path: Path) -> None:
    index_dir = tmp_path / "index"
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from parallizer.code.store import Entry, IndexStore
        store = IndexStore(Path(sys.argv[1]))
        role = sys.argv[2]
        if role == "write":
            for i in range(100):
                rows = tuple((f"n{i}_{k}", f"n{i}_{k}", None, "function", "python", "a.py",
                              k + 1, "source", 0, 0) for k in range(2000))
                store.save("scope", "scope", {"a.py": Entry(i, 1, "ok", rows)})
        else:
            seen = 0
            while not Path(sys.argv[3]).exists():
                got = store.load("scope", "scope")
                if got is not None:
                    (entry,) = got.values()
                    assert len(entry.rows) == 2000, len(entry.rows)
                    seen += 1
            print(seen)
        """
    )
    env = clean_env()
    stop = tmp_path / "stop"

    def start(role: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-c", script, str(index_dir), role, str(stop)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    readers = [start("read"), start("read")]
    writers = [start("write"), start("write")]
    werrs = [p.communicate(timeout=120)[1] for p in writers]
    stop.touch()
    reads = [p.communicate(timeout=60) for p in readers]
    assert [p.returncode for p in writers + readers] == [0, 0, 0, 0], (werrs, reads)
    assert not any("rebuilding" in err for _, err in reads), reads  # never a bad file
    assert all(int(out) > 0 for out, _ in reads), reads  # and they did read while it was written
    # and no temporary file left behind
    assert [p.name for p in index_dir.iterdir()] == [
        IndexStore(index_dir).path("scope", "scope").name
    ]
