"""Trees at pinned versions, fetched once into a cache outside the repository.

Only through the registries' ordinary clients: pip's package index (PyPI sdists, by the
simple API pip itself reads), `npm pack` (npm),
`apt-get download` + `dpkg-deb -x` (Debian's librust-*-dev / golang-*-dev source packages).
Every archive's sha256 must match the manifest, so a tree is exactly reproducible. Blocking work
(subprocesses, unpacking); the CLI calls it before any event loop runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from .cases import TreeSpec

STAMP = ".parallizer-eval.sha256"


class FetchError(RuntimeError):
    """A tree could not be fetched or did not match its checksum: one line saying why."""


def default_cache() -> Path:
    env = os.environ.get("PARALLIZER_EVAL_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "parallizer-eval"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _run(args: list[str], cwd: Path) -> None:
    try:
        proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)
    except FileNotFoundError as exc:
        raise FetchError(f"`{args[0]}` is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise FetchError(f"`{' '.join(args)}` took over 600 s") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        hint = ""
        if args[0] == "apt-get":
            hint = " (run `apt-get update` once, and check the version is still in the archive)"
        raise FetchError(f"`{' '.join(args)}` failed{hint}: {' | '.join(tail)}")


def _index_url() -> str:
    """pip's index (PIP_INDEX_URL or `pip config`), default PyPI's simple index."""
    url = os.environ.get("PIP_INDEX_URL")
    if not url:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            proc = subprocess.run(
                [sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            url = proc.stdout.strip() if proc.returncode == 0 else ""
    return (url or "https://pypi.org/simple").rstrip("/")


def _pypi_sdist(spec: TreeSpec, dest: Path) -> None:
    """The sdist named in the manifest, from the package index's simple API (PEP 691 JSON):
    the file itself, no build step (`pip download` would build metadata and its build tools)."""
    index = _index_url()
    page = f"{index}/{spec.package}/"
    accept = "application/vnd.pypi.simple.v1+json"
    try:
        req = urllib.request.Request(page, headers={"Accept": f"{accept}, text/html;q=0.1"})
        with urllib.request.urlopen(req, timeout=60) as r:
            kind, body = r.headers.get_content_type(), r.read()
        if kind == accept or kind.endswith("json"):
            files = json.loads(body).get("files", [])
            url = next((f["url"] for f in files if f.get("filename") == spec.file), None)
        else:  # an index serving only the HTML simple API (PEP 503)
            link = re.search(rf'href="([^"]*/{re.escape(spec.file)}(?:#[^"]*)?)"', body.decode())
            url = html.unescape(link.group(1)) if link else None
        if url is None:
            raise FetchError(f"{spec.name}: {page} lists no {spec.file}")
        with urllib.request.urlopen(urllib.parse.urljoin(page, url), timeout=300) as r:
            with dest.open("wb") as f:
                shutil.copyfileobj(r, f)
    except (OSError, ValueError) as exc:  # URLError is an OSError; bad JSON a ValueError
        raise FetchError(f"{spec.name}: cannot fetch {spec.file} from {page}: {exc}") from exc


def download(spec: TreeSpec, dest: Path) -> Path:
    """The archive in `dest` (downloaded unless already there), checksum verified."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / spec.file
    if not archive.is_file():
        with tempfile.TemporaryDirectory(dir=dest) as tmp:
            work = Path(tmp)
            if spec.source == "pypi":
                _pypi_sdist(spec, work / spec.file)
            elif spec.source == "npm":
                _run(["npm", "pack", "--silent", f"{spec.package}@{spec.version}"], work)
            elif spec.source == "deb":
                _run(["apt-get", "download", f"{spec.package}={spec.version}"], work)
            else:  # file: a local archive (tests, or a tree you keep yourself)
                src = Path(spec.package).expanduser()
                if not src.is_file():
                    raise FetchError(f"{spec.name}: no archive {src}")
                shutil.copyfile(src, work / spec.file)
            got = work / spec.file
            if not got.is_file():
                found = ", ".join(sorted(p.name for p in work.iterdir())) or "nothing"
                raise FetchError(f"{spec.name}: expected {spec.file}, got {found}")
            got.replace(archive)
    digest = sha256_of(archive)
    if digest != spec.sha256:
        bad = archive.with_name(archive.name + ".bad")
        archive.replace(bad)
        raise FetchError(
            f"{spec.name}: {spec.file} has sha256 {digest}, the manifest pins {spec.sha256} "
            f"(moved aside to {bad.name})"
        )
    return archive


def _unpack(spec: TreeSpec, archive: Path, into: Path) -> None:
    if archive.name.endswith(".deb"):
        _run(["dpkg-deb", "-x", str(archive), str(into)], into)
        return
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(into, filter="data")  # no links out, no absolute paths, no devices
    except (tarfile.TarError, OSError) as exc:
        raise FetchError(f"{spec.name}: cannot unpack {archive.name}: {exc}") from exc


def ensure_tree(spec: TreeSpec, cache: Path) -> Path:
    """`cache/trees/<name>`: the unpacked tree, reused while its stamp matches the checksum."""
    trees = cache / "trees"
    tree = trees / spec.name
    stamp = trees / f"{spec.name}{STAMP}"
    if tree.is_dir() and stamp.is_file() and stamp.read_text().strip() == spec.sha256:
        return tree
    archive = download(spec, cache / "archives")
    trees.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=trees) as tmp:
        work = Path(tmp)
        _unpack(spec, archive, work)
        top = (work / spec.root).resolve()
        if not top.is_relative_to(work.resolve()) or not top.is_dir():
            raise FetchError(f"{spec.name}: no directory {spec.root!r} in {archive.name}")
        if tree.exists():
            shutil.rmtree(tree)
        top.replace(tree)
    stamp.write_text(spec.sha256 + "\n")
    return tree


def ensure_trees(
    specs: list[TreeSpec], cache: Path, say: Callable[[str], None] = lambda _: None
) -> dict[str, Path]:
    out = {}
    for spec in specs:
        stamp = cache / "trees" / f"{spec.name}{STAMP}"
        if not stamp.is_file():
            say(f"fetching {spec.name} {spec.version} ({spec.source}: {spec.package}) ...")
        out[spec.name] = ensure_tree(spec, cache)
    return out
