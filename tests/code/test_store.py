"""CodeKnowledge: incremental updates, single flight, bounds, bad files, eviction, cleanup."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from parallizer.code import CodeKnowledge
from parallizer.errors import BackendError

from ..conftest import children_named
from .conftest import copy_fixture


async def test_an_edit_reparses_only_that_file(tmp_path: Path, store: CodeKnowledge) -> None:
    root = copy_fixture("python", tmp_path)
    first = await store.snapshot(root)
    assert first.stats()["reparsed"] == 8
    # no change: nothing is read again, the same snapshot serves
    again = await store.snapshot(root, fresh=True)
    assert again is first and store.last_update(root).reparsed == 0
    client = root / "pkg" / "client.py"
    client.write_text(client.read_text() + "\n\ndef added(a, b, c):\n    pass\n")
    edited = await store.snapshot(root, fresh=True)
    assert edited.stats()["reparsed"] == 1 and store.last_update(root).reparsed == 1
    assert [(d.citation, d.params) for d in edited.lookup("added")] == [
        ("pkg/client.py:48", (3, 3))
    ]
    assert first.lookup("added") == []  # a snapshot never changes under its reader
    # a new file and a deleted one
    (root / "pkg" / "extra.py").write_text("class Extra:\n    pass\n")
    (root / "docs" / "example.py").unlink()
    after = await store.snapshot(root, fresh=True)
    assert after.stats()["reparsed"] == 1
    assert after.lookup("Extra")[0].citation == "pkg/extra.py:1"
    assert after.lookup("demo") == [] and not after.has_file("docs/example.py")


async def test_a_snapshot_is_served_at_once_and_refreshed_behind(tmp_path: Path) -> None:
    root = copy_fixture("python", tmp_path)
    store = CodeKnowledge(workers=0, refresh_after=0.0)
    try:
        first = await store.snapshot(root)
        (root / "pkg" / "late.py").write_text("def late():\n    pass\n")
        # stale: the snapshot in hand is returned at once; an update starts behind it once
        # due (ten times what checking the tree took)
        assert await store.snapshot(root) is first
        for _ in range(500):
            served = await store.snapshot(root)
            if served.lookup("late"):
                break
            assert served is first
            await asyncio.sleep(0.02)
        assert store.peek(root).lookup("late")[0].citation == "pkg/late.py:1"
    finally:
        await store.aclose()


async def test_concurrent_gets_share_one_build(tmp_path: Path, store: CodeKnowledge) -> None:
    root = copy_fixture("js", tmp_path)
    got = await asyncio.gather(*(store.snapshot(root) for _ in range(8)))
    assert store.builds == 1 and all(g is got[0] for g in got)


async def test_a_caller_that_leaves_does_not_cancel_the_shared_build(
    tmp_path: Path, store: CodeKnowledge
) -> None:
    root = copy_fixture("go", tmp_path)
    leaver = asyncio.create_task(store.snapshot(root))
    stayer = asyncio.create_task(store.snapshot(root))
    await asyncio.sleep(0)
    leaver.cancel()
    index = await stayer
    assert index.lookup("Server") and store.builds == 1


async def test_bad_files_give_a_partial_result(tmp_path: Path) -> None:
    root = copy_fixture("python", tmp_path)
    (root / "pkg" / "broken.py").write_text(
        "def fine(a):\n    pass\n\n$$$ ???\n\ndef after_error(x):\n    pass\n"
    )
    (root / "pkg" / "blob.py").write_bytes(b"def x():\x00\x01\x02 pass\n")
    (root / "pkg" / "huge.py").write_text("def huge():\n    pass\n" + "# pad\n" * 2000)
    (root / "pkg" / "latin1.py").write_bytes("def caf\xe9():\n    pass\n".encode("latin-1"))
    (root / "loop").symlink_to(root, target_is_directory=True)  # a symlink loop
    (root / "pkg" / "dangling.py").symlink_to(root / "nowhere.py")
    store = CodeKnowledge(workers=0, max_file_bytes=4096)
    try:
        index = await store.snapshot(root)
    finally:
        await store.aclose()
    stats = index.stats()
    assert stats["skipped"] == {"binary": 1, "too_big": 1}
    assert stats["parse_errors"] == 2  # broken.py and the latin-1 file
    assert any(s.startswith("pkg/broken.py: syntax error") for s in stats["error_samples"])
    # what parsed around the error is kept
    assert index.lookup("fine")[0].citation == "pkg/broken.py:1"
    assert index.lookup("after_error")[0].citation == "pkg/broken.py:6"
    assert index.lookup("huge") == [] and index.lookup("x") == []
    assert not any(f.startswith("loop/") for f in index.files())  # links are not followed
    assert index.lookup("Client")  # the rest of the tree is all there


async def test_unreadable_files_are_skipped(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    root = copy_fixture("python", tmp_path)
    secret = root / "pkg" / "secret.py"
    secret.write_text("def hidden():\n    pass\n")
    secret.chmod(0)
    store = CodeKnowledge(workers=0)
    try:
        index = await store.snapshot(root)
    finally:
        secret.chmod(0o644)
        await store.aclose()
    assert index.lookup("hidden") == [] and index.lookup("Client")
    assert index.stats()["partial"] is True


async def test_the_file_cap_marks_the_index_partial(tmp_path: Path) -> None:
    root = copy_fixture("python", tmp_path)
    store = CodeKnowledge(workers=0, max_files=3)
    try:
        index = await store.snapshot(root)
    finally:
        await store.aclose()
    stats = index.stats()
    assert stats["files"] == 3 and stats["partial"] is True
    assert "more than 3 files" in stats["partial_reasons"][0]


async def test_the_time_budget_leaves_files_for_the_next_update(tmp_path: Path) -> None:
    root = tmp_path / "many"
    root.mkdir()
    for i in range(60):  # 1.2 MB: over the thread threshold, two batches for one worker
        pad = '"""' + "padding\n" * 2500 + '"""\n'
        (root / f"m{i:02}.py").write_text(pad + f"def f{i}(a):\n    pass\n")
    store = CodeKnowledge(workers=1, build_budget=1e-6)
    try:
        first = await store.snapshot(root)
        s = first.stats()
        assert s["partial"] is True and s["skipped"] == {"pending": 12}
        assert s["parsed_files"] == 48  # the first round always goes out: progress
        assert "12 files left for the next update" in s["partial_reasons"][0]
        index = await store.snapshot(root, fresh=True)
        assert index.stats()["partial"] is False and index.stats()["reparsed"] == 12
        assert index.stats()["parsed_files"] == 60 and len(index.lookup("f59")) == 1
    finally:
        await store.aclose()
    assert _worker_pids() == []


async def test_least_recently_used_scope_is_dropped(tmp_path: Path) -> None:
    store = CodeKnowledge(workers=0, max_scopes=2)
    try:
        a = copy_fixture("python", tmp_path)
        b = copy_fixture("js", tmp_path)
        c = copy_fixture("go", tmp_path)
        await store.snapshot(a)
        await store.snapshot(b)
        await store.snapshot(a)  # a is now the most recently used
        await store.snapshot(c)
        assert store.peek(b) is None and store.peek(a) is not None and store.peek(c) is not None
    finally:
        await store.aclose()


async def test_a_root_that_cannot_be_listed_raises_a_backend_error(tmp_path: Path) -> None:
    from parallizer.errors import BackendError

    store = CodeKnowledge(workers=0)
    try:
        with pytest.raises(BackendError):
            await store.snapshot(tmp_path / "nowhere")
    finally:
        await store.aclose()


def _worker_pids() -> list[int]:
    out = []
    for pid in {*children_named("python"), *children_named(Path(sys.executable).name)}:
        try:
            if b"parallizer.workers" in Path(f"/proc/{pid}/cmdline").read_bytes():
                out.append(pid)
        except OSError:
            pass
    return out


async def test_the_loop_stays_responsive_while_a_big_scope_is_indexed(tmp_path: Path) -> None:
    """A few thousand files and some large ones, parsed by worker processes while a ticker
    runs on the loop. Structural, generous bound (not a speed goal)."""
    root = tmp_path / "big"
    body = "".join(
        f"class C{j}:\n    def m{j}(self, a, b=1):\n        return a\n\n" for j in range(5)
    )
    for d in range(30):
        sub = root / f"pkg{d}"
        sub.mkdir(parents=True)
        for i in range(100):
            (sub / f"mod{i}.py").write_text(body + f"def only_{d}_{i}():\n    pass\n")
    large = "".join(f"def big_{j}(x):\n    return [x] * {j}\n\n" for j in range(20000))
    for k in range(2):
        (root / f"large{k}.py").write_text(large[:900_000])
    store = CodeKnowledge(workers=2)
    gaps: list[float] = []
    seen_workers: list[int] = []
    done = asyncio.Event()

    async def ticker() -> None:
        # a gap counts as a stall for the CPU this process spent in it: on a loaded machine
        # the OS may not run us for a while (wall time passes, no CPU), which is not a loop
        # blocked by parsing (that burns CPU in this process for as long as it lasts)
        last, last_cpu = time.perf_counter(), time.process_time()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now, cpu = time.perf_counter(), time.process_time()
            gaps.append(min(now - last, cpu - last_cpu))
            last, last_cpu = now, cpu
            if not seen_workers:
                seen_workers.extend(_worker_pids())

    tick = asyncio.create_task(ticker())
    try:
        index = await store.snapshot(root)
    finally:
        done.set()
        await tick
        await store.aclose()
    assert index.stats()["parsed_files"] == 3002 and index.lookup("only_29_99")
    assert seen_workers, "the big build ran in worker processes"
    assert _worker_pids() == []  # reaped when the build ended
    assert max(gaps) < 0.5, f"the event loop stalled for {max(gaps):.3f} s of CPU"


async def test_a_slow_parse_is_cut_short_with_what_it_read(tmp_path: Path) -> None:
    """tree-sitter-python takes about a second on a block followed by thousands of comment
    lines: past the per-file limit the parse stops and what it read is kept."""
    root = tmp_path / "slow"
    root.mkdir()
    (root / "slow.py").write_text(
        "def first(a):\n    pass\n" + "# comment\n" * 4000 + "def last():\n    pass\n"
    )
    store = CodeKnowledge(workers=0, parse_seconds=0.02)
    try:
        index = await store.snapshot(root)
    finally:
        await store.aclose()
    assert index.lookup("first")[0].citation == "slow.py:1"
    assert index.lookup("last") == []
    assert index.stats()["error_samples"][0].startswith(
        "slow.py: parse stopped after 0.02s at line"
    )


async def test_closing_the_store_mid_build_kills_and_reaps_its_workers(tmp_path: Path) -> None:
    root = tmp_path / "closing"
    root.mkdir()
    pad = '"""' + "padding\n" * 2500 + '"""\n'
    for i in range(200):
        (root / f"m{i:03}.py").write_text(pad + f"def f{i}():\n    pass\n")
    store = CodeKnowledge(workers=2)
    build = asyncio.create_task(store.snapshot(root))
    for _ in range(1000):
        if _worker_pids():
            break
        await asyncio.sleep(0.01)
    assert _worker_pids(), "the build started its worker processes"
    await store.aclose()
    assert _worker_pids() == []
    with pytest.raises(BackendError):
        await build
    with pytest.raises(BackendError):
        await store.snapshot(root)  # closed


async def test_a_parser_process_that_dies_loses_only_its_batch(tmp_path: Path) -> None:
    """A worker killed mid-build (a crash in a parser's C code, the OOM killer): the files of
    the batch it held are marked unreadable, every other batch is parsed, the build ends
    well, and no worker is left behind."""
    root = tmp_path / "crash"
    root.mkdir()
    pad = '"""' + "padding\n" * 2500 + '"""\n'  # ~20 KB a file: 48 files a batch, 5 batches
    for i in range(200):
        (root / f"m{i:03}.py").write_text(pad + f"def f{i}():\n    pass\n")
    store = CodeKnowledge(workers=2)
    killed: list[int] = []

    async def kill_one() -> None:
        while not killed:
            if pids := _worker_pids():  # it is still starting: its first batch is in flight
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            await asyncio.sleep(0.005)

    killer = asyncio.create_task(kill_one())
    try:
        index = await store.snapshot(root)
    finally:
        killer.cancel()
        await store.aclose()
    assert killed, "a worker was killed"
    lost = index.stats()["skipped"].get("unreadable", 0)
    assert 0 < lost <= 48  # one batch's files
    assert sum(1 for i in range(200) if index.lookup(f"f{i}")) == 200 - lost
    assert _worker_pids() == []


async def test_without_worker_processes_the_build_parses_in_a_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Where no worker process can start (here: no interpreter where sys.executable says),
    every file is still parsed, in a thread, and the log says so once."""
    root = tmp_path / "many"
    root.mkdir()
    for i in range(30):  # 1.2 MB: over the thread threshold, for the worker processes
        pad = '"""' + "padding\n" * 5000 + '"""\n'
        (root / f"m{i:02}.py").write_text(pad + f"def f{i}(a):\n    pass\n")
    store = CodeKnowledge(workers=2)  # (its rg found first: it is found beside the python)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    try:
        with caplog.at_level(logging.WARNING, logger="parallizer.index"):
            index = await store.snapshot(root)
    finally:
        await store.aclose()
    assert index.stats()["parsed_files"] == 30 and len(index.lookup("f29")) == 1
    assert sum("parsed in a thread" in r.message for r in caplog.records) == 1
