"""The file list kept with the persisted index (`code/listing.py`): a restart over a tree in
which no directory changed does not list it again; any file added, removed or renamed, a new
directory, an ignore file edited in place, or a listing made while the tree was changing
makes the next start list it with rg again. The lister is the real rg, counted."""

from __future__ import annotations

import os
from pathlib import Path

from parallizer.backends.ripgrep import RipgrepBackend
from parallizer.code import CodeKnowledge
from parallizer.code.store import IndexStore

from .conftest import copy_fixture

OLD_NS = 1_600_000_000 * 10**9  # 2020: long before any listing in these tests


class CountingLister:
    def __init__(self) -> None:
        self.calls = 0
        self._rg = RipgrepBackend(sort=True, max_filesize="2M")

    async def __call__(self, root: Path, *, max_files: int = 20_000) -> list[str]:
        self.calls += 1
        return await self._rg.list_files(root, max_files=max_files)


def age(root: Path) -> None:
    """Every directory (and ignore file) of the tree last changed long ago, as in a tree
    nobody is editing; a listing is then not "racy"."""
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            if name.startswith("."):
                os.utime(os.path.join(dirpath, name), ns=(OLD_NS, OLD_NS))
        os.utime(dirpath, ns=(OLD_NS, OLD_NS))


async def start(root: Path, index_dir: Path) -> tuple[int, list[str], set[str]]:
    """A restarted process: (rg listings it ran, its file list, its definitions' names)."""
    lister = CountingLister()
    store = CodeKnowledge(workers=0, store=IndexStore(index_dir), list_files=lister)
    try:
        snap = await store.snapshot(root)
        return lister.calls, list(snap.files()), {d.name for d in snap.definitions()}
    finally:
        await store.aclose()


async def test_a_restart_over_an_unchanged_tree_does_not_list_it(tmp_path: Path) -> None:
    root = copy_fixture("python", tmp_path)
    age(root)
    index = tmp_path / "index"
    calls, files, names = await start(root, index)
    assert calls == 1 and "pkg/client.py" in files
    again = await start(root, index)
    assert again == (0, files, names)
    # and what it kept is what rg gives
    assert await CountingLister()(root, max_files=100) == files


async def test_a_file_added_removed_or_in_a_new_directory_is_listed(tmp_path: Path) -> None:
    root = copy_fixture("python", tmp_path)
    age(root)
    index = tmp_path / "index"
    await start(root, index)

    (root / "pkg" / "fresh.py").write_text("def fresh_one():\n    pass\n")
    calls, files, names = await start(root, index)
    assert calls == 1 and "pkg/fresh.py" in files and "fresh_one" in names

    age(root)
    await start(root, index)  # kept again, now with fresh.py
    (root / "pkg" / "fresh.py").unlink()
    calls, files, names = await start(root, index)
    assert calls == 1 and "pkg/fresh.py" not in files and "fresh_one" not in names

    age(root)
    await start(root, index)
    (root / "pkg" / "deep" / "er").mkdir(parents=True)
    (root / "pkg" / "deep" / "er" / "mod.py").write_text("class DeepOne:\n    pass\n")
    calls, files, names = await start(root, index)
    assert calls == 1 and "pkg/deep/er/mod.py" in files and "DeepOne" in names


async def test_an_ignore_file_edited_in_place_is_noticed(tmp_path: Path) -> None:
    root = copy_fixture("python", tmp_path)
    (root / ".ignore").write_text("nothing-matches-this\n")
    age(root)
    index = tmp_path / "index"
    calls, files, _ = await start(root, index)
    assert calls == 1 and "pkg/client.py" in files
    assert (await start(root, index))[0] == 0

    ignore = root / ".ignore"  # edited in place: the directory's time stays
    ignore.write_text(ignore.read_text() + "pkg/client.py\n")
    os.utime(root, ns=(OLD_NS, OLD_NS))
    calls, files, _ = await start(root, index)
    assert calls == 1 and "pkg/client.py" not in files


async def test_a_list_made_while_the_tree_changed_is_not_kept(tmp_path: Path) -> None:
    root = copy_fixture("python", tmp_path)
    (root / "pkg" / "new.py").write_text("x = 1\n")  # its directory changed just now
    index = tmp_path / "index"
    assert (await start(root, index))[0] == 1
    assert (await start(root, index))[0] == 1  # racy: listed again
    age(root)
    assert (await start(root, index))[0] == 1  # no longer racy: listed, and the list kept
    assert (await start(root, index))[0] == 0


async def test_a_build_that_left_files_over_does_not_keep_its_list(tmp_path: Path) -> None:
    """The kept list stands for "every file of a parsed language is in the entries": a build
    out of time has files that are not, so it keeps no list, and the next start lists the
    tree and parses them."""
    root = tmp_path / "many"
    root.mkdir()
    for i in range(60):  # 1.2 MB: over the thread threshold, two batches for one worker
        pad = '"""' + "padding\n" * 2500 + '"""\n'
        (root / f"m{i:02}.py").write_text(pad + f"def f{i}(a):\n    pass\n")
    age(root)
    index = tmp_path / "index"
    lister = CountingLister()
    store = CodeKnowledge(workers=1, build_budget=1e-6, store=IndexStore(index), list_files=lister)
    try:
        assert (await store.snapshot(root)).stats()["skipped"] == {"pending": 12}
    finally:
        await store.aclose()
    calls, _files, names = await start(root, index)
    assert calls == 1 and "f59" in names and len([n for n in names if n.startswith("f")]) == 60
    assert (await start(root, index))[0] == 0  # now complete: kept
