"""A sorted rg pass split over a scope's parts (one process each): the same results as one
process, query by query, alone and combined, over a tree with ignore files, hidden and
odd-named directories and caps that fall across parts; and the code index hands a big
scope's partition to the runtime's rg backend."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from parallizer.backends.base import CodeQuery, Partition, Partitions
from parallizer.backends.ripgrep import RipgrepBackend
from parallizer.code.listing import MIN_SHARDED, partition
from parallizer.config import Settings
from parallizer.runtime import Runtime

from .test_rg_batch import QUERIES, WORD_QUERIES, WORDS

DIRS = [
    "a", "a/b", "a/b/c", "a-b", "a.b", "lib", "lib/x[1]", "lib/{y}", "lib/sp ace", "lib/st*r",
    "pkg", "pkg/q?", "pkg/deep/er/est", "vendor", "ignored", ".hidden", "x/y", "x.py.d",
]  # fmt: skip


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    rng = random.Random(11)
    root = tmp_path / "tree"
    for d in DIRS:
        (root / d).mkdir(parents=True, exist_ok=True)
    for i in range(90):
        d = root / (DIRS[i % len(DIRS)] if i % 7 else "")
        text = "\n".join(
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 6)))
            for _ in range(rng.randint(3, 40))
        )
        (d / f"m{i:02}.{'py' if i % 2 else 'log'}").write_text(text + "\n")
    (root / "x.py").write_text("TaskGroup Limiter self\n")  # a file named like a directory
    (root / ".gitignore").write_text("ignored/\n*.log\n!keep.log\n")
    (root / "a" / ".gitignore").write_text("b/c/\n")
    (root / "a" / "keep.log").write_text("Limiter self TaskGroup\n")
    (root / "pkg" / "blob.bin").write_bytes(b"Limiter\x00self\x00" * 50)
    return root


def listed(root: Path, rg: RipgrepBackend) -> list[str]:
    out = subprocess.run(
        [*rg._base_args(), "--files"], cwd=root, capture_output=True, text=True, check=True
    )
    return sorted(out.stdout.splitlines())


def by_hand(root: Path) -> Partition:
    """Shards of odd names and depths (split directories whose own files stay in the rest)."""
    return Partition(
        (("a/b", "lib/x[1]", "lib/{y}", "pkg/deep"), ("a-b", "lib/sp ace", "lib/st*r", "x"))
    )


def dump(result) -> dict:
    return result.model_dump(exclude={"shared_run", "warnings"})


@pytest.mark.parametrize("how", ["computed", "by hand"])
async def test_a_split_pass_finds_what_one_process_finds(tree: Path, how: str):
    one = RipgrepBackend(batch_window=None)
    parts = Partitions(ways=3)
    part = partition(listed(tree, one), 3, min_files=0) if how == "computed" else by_hand(tree)
    assert part is not None and len(part.shards) >= 2
    parts.put(tree, part)
    split = RipgrepBackend(batch_window=None, partitions=parts)
    queries = [*QUERIES, *WORD_QUERIES]
    alone = [await one._search_alone(q, tree) for q in queries]
    assert sum(len(r.matches) for r in alone) > 300  # the fixture really exercises it
    assert sum(r.truncated for r in alone) >= 4
    for q, a in zip(queries, alone, strict=True):
        b = await split._search_alone(q, tree)
        assert dump(b) == dump(a), q
    assert split.processes_run == (len(part.shards) + 1) * len(queries)
    assert not any(m.path.startswith(("ignored/", ".hidden/", "a/b/c/")) for r in alone
                   for m in r.matches)  # fmt: skip
    # combined: one split pass for all of them
    for batch in (QUERIES, WORD_QUERIES):
        together = await split._search_combined(list(batch), tree)
        for q, b in zip(batch, together, strict=True):
            assert b is not None and not isinstance(b, BaseException), q
            assert dump(b) == dump(await one._search_alone(q, tree)), q


async def test_context_is_cut_where_the_capped_pass_stops(tmp_path: Path):
    """The cap falls in the middle of a file of the second part: one process stops reading
    at the match past the cap, so the kept matches have no context beyond it."""
    root = tmp_path / "t"
    (root / "a").mkdir(parents=True)
    (root / "b").mkdir()
    (root / "a" / "f.py").write_text("Limiter\n" + "pad\n" * 10)
    (root / "b" / "g.py").write_text("x\nLimiter\nLimiter\ny\nz\nLimiter\nw\n")
    parts = Partitions(ways=2)
    parts.put(root, Partition((("b",),)))
    query = CodeQuery(pattern="Limiter", max_results=2, context=3)
    a = await RipgrepBackend(batch_window=None)._search_alone(query, root)
    b = await RipgrepBackend(batch_window=None, partitions=parts)._search_alone(query, root)
    assert a.truncated and [m.line for m in a.matches] == [1, 2]
    assert dump(b) == dump(a)


async def test_a_directory_gone_since_the_partition_is_no_failure(tree: Path):
    parts = Partitions(ways=3)
    parts.put(tree, Partition((("gone", "a-b"),)))
    query = CodeQuery(pattern="Limiter", max_results=1000)
    a = await RipgrepBackend(batch_window=None)._search_alone(query, tree)
    b = await RipgrepBackend(batch_window=None, partitions=parts)._search_alone(query, tree)
    assert dump(b) == dump(a)
    assert any("gone" in w for w in b.warnings)


def test_a_partition_balances_the_files_and_leaves_small_trees_whole():
    files = sorted(
        [f"big/sub{i}/f{j}.py" for i in range(8) for j in range(500)]
        + [f"mid{i}/f{j}.py" for i in range(4) for j in range(300)]
        + [f"top{j}.py" for j in range(200)]
        + ["tiny/one.py"]
    )
    part = partition(files, 4)
    assert part is not None and len(part.shards) == 3
    split_off = {d for shard in part.shards for d in shard}
    assert "big" not in split_off and any(d.startswith("big/") for d in split_off)
    assert "tiny" not in split_off  # not worth a glob: it stays in the rest
    size = {d: sum(f.startswith(d + "/") for f in files) for d in split_off}
    loads = [sum(size[d] for d in shard) for shard in part.shards]
    rest = len(files) - sum(loads)
    assert max([*loads, rest]) <= 1.25 * len(files) / 4
    assert partition(files[: MIN_SHARDED - 1], 4) is None
    assert partition(files, 1) is None


def big_tree(root: Path) -> Path:
    for i in range(MIN_SHARDED + 100):
        d = root / f"d{i % 12}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}.py").write_text(f"def f{i}():\n    return TaskGroup\n")
    return root


async def test_the_runtime_splits_passes_over_a_big_scope(tmp_path: Path):
    root = big_tree(tmp_path / "big")
    settings = Settings(allowed_roots=str(tmp_path), index_dir="")
    async with Runtime(settings, web=None, llm=None) as runtime:
        rg = runtime.rg
        assert isinstance(rg, RipgrepBackend) and rg.partitions is not None
        await runtime.code.snapshot(root)
        part = await rg.partitions.get(root)
        assert part is not None if rg.partitions.ways > 1 else part is None
        result = await rg.search(CodeQuery(pattern="TaskGroup", max_results=5000), root)
        assert len(result.matches) == MIN_SHARDED + 100
        assert rg.processes_run == (len(part.shards) + 1 if part else 1)


async def test_a_restart_splits_its_first_pass_before_the_index_is_loaded(tmp_path: Path):
    root = big_tree(tmp_path / "big")
    settings = Settings(allowed_roots=str(tmp_path), index_dir=str(tmp_path / "index"))

    async with Runtime(settings, web=None, llm=None) as runtime:
        assert runtime.code.store is not None
        load = runtime.code.store.kept_partition
        await runtime.code.snapshot(root)
        built = await runtime.code.partitions.get(root)  # type: ignore[union-attr]
    async with Runtime(settings, web=None, llm=None) as runtime:
        rg = runtime.rg
        assert isinstance(rg, RipgrepBackend) and rg.partitions is not None
        assert runtime.code.peek(root) is None  # nothing loaded: the partition is the file's
        if rg.partitions.ways > 1:
            assert built is not None and await rg.partitions.get(root) == built
            await rg.search(CodeQuery(pattern="TaskGroup", max_results=5000), root)
            assert rg.processes_run == len(built.shards) + 1
    # an ignore file above a shard's directory changed: the kept partition no longer holds
    assert load(root) is not None
    (root / ".gitignore").write_text("d3/\n")
    assert load(root) is None
    (root / ".gitignore").unlink()
    assert load(root) is not None  # absent again, as it was kept
    # a shard's directory replaced by a link: it is not named (rg's walk would not follow it)
    first = load(root).shards[0][0]  # type: ignore[union-attr]
    (root / first).rename(tmp_path / "moved")
    (root / first).symlink_to(tmp_path / "moved")
    kept = load(root)
    assert kept is None or first not in {d for s in kept.shards for d in s}


async def test_files_under_a_directory_named_like_a_file(tmp_path: Path):
    """rg lists `x/y.py` before `x.py` (by path component); the paths under `x/` are still
    all found."""
    root = tmp_path / "t"
    (root / "x" / "a").mkdir(parents=True)
    for name in ("x/y.py", "x.py", "x-z.py", "x/a/b.py"):
        (root / name).write_text("pass\n")
    settings = Settings(allowed_roots=str(tmp_path), index_dir="")
    async with Runtime(settings, web=None, llm=None) as runtime:
        snap = await runtime.code.snapshot(root)
        assert list(snap.files_under("x/")) == ["x/a/b.py", "x/y.py"]


def test_a_partition_too_long_for_the_header_is_not_kept(tmp_path: Path):
    """The index file must still load: a header over its limit would make it unreadable."""
    from parallizer.code.store import Entry, IndexStore

    root = tmp_path / "scope"
    root.mkdir()
    store = IndexStore(tmp_path / "index")
    entries = {"a.py": Entry(1, 2, "ok")}
    huge = Partition((tuple(f"dir/{'x' * 80}{i}" for i in range(2_000)),))
    assert store.save(str(root), root.name, entries, parts=(huge, [])) > 0
    loaded = store.load_all(str(root), root.name)
    assert loaded is not None and list(loaded.entries) == ["a.py"] and not loaded.parts
    assert store.kept_partition(root) is None
    small = Partition((("dir",),))
    (root / "dir").mkdir()
    store.save(str(root), root.name, entries, parts=(small, []))
    assert store.kept_partition(root) == small
