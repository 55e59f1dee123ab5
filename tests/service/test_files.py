"""The files API over real HTTP: the tree, reading, atomic saving, and every way a client
could try to leave its scope."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

import httpx
import pytest

from .kit import Echo, app_with, settings_for, uvicorn_server


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An allowed root holding a project with everything a tree must leave out, and a
    secret beside it (outside the allowed root)."""
    root = tmp_path / "allowed" / "proj"
    for rel, text in {
        "PLAN.md": "# Plan\n\nRetry the 🚀 launch.\n",
        "src/app.py": "print('hi')\n",
        "src/Zeta.ts": "export {}\n",
        "src/alpha/util.go": "package alpha\n",
        "README": "read me\n",
        ".env": "KEY=1\n",
        ".git/config": "[core]\n",
        "node_modules/x/index.js": "//\n",
        "build/out.txt": "x\n",
        "__pycache__/a.pyc": "x\n",
        "env2/pyvenv.cfg": "home = /usr\n",
        "env2/lib/site.py": "x\n",
        "pkg.egg-info/PKG-INFO": "x\n",
    }.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret\n")
    (root / "leak.txt").symlink_to(secret)  # a link out of the scope
    (root / "outdir").symlink_to(tmp_path)  # a directory link out of the scope
    (root / "inner-link.py").symlink_to(root / "src" / "app.py")  # a link inside
    return root


@pytest.fixture
async def client(project: Path):
    app = app_with(settings_for(project.parent), Echo())
    async with uvicorn_server(app) as base, httpx.AsyncClient(base_url=base, timeout=10) as c:
        yield c


def names(node: dict) -> list[str]:
    return [c["name"] for c in node["children"]]


async def test_tree_lists_dirs_first_then_files_and_leaves_out_noise(client, project):
    r = await client.get("/files/tree", params={"scope_root": str(project), "max_depth": 10})
    assert r.status_code == 200
    tree = r.json()
    assert tree["name"] == "proj" and tree["path"] == str(project)
    assert tree["type"] == "directory"
    # hidden, VCS, dependencies, virtualenv (by its pyvenv.cfg), build output, egg-info and
    # links out of the scope are left out; the link inside is listed
    assert names(tree) == ["src", "inner-link.py", "PLAN.md", "README"]
    src = tree["children"][0]
    assert src["path"] == str(project / "src")
    assert names(src) == ["alpha", "app.py", "Zeta.ts"]  # case folded
    leaf = src["children"][1]
    assert leaf == {"name": "app.py", "path": str(project / "src" / "app.py"), "type": "file"}


async def test_tree_depth_is_bounded(client, project):
    r = await client.get("/files/tree", params={"scope_root": str(project), "max_depth": 1})
    src = r.json()["children"][0]
    assert src["name"] == "src" and src["children"] is None  # not read
    r = await client.get("/files/tree", params={"scope_root": str(project), "max_depth": 99})
    assert r.status_code == 422


async def test_content_has_text_and_language(client, project):
    r = await client.post(
        "/files/content", json={"path": str(project / "PLAN.md"), "scope_root": str(project)}
    )
    assert r.status_code == 200
    assert r.json() == {
        "content": "# Plan\n\nRetry the 🚀 launch.\n",
        "language": "markdown",
        "path": str(project / "PLAN.md"),
    }
    # a path relative to the scope works too
    r = await client.post(
        "/files/content", json={"path": "src/Zeta.ts", "scope_root": str(project)}
    )
    assert r.json()["language"] == "typescript"


@pytest.mark.parametrize(
    ("rel", "status"),
    [
        ("../../secret.txt", 403),  # `..` out of the scope
        ("leak.txt", 403),  # a symlink out of the scope
        ("outdir/secret.txt", 403),  # through a directory link out of the scope
        ("nothing.md", 404),
        ("src", 422),  # a directory
        ("", 422),
    ],
)
async def test_content_stays_inside_the_scope(client, project, rel, status):
    r = await client.post("/files/content", json={"path": rel, "scope_root": str(project)})
    assert r.status_code == status, r.text
    assert "detail" in r.json() and "secret" not in r.text


