"""JavaScript and TypeScript: the packages in the scope's `node_modules`, and what
`package.json` declares.

Each package's name, version and typings (`types`/`typings`) come from its own
`package.json`; `@types/x` holds the types of `x`. A package that ships declarations
(`.d.ts`) is indexed by them (its API, as TypeScript sees it), one without by its JavaScript.
Versions are also read from the lock file (`package-lock.json`, `pnpm-lock.yaml`,
`yarn.lock`); declared: `dependencies`, `devDependencies`, `peerDependencies`,
`optionalDependencies` of `package.json`.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from .base import Environment, Options, Package, read_text, stamp, walk_files

ECOSYSTEM = "npm"
LANGUAGE = "typescript"
LOCKS = ("package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "yarn.lock")
_DECLARED = ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies")
_TYPES = (".d.ts", ".d.mts", ".d.cts")
_JS = (".js", ".mjs", ".cjs", ".ts", ".mts", ".cts")
_MINIFIED = re.compile(r"(\.min|\.umd|\.bundle|-min)\.[cm]?js$")


class JavaScriptSource:
    ecosystem = ECOSYSTEM
    language = LANGUAGE

    def discover(self, scope: Path, options: Options) -> Environment | None:
        manifest = scope / "package.json"
        modules_dir = scope / "node_modules"
        present = [n for n in LOCKS if (scope / n).is_file()]
        if not manifest.is_file() and not present and not modules_dir.is_dir():
            return None
        stamps = [stamp(manifest), stamp(modules_dir), stamp(modules_dir / ".package-lock.json")]
        stamps += [stamp(scope / n) for n in LOCKS]
        meta = read_json(manifest)
        declared = _declared(meta)
        locked = _locked(scope)
        packages = _installed(modules_dir) if modules_dir.is_dir() else []
        note = None
        if not modules_dir.is_dir():
            note = (
                "no node_modules in the scope (`npm install` makes it): the plan's uses of its "
                "dependencies are not checked"
            )
        elif not packages:
            note = "node_modules holds no package"
        return Environment(
            ecosystem=ECOSYSTEM,
            scope=scope,
            manifest="package.json" if manifest.is_file() else (present[0] if present else None),
            location=modules_dir if modules_dir.is_dir() else None,
            where="node_modules",
            packages=tuple(packages),
            declared=declared,
            locked=locked,
            note=note,
            stamps=tuple(stamps),
            own=meta.get("name") if isinstance(meta.get("name"), str) else None,
        )

    def code_files(self, package: Package) -> list[str]:
        types = [f for f in walk_files(package.root, _TYPES) if not _MINIFIED.search(f)]
        if types:
            return types
        return [
            f
            for f in walk_files(package.root, _JS)
            if not _MINIFIED.search(f) and not f.endswith(_TYPES)
        ]


SOURCE = JavaScriptSource()


def read_json(path: Path) -> dict[str, Any]:
    text = read_text(path)
    if text is None:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _declared(manifest: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key in _DECLARED:
        table = manifest.get(key)
        if isinstance(table, dict):
            for name, spec in table.items():
                if isinstance(name, str):
                    out.setdefault(name, f"{name}@{spec}" if isinstance(spec, str) else name)
    return out


def _installed(modules_dir: Path) -> list[Package]:
    out: list[Package] = []
    for d in _package_dirs(modules_dir):
        meta = read_json(d / "package.json")
        name, version = meta.get("name"), meta.get("version")
        if not isinstance(name, str) or not isinstance(version, str):
            continue
        types_for = None
        if name.startswith("@types/"):
            inner = name.removeprefix("@types/")
            types_for = "@" + inner.replace("__", "/", 1) if "__" in inner else inner
        try:
            root = d.resolve()  # pnpm links each package from its store
        except OSError:
            continue
        out.append(
            Package(
                ecosystem=ECOSYSTEM,
                name=name,
                version=version,
                root=root,
                modules=(types_for or name,),
                types_for=types_for,
            )
        )
    return out


def _package_dirs(modules_dir: Path) -> list[Path]:
    out: list[Path] = []
    try:
        entries = sorted(os.scandir(modules_dir), key=lambda e: e.name)
    except OSError:
        return out
    for e in entries:
        if e.name.startswith(".") or not e.is_dir():
            continue
        if e.name.startswith("@"):
            try:
                inner = sorted(os.scandir(e.path), key=lambda x: x.name)
            except OSError:
                continue
            out += [Path(x.path) for x in inner if x.is_dir() and not x.name.startswith(".")]
        else:
            out.append(Path(e.path))
    return out


# --- lock files ------------------------------------------------------------------------------


def _locked(scope: Path) -> dict[str, str]:
    for name in ("package-lock.json", "npm-shrinkwrap.json"):
        data = read_json(scope / name)
        if data:
            return npm_lock(data)
    text = read_text(scope / "pnpm-lock.yaml")
    if text is not None:
        return pnpm_lock(text)
    text = read_text(scope / "yarn.lock")
    if text is not None:
        return yarn_lock(text)
    return {}


def npm_lock(data: dict[str, Any]) -> dict[str, str]:
    """package-lock.json v2/v3 (`packages`: "node_modules/x") or v1 (`dependencies`)."""
    out: dict[str, str] = {}
    packages = data.get("packages")
    if isinstance(packages, dict):
        for path, info in packages.items():
            if not path.startswith("node_modules/") or not isinstance(info, dict):
                continue
            name = path.rsplit("node_modules/", 1)[1]
            if "node_modules/" in path.removeprefix("node_modules/"):
                continue  # a nested copy, not the one the project gets
            version = info.get("version")
            if isinstance(version, str):
                out.setdefault(name, version)
    deps = data.get("dependencies")
    if not out and isinstance(deps, dict):
        for name, info in deps.items():
            if isinstance(info, dict) and isinstance(info.get("version"), str):
                out[name] = info["version"]
    return out


_PNPM_KEY = re.compile(r"^ {2}'?/?((?:@[^@/\s]+/)?[^@/\s]+)@([^('\s:]+)")


def pnpm_lock(text: str) -> dict[str, str]:
    """The `packages:` (or `snapshots:`) keys of pnpm-lock.yaml: `/zod@3.23.8:` (v6) or
    `zod@3.23.8:` (v9), peer suffixes cut."""
    out: dict[str, str] = {}
    section = None
    for line in text.splitlines():
        if line and not line.startswith(" "):
            section = line.rstrip(":").strip()
            continue
        if section not in ("packages", "snapshots"):
            continue
        m = _PNPM_KEY.match(line)
        if m:
            out.setdefault(m.group(1), m.group(2).split("_")[0])
    return out


def yarn_lock(text: str) -> dict[str, str]:
    """yarn.lock v1 (`version "1.2.3"`) and berry (`version: 1.2.3`)."""
    out: dict[str, str] = {}
    names: list[str] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" ") and line.rstrip().endswith(":"):
            names = []
            for spec in line.rstrip().rstrip(":").split(","):
                spec = spec.strip().strip('"')
                at = spec.find("@", 1)
                if at > 0:
                    names.append(spec[:at])
            continue
        m = re.match(r'^\s+version:?\s+"?([^"\s]+)"?', line)
        if m and names:
            for n in names:
                out.setdefault(n, m.group(1))
            names = []
    return out
