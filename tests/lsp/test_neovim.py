"""A real editor: Debian's Neovim (headless) with its built-in LSP client drives
`parallizer lsp` on a plan in a fixture tree; what Neovim saw comes back as JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ..clients.proc import PARALLIZER, clean_env
from .kit import make_tree

NVIM = shutil.which("nvim")
SCRIPT = Path(__file__).with_name("nvim_client.lua")

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(NVIM is None, reason="nvim is not installed (.ci/run installs neovim)"),
]


def test_neovim_shows_diagnostics_hover_definition_and_applies_the_fix(tmp_path: Path):
    repo = make_tree(tmp_path / "repo")
    out = tmp_path / "seen.json"
    home = tmp_path / "home"
    env = clean_env(
        tmp_path,
        OUT=str(out), ROOT=str(repo), SERVER=PARALLIZER, HOME=str(home),
        XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"),
        XDG_STATE_HOME=str(home / "state"), XDG_CACHE_HOME=str(home / "cache"),
    )  # fmt: skip
    assert NVIM is not None
    proc = subprocess.run(
        [NVIM, "--headless", "--clean", "-c", f"luafile {SCRIPT}"],
        env=env, cwd=repo, capture_output=True, text=True, timeout=170,
    )  # fmt: skip
    assert out.is_file(), f"nvim wrote nothing: {proc.stdout}\n{proc.stderr}"
    seen = json.loads(out.read_text(encoding="utf-8"))
    assert "error" not in seen, seen
    codes = {d["code"] for d in seen["diagnostics"]}
    assert {"wrong_name", "missing_path", "ambiguous", "missing"} <= codes
    wrong = next(d for d in seen["diagnostics"] if d["code"] == "wrong_name")
    assert (wrong["lnum"], wrong["col"], wrong["end_col"]) == (3, 22, 39)
    assert wrong["severity"] == 1 and wrong["source"] == "parallizer"  # 1: ERROR
    assert "**class** `RetryPolicy`" in seen["hover"]
    assert sorted((Path(d["uri"]).name, d["line"]) for d in seen["definitions"]) == [
        ("config.py", 0),
        ("config.py", 1),
    ]
    assert "Replace `RetryPolicy.delai` with `RetryPolicy.delay`" in seen["actions"]
    assert "`RetryPolicy.delay()`" in seen["line_after"]
    assert seen["cleared"] is True
    assert "wrong_name" not in {d["code"] for d in seen["diagnostics_after"]}
    assert seen["exit_code"] == 0