async def test_scope_outside_the_allowed_roots_is_403(client, project, tmp_path):
    r = await client.get("/files/tree", params={"scope_root": str(tmp_path)})
    assert r.status_code == 403
    r = await client.post(
        "/files/content", json={"path": str(tmp_path / "secret.txt"), "scope_root": str(tmp_path)}
    )
    assert r.status_code == 403
    r = await client.get("/files/tree", params={"scope_root": ""})
    assert r.status_code == 422


async def test_binary_and_non_utf8_files_are_415(client, project):
    (project / "blob.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (project / "latin1.txt").write_bytes("café".encode("latin-1"))
    for name, why in (("blob.bin", "binary"), ("latin1.txt", "not UTF-8")):
        r = await client.post("/files/content", json={"path": name, "scope_root": str(project)})
        assert r.status_code == 415 and why in r.json()["detail"]


async def test_save_is_atomic_keeps_the_mode_and_creates_parents(client, project):
    plan = project / "PLAN.md"
    plan.chmod(0o640)
    inode = plan.stat().st_ino
    text = "# Plan\n\nNow with 🚀 and ünïcode.\n"
    r = await client.post(
        "/files/save", json={"path": str(plan), "content": text, "scope_root": str(project)}
    )
    assert r.status_code == 200
    assert r.json() == {
        "status": "success",
        "message": f"saved {plan}",
        "bytes": len(text.encode("utf-8")),
    }
    assert plan.read_text(encoding="utf-8") == text
    assert stat.S_IMODE(plan.stat().st_mode) == 0o640
    assert plan.stat().st_ino != inode  # replaced by a rename, not rewritten in place
    assert not [p for p in project.iterdir() if p.name.endswith(".tmp")]
    # a new file in new folders inside the scope
    r = await client.post(
        "/files/save",
        json={"path": "docs/new/NOTES.md", "content": "x", "scope_root": str(project)},
    )
    assert r.status_code == 200 and (project / "docs/new/NOTES.md").read_text() == "x"


@pytest.mark.parametrize(
    ("rel", "status"),
    [
        ("../escape.md", 403),
        ("outdir/planted.md", 403),  # through a directory link out
        ("leak.txt", 403),  # would overwrite the secret the link points at
        ("src", 409),  # a directory is never replaced
        ("README/child.md", 409),  # a parent that is a file
    ],
)
async def test_save_refuses_to_leave_the_scope_or_replace_a_directory(
    client, project, tmp_path, rel, status
):
    r = await client.post(
        "/files/save", json={"path": rel, "content": "pwned", "scope_root": str(project)}
    )
    assert r.status_code == status, r.text
    assert (tmp_path / "secret.txt").read_text() == "top secret\n"
    assert not (tmp_path / "allowed" / "escape.md").exists()
    assert not (tmp_path / "planted.md").exists()
    assert (project / "src").is_dir()


async def test_save_over_the_size_limit_is_413(project):
    app = app_with(settings_for(project.parent, max_document_bytes=1000), Echo())
    async with uvicorn_server(app) as base, httpx.AsyncClient(base_url=base) as client:
        body = {"path": "big.md", "content": "é" * 600, "scope_root": str(project)}
        r = await client.post("/files/save", json=body)
        assert r.status_code == 413  # 1200 bytes of UTF-8
        assert not (project / "big.md").exists()
        (project / "big.md").write_text("x" * 1001)
        r = await client.post("/files/content", json={"path": "big.md", "scope_root": str(project)})
        assert r.status_code == 413


async def test_content_with_a_lone_surrogate_is_422_not_500(client, project):
    raw = json.dumps({"path": "x.md", "content": "\ud800", "scope_root": str(project)})
    r = await client.post(
        "/files/save", content=raw.encode(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and "surrogate" in r.json()["detail"]


async def test_concurrent_saves_leave_one_whole_version(client, project):
    versions = [f"version {i}\n" * 2000 for i in range(8)]
    rs = await asyncio.gather(
        *(
            client.post(
                "/files/save", json={"path": "race.md", "content": v, "scope_root": str(project)}
            )
            for v in versions
        )
    )
    assert all(r.status_code == 200 for r in rs)
    assert (project / "race.md").read_text() in versions
    assert not [p for p in os.listdir(project) if p.endswith(".tmp")]
