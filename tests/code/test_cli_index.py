"""`parallizer index SCOPE`: what it prints, and bad input as one line on stderr, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ..hermetic import clean_env
from ..test_cli import run
from .conftest import copy_fixture


def test_index_prints_files_definitions_per_language_and_build_time(tmp_path: Path) -> None:
    root = copy_fixture("c", tmp_path)
    proc = run(["index", str(root)], roots=tmp_path, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "files        5 listed, 5 parsed" in out
    assert "definitions  27 (26 distinct names)" in out
    assert [ln.split()[:2] for ln in out.splitlines() if ln.startswith("  c ") or ln.startswith("  cpp")] == [
        ["c", "15"], ["cpp", "12"],
    ]  # fmt: skip
    assert "source 14, vendored 1" in out and "build        " in out
    assert "PARTIAL" not in out
    assert "persisted    no (PARALLIZER_INDEX_DIR is empty: memory only)" in out


def test_index_says_where_it_persists_and_whether_it_was_loaded(tmp_path: Path) -> None:
    root = copy_fixture("c", tmp_path)
    index_dir = tmp_path / "index"
    env = clean_env(PARALLIZER_ALLOWED_ROOTS=str(tmp_path), PARALLIZER_INDEX_DIR=str(index_dir))
    cmd = [str(Path(sys.executable).with_name("parallizer")), "index", str(root)]
    outs = [
        subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=50,
                       check=True).stdout
        for _ in range(2)
    ]  # fmt: skip
    (stored,) = index_dir.iterdir()
    assert f"persisted    {stored}: built" in outs[0]
    assert f"persisted    {stored}: loaded (5 files, 0 parsed again)" in outs[1]


def test_index_json_is_the_stats_of_the_index(tmp_path: Path) -> None:
    root = copy_fixture("python", tmp_path)
    (root / "pkg" / "blob.py").write_bytes(b"\x00\x01binary")
    proc = run(["index", str(root), "--json"], roots=tmp_path, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)
    assert stats["root"] == str(root)
    assert stats["files"] == 9 and stats["parsed_files"] == 8
    assert stats["languages"] == {"python": 24} and stats["skipped"] == {"binary": 1}
    assert stats["roles"]["python/source"] == 17 and stats["partial"] is False
    assert stats["build_ms"] > 0


@pytest.mark.parametrize("case", ["missing", "a file", "outside the allowed roots"])
def test_index_bad_scope_is_one_line_and_exit_2(tmp_path: Path, case: str) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "f.py").write_text("x = 1\n")
    (tmp_path / "outside").mkdir()
    scope = {
        "missing": allowed / "nowhere",
        "a file": allowed / "f.py",
        "outside the allowed roots": tmp_path / "outside",
    }[case]
    proc = run(["index", str(scope)], roots=allowed, cwd=allowed)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("parallizer: error: SCOPE "), proc.stderr
