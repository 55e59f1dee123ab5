"""What a code source finds: the packages a project has installed (`Package`), and the
project's environment for one ecosystem (`Environment`): where they are installed, at which
versions, and what the project declares and locks.

A source is a module with a `SOURCE` object (the `Source` protocol) registered in
`sources/__init__.py`. Discovery reads files only (manifests, lock files, package metadata)
and runs in a worker thread; it never imports or runs the project's code.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Protocol

from ..listing import mtime

MAX_MANIFEST_BYTES = 4 << 20
"""A manifest or lock file larger than this is not read (a lock file of a huge monorepo)."""
MAX_PACKAGE_FILES = 4000
"""Code files of one package that are indexed (the first ones by path)."""


@dataclass(frozen=True, slots=True)
class Package:
    """One installed package, at the version installed.

    `root` is the directory its `files` are relative to (site-packages for a Python
    distribution, `node_modules/<name>` for an npm package, the module's directory for Go,
    the crate's for Rust); a citation of its code is `name==version:path:line`."""

    ecosystem: str
    name: str
    """As its ecosystem spells it: `python-dateutil`, `@types/ms`, `github.com/google/uuid`."""
    version: str
    root: Path
    modules: tuple[str, ...] = ()
    """The names code imports it by: Python's top-level modules (`dateutil`), the npm name,
    the Go import path, the Rust crate name (`serde_json`)."""
    files: tuple[str, ...] | None = None
    """Its code files (relative to `root`), when its metadata lists them (a wheel's RECORD);
    None: the source walks `root` when the package is indexed."""
    types_for: str | None = None
    """`@types/ms` holds the types of `ms`."""
    where: str = ""
    """How it was found, when that is worth saying (`vendor/`, Debian's `/usr/share/gocode`)."""

    @property
    def label(self) -> str:
        """`redis 4.6.0`: how a card names it."""
        return f"{self.name} {self.version}"

    @property
    def pin(self) -> str:
        return f"{self.name}=={self.version}"

    @property
    def key(self) -> str:
        """One index per package and version (and place: two venvs may hold two builds)."""
        return f"{self.ecosystem}:{self.pin}:{self.root}"

    def citation(self, path: str, line: int) -> str:
        return f"{self.pin}:{path}:{line}"


@dataclass(frozen=True)
class Environment:
    """A scope's dependencies in one ecosystem: what is installed (and where), what the
    project declares (its manifest) and locks (its lock file)."""

    ecosystem: str
    scope: Path
    manifest: str | None = None
    """The file that declares dependencies (`pyproject.toml`, `package.json`, `go.mod`, ...),
    relative to the scope; None when the project has none."""
    location: Path | None = None
    """Where the packages are installed: site-packages, node_modules, vendor/, ..."""
    where: str = ""
    """The environment as a person would name it (`.venv (Python 3.11)`, `node_modules`)."""
    packages: tuple[Package, ...] = ()
    declared: dict[str, str] = field(default_factory=dict)
    """Normalised name -> the requirement as the manifest writes it."""
    locked: dict[str, str] = field(default_factory=dict)
    """Normalised name -> the version a lock file pins."""
    note: str | None = None
    """Why nothing is installed here, when nothing is (said once where it matters)."""
    stamps: tuple[tuple[str, int], ...] = ()
    """Files and directories whose change means discovering again: (path, mtime_ns or -1)."""
    normalise: str = "exact"
    """How names compare: `python` (PEP 503), `cargo` (`-` = `_`), `exact`."""
    own: str | None = None
    """The project's own name in its manifest (never one of its dependencies)."""

    @property
    def found(self) -> bool:
        return bool(self.packages)

    def key(self, name: str) -> str:
        return normalise(name, self.normalise)

    def installed(self, name: str) -> Package | None:
        k = self.key(name)
        for p in self.packages:
            if self.key(p.name) == k:
                return p
        return None

    def is_declared(self, name: str) -> bool:
        return self.key(name) in self.declared

    @cached_property
    def _modules(self) -> dict[str, list[Package]]:
        out: dict[str, list[Package]] = {}
        for p in self.packages:
            for m in p.modules:
                if m:
                    out.setdefault(m, []).append(p)
        return out

    def by_module(self, module: str) -> list[Package]:
        """The installed packages code imports as `module` (`redis.asyncio` -> redis,
        `lodash/fp` -> lodash, `github.com/pkg/errors/sub` -> github.com/pkg/errors), the
        longest import name first; typings (`@types/x`) after the package they type."""
        out: list[Package] = []
        table = self._modules
        cut = len(module)
        while cut > 0:
            for p in table.get(module[:cut], ()):
                if p not in out:
                    out.append(p)
            cut = max(module.rfind(".", 0, cut), module.rfind("/", 0, cut))
        out.sort(key=lambda p: p.types_for is not None)  # stable: longest name first
        return out

    def summary(self) -> dict[str, object]:
        """What `parallizer index` and /health say about it (JSON-ready)."""
        installed = {self.key(p.name) for p in self.packages}
        return {
            "ecosystem": self.ecosystem,
            "manifest": self.manifest,
            "where": self.where or (str(self.location) if self.location else None),
            "location": str(self.location) if self.location else None,
            "note": self.note,
            "packages": [
                {
                    "name": p.name,
                    "version": p.version,
                    "declared": self.is_declared(p.name),
                    "locked": self.locked.get(self.key(p.name)),
                    **({"where": p.where} if p.where else {}),
                }
                for p in sorted(self.packages, key=lambda p: p.name.lower())
            ],
            "declared_not_installed": sorted(n for n in self.declared if n not in installed),
        }


_PEP503 = re.compile(r"[-_.]+")


def normalise(name: str, how: str) -> str:
    if how == "python":
        return _PEP503.sub("-", name).lower()
    if how == "cargo":
        return name.replace("-", "_")
    return name


@dataclass(frozen=True, slots=True)
class Options:
    """Where each source looks besides the scope: what settings and the process's
    environment name (built once in the runtime; a test passes its own)."""

    python: str | None = None
    """PARALLIZER_PYTHON: an interpreter (or a virtualenv's directory)."""
    virtual_env: str | None = None
    """$VIRTUAL_ENV: the active virtualenv, when the scope has none."""
    gomodcache: str | None = None
    """$GOMODCACHE, else $GOPATH/pkg/mod, else ~/go/pkg/mod."""
    cargo_home: str | None = None
    """$CARGO_HOME, else ~/.cargo."""
    maven_repo: str | None = None
    """~/.m2/repository."""
    system: bool = True
    """Look in the distribution's shared trees too (Debian's /usr/share/gocode/src,
    /usr/share/cargo/registry)."""
    unpack_dir: str | None = None
    """Where sources jars are unpacked to be indexed (None: Java sources are not read)."""

    @classmethod
    def from_environ(
        cls, environ: dict[str, str] | os._Environ[str], *, python: str | None = None,
        virtual_env: str | None = None, unpack_dir: str | None = None,
    ) -> Options:  # fmt: skip
        home = Path(environ.get("HOME") or Path.home())
        gopath = environ.get("GOPATH", "").split(os.pathsep)[0] or str(home / "go")
        return cls(
            python=python,
            virtual_env=virtual_env,
            gomodcache=environ.get("GOMODCACHE") or str(Path(gopath) / "pkg" / "mod"),
            cargo_home=environ.get("CARGO_HOME") or str(home / ".cargo"),
            maven_repo=str(home / ".m2" / "repository"),
            unpack_dir=unpack_dir,
        )


class Source(Protocol):
    """One ecosystem's discovery."""

    ecosystem: str
    language: str
    """The language whose plans name its packages (`python`, `typescript`, `go`, `rust`)."""

    def discover(self, scope: Path, options: Options) -> Environment | None:
        """The scope's environment, or None when the scope is no project of this ecosystem
        (no manifest, lock file or environment). Blocking: run it in a thread."""
        ...

    def code_files(self, package: Package) -> list[str]:
        """The files of `package` worth indexing, relative to its root (blocking)."""
        ...


# --- small readers every source uses --------------------------------------------------------


def read_text(path: Path, limit: int = MAX_MANIFEST_BYTES) -> str | None:
    """A manifest's text, or None when it is missing, unreadable or too large."""
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError:
        return None
    if len(data) > limit:
        return None
    return data.decode("utf-8", errors="replace")


def stamp(path: Path) -> tuple[str, int]:
    """(path, st_mtime_ns or -1 when absent): what says a manifest or directory changed."""
    return str(path), mtime(str(path))


def stamps_changed(stamps: Iterable[tuple[str, int]]) -> bool:
    return any(mtime(p) != m for p, m in stamps)


SKIP_DIRS = frozenset(
    "__pycache__ node_modules test tests testing __tests__ testdata examples example docs doc "
    "benchmarks bench benches .git .github".split()
)


def walk_files(
    root: Path, suffixes: tuple[str, ...], *, skip: frozenset[str] = SKIP_DIRS,
    limit: int = MAX_PACKAGE_FILES,
) -> list[str]:  # fmt: skip
    """Files under `root` whose name ends with one of `suffixes`, relative and '/'-separated,
    sorted; directories named in `skip` (and hidden ones) left out; symlinked directories not
    followed (no loop). At most `limit` files."""
    out: list[str] = []
    for path in _walk(root, root, suffixes, skip):
        out.append(path)
        if len(out) >= limit:
            break
    out.sort()
    return out


def _walk(root: Path, d: Path, suffixes: tuple[str, ...], skip: frozenset[str]) -> Iterator[str]:
    try:
        entries = sorted(os.scandir(d), key=lambda e: e.name)
    except OSError:
        return
    for e in entries:
        if e.name.startswith("."):
            continue
        try:
            if e.is_dir(follow_symlinks=False):
                if e.name not in skip:
                    yield from _walk(root, Path(e.path), suffixes, skip)
            elif e.name.endswith(suffixes) and e.is_file():
                yield Path(e.path).relative_to(root).as_posix()
        except OSError:
            continue
