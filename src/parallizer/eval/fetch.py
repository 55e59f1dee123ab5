"""Trees at pinned versions, fetched once into a cache outside the repository.

Only through the registries' ordinary clients: pip's package index (PyPI sdists, by the
simple API pip itself reads), `npm pack` (npm),
`apt-get download` + `dpkg-deb -x` (Debian's librust-*-dev / golang-*-dev source packages).
Every archive's sha256 must match the manifest, so a tree is exactly reproducible.

Dependency projects (eval/projects.toml) are copied into the cache and get their packages
installed at exact pins by `pip`, `npm install` or `apt-get download` + `dpkg-deb -x`, once per
spec (a hash of the pins and the project's files). Blocking work (subprocesses, unpacking); the
CLI calls it before any event loop runs.
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

from .cases import ProjectSpec, TreeSpec

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


# --- dependency projects ------------------------------------------------------------------

PROJECT_STAMP = ".parallizer-eval.spec"


def spec_hash(spec: ProjectSpec) -> str:
    """What an install depends on: the kind, the language, the pins (a local archive by its
    content) and every file of the project's own folder. Unchanged: nothing is installed."""
    h = hashlib.sha256()
    h.update(f"{spec.install}\0{spec.language}\0".encode())
    for pkg in spec.packages:
        local = Path(pkg)
        h.update((sha256_of(local) if local.is_absolute() and local.is_file() else pkg).encode())
        h.update(b"\0")
    for f in sorted(p for p in spec.dir.rglob("*") if p.is_file()):
        h.update(f.relative_to(spec.dir).as_posix().encode() + b"\0")
        h.update(sha256_of(f).encode() + b"\0")
    return h.hexdigest()


def _pypi_install(spec: ProjectSpec, into: Path) -> None:
    """A venv at `into/.venv` with exactly the pinned packages (`--no-deps`: a dependency of a
    package is installed only when the project pins it too). The venv has no pip of its own:
    this interpreter's pip installs into it (`pip --python`)."""
    venv = into / ".venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], into)
    args = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
            "--no-deps", "--no-input", "--disable-pip-version-check", "-q"]  # fmt: skip
    if all(Path(p).is_absolute() for p in spec.packages):
        args.append("--no-index")  # local archives only: no index is asked
    _run([*args, *spec.packages], into)


def _npm_install(spec: ProjectSpec, into: Path) -> None:
    """The pins as the exact `dependencies` of the project's package.json (written into the
    copy), then `npm install` without scripts, audit or funding messages."""
    manifest = into / "package.json"
    try:
        body = json.loads(manifest.read_text()) if manifest.is_file() else {}
    except ValueError as exc:
        raise FetchError(f"{spec.name}: package.json is not JSON: {exc}") from exc
    deps = {}
    for pkg in spec.packages:
        if Path(pkg).is_absolute():
            deps[_npm_name(pkg)] = f"file:{pkg}"
        else:
            name, _, version = pkg.rpartition("@")
            deps[name] = version
    body = {"name": spec.name, "version": "0.0.0", "private": True} | body
    body["dependencies"] = deps
    manifest.write_text(json.dumps(body, indent=2) + "\n")
    _run(["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", "--silent"], into)


def _npm_name(archive: str) -> str:
    """The package name inside a local npm tarball (its package/package.json)."""
    try:
        with tarfile.open(archive) as tar:
            f = tar.extractfile("package/package.json")
            name = json.loads(f.read()).get("name") if f else None
    except (tarfile.TarError, OSError, KeyError, ValueError) as exc:
        raise FetchError(f"{archive}: not an npm package tarball ({exc})") from exc
    if not isinstance(name, str) or not name:
        raise FetchError(f"{archive}: its package.json has no name")
    return name


def upstream_version(debian_version: str) -> str:
    """`1:1.3.0+ds-2` -> `1.3.0`: no epoch, no Debian revision, no repack suffix."""
    v = debian_version.split(":", 1)[-1]
    v = v.rsplit("-", 1)[0] if "-" in v else v
    return re.split(r"[+~]", v, maxsplit=1)[0]


