"""The repository's `.pre-commit-hooks.yaml`, run by the real pre-commit in a temporary git
repository.

pre-commit installs a `language: python` hook into a virtualenv of its own with pip: the
package and every dependency (about 45 s with a warm pip cache, measured). The hook's
environment is built once for the session (one PRE_COMMIT_HOME, one hook repository at one
commit) and the cases reuse it. The hook repository is a commit of this checkout's own
files (the manifest, pyproject.toml, README.md, src/), so what is tested is the working
tree, committed or not."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..clients.proc import clean_env
from .kit import make_tree

ROOT = Path(__file__).resolve().parents[2]
PRE_COMMIT = str(Path(sys.executable).with_name("pre-commit"))
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
}  # fmt: skip

pytestmark = [
    pytest.mark.timeout(900),
    pytest.mark.skipif(shutil.which("git") is None, reason="needs git"),
]


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV},
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return out.stdout.strip()


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    """(hook repository, its commit, PRE_COMMIT_HOME): this checkout's hook, committed."""
    base = tmp_path_factory.mktemp("pre-commit")
    repo = base / "hooks"
    repo.mkdir()
    for name in (".pre-commit-hooks.yaml", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, repo / name)
    shutil.copytree(
        ROOT / "src", repo / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "hook")
    return repo, git(repo, "rev-parse", "HEAD"), base / "home"


def project(root: Path, hook: tuple[Path, str, Path]) -> Path:
    make_tree(root)
    (root / "docs").mkdir()
    (root / "docs" / "clean.md").write_text(
        "# Plan\n\nKeep `RetryPolicy.delay(attempt)` as it is.\n", encoding="utf-8"
    )
    repo, rev, _ = hook
    (root / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {repo}\n  rev: {rev}\n  hooks:\n  - id: parallizer-check\n",
        encoding="utf-8",
    )
    git(root, "init", "-q")
    git(root, "add", "-A")
    return root


def pre_commit(root: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**clean_env(root), **GIT_ENV, "PRE_COMMIT_HOME": str(home)}
    return subprocess.run(
        [PRE_COMMIT, "run", *args], cwd=root, env=env, capture_output=True, text=True, timeout=800
    )


def test_the_hook_blocks_a_plan_with_mistakes_and_passes_a_sound_one(tmp_path: Path, hook_repo):
    root = project(tmp_path / "proj", hook_repo)
    home = hook_repo[2]
    bad = pre_commit(root, home, "--files", "plan.md", "docs/clean.md", "src/app/retry.py")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "parallizer check" in bad.stdout and "Failed" in bad.stdout
    assert "plan.md:4:23: error wrong_name:" in bad.stdout
    assert "docs/clean.md:" not in bad.stdout  # checked, nothing to say

    good = pre_commit(root, home, "--files", "docs/clean.md")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Passed" in good.stdout

    code_only = pre_commit(root, home, "--files", "src/app/retry.py")
    assert code_only.returncode == 0
    assert "no files to check" in code_only.stdout  # not a Markdown file: not a plan
