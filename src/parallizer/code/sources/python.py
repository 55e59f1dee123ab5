"""Python: the packages installed in the project's interpreter, and what it declares.

The interpreter is `PARALLIZER_PYTHON` (an interpreter, or a virtualenv's directory), else the
scope's `.venv` or `venv`, else `$VIRTUAL_ENV`. Its site-packages comes from the virtualenv's
layout (`lib/pythonX.Y/site-packages`), or, for an interpreter outside one, from asking it
once (`sysconfig`'s purelib and platlib). Each distribution's name and version come from its
`*.dist-info/METADATA` (or `*.egg-info/PKG-INFO`), its import names from `top_level.txt` (else
its RECORD), its files from RECORD.

Declared: `pyproject.toml` (PEP 621 `dependencies`, `optional-dependencies`, PEP 735
`dependency-groups`, poetry's `[tool.poetry.*dependencies]`) and `requirements*.txt`; locked:
`uv.lock`, `poetry.lock`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import threading
import tomllib
from pathlib import Path
from typing import Any

from .base import Environment, Options, Package, read_text, stamp, walk_files

ECOSYSTEM = "python"
LANGUAGE = "python"
VENV_DIRS = (".venv", "venv")
MANIFESTS = ("pyproject.toml", "setup.py", "setup.cfg", "uv.lock", "poetry.lock", "Pipfile")
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_CODE = (".py", ".pyi")
_TEST_PARTS = frozenset({"test", "tests", "testing", "__pycache__"})
ASK_TIMEOUT = 10.0

_asked: dict[tuple[str, int], list[str]] = {}
_asked_lock = threading.Lock()


class PythonSource:
    ecosystem = ECOSYSTEM
    language = LANGUAGE

    def discover(self, scope: Path, options: Options) -> Environment | None:
        requirements = sorted(scope.glob("requirements*.txt")) + sorted(
            scope.glob("requirements/*.txt")
        )
        present = [m for m in MANIFESTS if (scope / m).is_file()]
        venv = _scope_venv(scope)
        if not present and not requirements and venv is None and not options.python:
            return None
        stamps = [stamp(scope / m) for m in (*MANIFESTS, *VENV_DIRS)]
        stamps += [stamp(p) for p in requirements]
        declared, own = _declared(scope, requirements)
        locked = _locked(scope)
        manifest = next(
            (m for m in ("pyproject.toml", "setup.py", "setup.cfg", "Pipfile") if m in present),
            requirements[0].relative_to(scope).as_posix() if requirements else None,
        )
        where, sites, note = _interpreter(scope, venv, options)
        packages: list[Package] = []
        for site in sites:
            stamps.append(stamp(site))
            packages += _distributions(site, skip=own)
        if sites and not packages:
            note = f"no package is installed in {where}"
        return Environment(
            ecosystem=ECOSYSTEM,
            scope=scope,
            manifest=manifest,
            location=sites[0] if sites else None,
            where=where,
            packages=tuple(_unique(packages)),
            declared=declared,
            locked=locked,
            note=note,
            stamps=tuple(stamps),
            normalise="python",
            own=own,
        )

    def code_files(self, package: Package) -> list[str]:
        if package.files is not None:
            return list(package.files)
        out: list[str] = []
        for module in package.modules:
            base = package.root / module
            if base.is_dir():
                out += [f"{module}/{f}" for f in walk_files(base, _CODE)]
            for suffix in _CODE:
                if (package.root / f"{module}{suffix}").is_file():
                    out.append(f"{module}{suffix}")
        return sorted(out)


SOURCE = PythonSource()


# --- the interpreter ------------------------------------------------------------------------


def _scope_venv(scope: Path) -> Path | None:
    for name in VENV_DIRS:
        if (scope / name / "pyvenv.cfg").is_file():
            return scope / name
    return None


def _interpreter(
    scope: Path, venv: Path | None, options: Options
) -> tuple[str, list[Path], str | None]:
    """(how to name it, its site-packages directories, why none)."""
    if options.python:
        given = Path(options.python).expanduser()
        if given.is_dir():
            return _from_venv(given, scope, "PARALLIZER_PYTHON")
        home = given.parent.parent
        if (home / "pyvenv.cfg").is_file():
            return _from_venv(home, scope, "PARALLIZER_PYTHON")
        if not os.access(given, os.X_OK):
            return (str(given), [],
                    f"PARALLIZER_PYTHON={given} is not an interpreter: dependencies not read")  # fmt: skip
        sites = [Path(p) for p in _ask(given) if Path(p).is_dir()]
        note = None if sites else f"{given} did not say where its packages are"
        return f"{given} (PARALLIZER_PYTHON)", sites, note
    if venv is not None:
        return _from_venv(venv, scope, None)
    if options.virtual_env:
        return _from_venv(Path(options.virtual_env), scope, "$VIRTUAL_ENV")
    return (
        "",
        [],
        "no Python environment found (no .venv or venv in the scope; PARALLIZER_PYTHON and "
        "$VIRTUAL_ENV unset): the plan's uses of its dependencies are not checked",
    )


def _from_venv(venv: Path, scope: Path, via: str | None) -> tuple[str, list[Path], str | None]:
    cfg = read_text(venv / "pyvenv.cfg", 1 << 16) or ""
    version = re.search(r"^\s*version(?:_info)?\s*=\s*([\d.]+)", cfg, re.M)
    try:
        shown = venv.relative_to(scope).as_posix()
    except ValueError:
        shown = str(venv)
    where = shown + (f" (Python {version.group(1)})" if version else "") + (f", {via}" if via else "")
    sites = sorted(
        (p for p in venv.glob("lib/python*/site-packages") if p.is_dir()),
        key=lambda p: _version_key(p.parent.name),
        reverse=True,
    )[:1] or [p for p in (venv / "Lib" / "site-packages",) if p.is_dir()]
    if not sites:
        return where, [], f"{where} has no site-packages directory"
    return where, sites, None


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", name))


_ASK = (
    "import json, site, sysconfig; p = sysconfig.get_paths(); "
    "print(json.dumps([p['purelib'], p['platlib'], *site.getsitepackages()]))"
)


def _ask(python: Path) -> list[str]:
    """Where an interpreter outside a virtualenv keeps its packages: asked once per
    interpreter (and its mtime), in the calling (worker) thread."""
    try:
        key = (str(python), os.stat(python).st_mtime_ns)
    except OSError:
        return []
    with _asked_lock:
        if key in _asked:
            return _asked[key]
    try:
        done = subprocess.run(  # the configured interpreter, fixed arguments
            [str(python), "-I", "-c", _ASK],
            capture_output=True,
            timeout=ASK_TIMEOUT,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        found = json.loads(done.stdout) if done.returncode == 0 else []
        paths = list(dict.fromkeys(str(p) for p in found if isinstance(p, str)))
    except (OSError, subprocess.TimeoutExpired, ValueError):
        paths = []
    with _asked_lock:
        _asked[key] = paths
    return paths


# --- installed distributions ----------------------------------------------------------------


def _headers(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, sep, value = line.partition(":")
        if sep and not key.startswith((" ", "\t")):
            out.setdefault(key.strip().lower(), value.strip())
    return out


def _distributions(site: Path, skip: str | None) -> list[Package]:
    out: list[Package] = []
    try:
        entries = sorted(os.scandir(site), key=lambda e: e.name)
    except OSError:
        return out
    for e in entries:
        if e.name.endswith(".dist-info") and e.is_dir():
            meta = read_text(Path(e.path) / "METADATA", 1 << 20)
        elif e.name.endswith(".egg-info"):
            info = Path(e.path)
            meta = read_text(info / "PKG-INFO" if info.is_dir() else info, 1 << 20)
        else:
            continue
        head = _headers(meta or "")
        name, version = head.get("name"), head.get("version")
        if not name or not version:
            continue
        if skip and _norm(name) == _norm(skip):
            continue  # the project itself, installed in its own environment
        out.append(_package(site, Path(e.path), name, version))
    return out


def _package(site: Path, info: Path, name: str, version: str) -> Package:
    record = read_text(info / "RECORD", 8 << 20) if info.is_dir() else None
    files: list[str] | None = None
    tops: list[str] = []
    if record is not None:
        files = []
        for row in csv.reader(io.StringIO(record)):
            if not row:
                continue
            path = row[0].replace("\\", "/")
            if path.startswith(("../", "/")) or ".dist-info/" in path or ".data/" in path:
                continue
            parts = path.split("/")
            if path.endswith(_CODE):
                top = parts[0].removesuffix(".py").removesuffix(".pyi")
                tops.append(top)
                if not _TEST_PARTS.intersection(parts[:-1]):
                    files.append(path)
        files.sort()
    top_level = read_text(info / "top_level.txt", 1 << 16) if info.is_dir() else None
    modules = [m.strip().replace("/", ".") for m in (top_level or "").splitlines() if m.strip()]
    if not modules:
        modules = list(dict.fromkeys(t for t in tops if t and not t.startswith("_")))
    types_for = None
    stub = [m for m in modules if m.endswith("-stubs")]
    if stub:
        types_for = stub[0].removesuffix("-stubs")
        modules = [m.removesuffix("-stubs") for m in modules]
    if files is None and not modules:
        modules = [_norm(name).replace("-", "_")]
    return Package(
        ecosystem=ECOSYSTEM,
        name=name,
        version=version,
        root=site,
        modules=tuple(dict.fromkeys(modules)),
        files=tuple(files) if files is not None else None,
        types_for=types_for,
    )


def _unique(packages: list[Package]) -> list[Package]:
    seen: set[str] = set()
    out = []
    for p in packages:
        if _norm(p.name) not in seen:
            seen.add(_norm(p.name))
            out.append(p)
    return out


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --- what the project declares and locks ----------------------------------------------------


def requirement_name(spec: str) -> str | None:
    """`httpx[http2]>=0.27 ; python_version>'3.8'` -> `httpx`."""
    spec = spec.strip()
    if not spec or spec.startswith(("#", "-", "git+", "http:", "https:", "file:", ".", "/")):
        return None
    m = _REQUIREMENT.match(spec)
    return m.group(1) if m else None


def _declared(scope: Path, requirements: list[Path]) -> tuple[dict[str, str], str | None]:
    """(normalised name -> requirement, the project's own name)."""
    out: dict[str, str] = {}
    own: str | None = None

    def add(spec: str, name: str | None = None) -> None:
        name = name or requirement_name(spec)
        if name and name.lower() != "python":
            out.setdefault(_norm(name), spec.strip())

    text = read_text(scope / "pyproject.toml")
    data: dict[str, Any] = {}
    if text is not None:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            data = {}
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    assert isinstance(project, dict)
    own = project.get("name") if isinstance(project.get("name"), str) else None
    for spec in _strings(project.get("dependencies")):
        add(spec)
    optional = project.get("optional-dependencies")
    if isinstance(optional, dict):
        for group in optional.values():
            for spec in _strings(group):
                add(spec)
    groups = data.get("dependency-groups")
    if isinstance(groups, dict):
        for group in groups.values():
            for spec in _strings(group):
                add(spec)
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    assert isinstance(tool, dict)
    poetry = tool.get("poetry") if isinstance(tool.get("poetry"), dict) else {}
    assert isinstance(poetry, dict)
    own = own or (poetry.get("name") if isinstance(poetry.get("name"), str) else None)
    tables = [poetry.get("dependencies"), poetry.get("dev-dependencies")]
    pgroups = poetry.get("group")
    if isinstance(pgroups, dict):
        tables += [g.get("dependencies") for g in pgroups.values() if isinstance(g, dict)]
    for table in tables:
        if isinstance(table, dict):
            for name, spec in table.items():
                add(f"{name} {spec}" if isinstance(spec, str) else name, name)
    uv = tool.get("uv") if isinstance(tool.get("uv"), dict) else {}
    assert isinstance(uv, dict)
    for spec in _strings(uv.get("dev-dependencies")):
        add(spec)
    for req in requirements:
        for line in (read_text(req) or "").splitlines():
            add(line.split(" #")[0])
    return out, own


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _locked(scope: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in ("uv.lock", "poetry.lock"):
        text = read_text(scope / name)
        if text is None:
            continue
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            continue
        for pkg in data.get("package", []):
            if isinstance(pkg, dict) and isinstance(pkg.get("name"), str):
                version = pkg.get("version")
                if isinstance(version, str):
                    out.setdefault(_norm(pkg["name"]), version)
    return out