def _deb_install(spec: ProjectSpec, into: Path) -> None:
    """Each package's sources where the project's own build would find them vendored:
    Go: `usr/share/gocode/src/<import path>` -> `vendor/<import path>`, plus the
    `vendor/modules.txt` that `go build -mod=vendor` reads; Rust:
    `usr/share/cargo/registry/<crate>-<version>` -> `vendor/<crate>` (cargo vendor's layout)."""
    if spec.language not in ("go", "rust"):
        raise FetchError(f"{spec.name}: install = deb is for go or rust projects")
    vendor = into / "vendor"
    vendor.mkdir(exist_ok=True)
    modules: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for i, pkg in enumerate(spec.packages):
            if Path(pkg).is_absolute():
                deb, version = Path(pkg), _deb_field(Path(pkg), "Version")
            else:
                version = pkg.partition("=")[2]
                got = work / f"get{i}"
                got.mkdir()
                _run(["apt-get", "download", pkg], got)
                debs = list(got.glob("*.deb"))
                if len(debs) != 1:
                    raise FetchError(
                        f"{spec.name}: `apt-get download {pkg}` gave {len(debs)} files"
                    )
                deb = debs[0]
            out = work / f"x{i}"
            out.mkdir()
            _run(["dpkg-deb", "-x", str(deb), str(out)], out)
            if spec.language == "go":
                modules += _place_go(
                    out / "usr/share/gocode/src", vendor, upstream_version(version)
                )
            else:
                _place_rust(out / "usr/share/cargo/registry", vendor, pkg)
    if spec.language == "go":
        (vendor / "modules.txt").write_text("".join(modules))


def _deb_field(deb: Path, field: str) -> str:
    try:
        proc = subprocess.run(["dpkg-deb", "-f", str(deb), field], capture_output=True,
                              text=True, timeout=60)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"{deb}: cannot read its {field} ({exc})") from exc
    if proc.returncode != 0 or not proc.stdout.strip():
        raise FetchError(f"{deb}: no {field} field")
    return proc.stdout.strip()


def _place_go(src: Path, vendor: Path, version: str) -> list[str]:
    """Every module of the package (a folder with a go.mod, or else the shallowest folders
    holding .go files) into vendor/, and its modules.txt entry."""
    if not src.is_dir():
        raise FetchError("no usr/share/gocode/src in the package (not a golang-*-dev package?)")
    roots = sorted({m.parent for m in src.rglob("go.mod")}, key=lambda p: len(p.parts))
    if not roots:
        dirs = sorted({g.parent for g in src.rglob("*.go")}, key=lambda p: len(p.parts))
        roots = [d for d in dirs if not any(d.is_relative_to(r) for r in dirs if r != d)]
    roots = [r for r in roots if not any(r != o and r.is_relative_to(o) for o in roots)]
    entries = []
    for root in roots:
        path = root.relative_to(src).as_posix()
        dest = vendor / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(root, dest, symlinks=False, dirs_exist_ok=True)
        entries.append(f"# {path} v{version}\n## explicit\n{path}\n")
    return entries


def _place_rust(registry: Path, vendor: Path, pkg: str) -> None:
    crates = [d for d in registry.iterdir() if d.is_dir()] if registry.is_dir() else []
    if not crates:
        raise FetchError(f"{pkg}: no usr/share/cargo/registry/<crate> (not a librust-*-dev?)")
    for crate in crates:
        name = re.sub(r"-\d[^-]*$", "", crate.name)  # bytes-1.2.1 -> bytes
        shutil.copytree(crate, vendor / name, symlinks=False, dirs_exist_ok=True)


INSTALLERS: dict[str, Callable[[ProjectSpec, Path], None]] = {
    "pypi": _pypi_install,
    "npm": _npm_install,
    "deb": _deb_install,
}


def ensure_project(spec: ProjectSpec, cache: Path) -> Path:
    """`cache/projects/<name>`: a copy of the project's folder with its packages installed,
    reused while its stamp matches the spec's hash (a second run installs nothing). Installed
    in place (a venv does not survive a move); the stamp is written last, so an install that
    broke off is redone."""
    base = cache / "projects"
    target = base / spec.name
    stamp = base / f"{spec.name}{PROJECT_STAMP}"
    want = spec_hash(spec)
    if target.is_dir() and stamp.is_file() and stamp.read_text().strip() == want:
        return target
    stamp.unlink(missing_ok=True)
    if target.exists():
        shutil.rmtree(target)
    base.mkdir(parents=True, exist_ok=True)
    shutil.copytree(spec.dir, target, symlinks=False)
    INSTALLERS[spec.install](spec, target)
    stamp.write_text(want + "\n")
    return target


def ensure_projects(
    specs: list[ProjectSpec], cache: Path, say: Callable[[str], None] = lambda _: None
) -> dict[str, Path]:
    out = {}
    for spec in specs:
        stamp = cache / "projects" / f"{spec.name}{PROJECT_STAMP}"
        if not stamp.is_file() or stamp.read_text().strip() != spec_hash(spec):
            say(f"installing {spec.name} ({spec.install}: {', '.join(spec.packages)}) ...")
        out[spec.name] = ensure_project(spec, cache)
    return out
