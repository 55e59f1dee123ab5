"""Rust: the crates `Cargo.lock` pins, found where cargo would read their sources.

In order: `vendor/` (cargo vendor's `vendor/<crate>` or `vendor/<crate>-<version>`), the
registry sources (`$CARGO_HOME/registry/src/<index>/<crate>-<version>`), then Debian's
`/usr/share/cargo/registry/<crate>-<version>`. Declared: `Cargo.toml`'s dependency tables
(a renamed dependency by its `package`).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from .base import Environment, Options, Package, read_text, stamp, walk_files

ECOSYSTEM = "cargo"
LANGUAGE = "rust"
DEBIAN_REGISTRY = Path("/usr/share/cargo/registry")
_TABLES = ("dependencies", "dev-dependencies", "build-dependencies")


class RustSource:
    ecosystem = ECOSYSTEM
    language = LANGUAGE

    def discover(self, scope: Path, options: Options) -> Environment | None:
        manifest, lock = scope / "Cargo.toml", scope / "Cargo.lock"
        if not manifest.is_file() and not lock.is_file():
            return None
        data = _toml(manifest)
        declared = cargo_declared(data)
        package = data.get("package")
        own = package.get("name") if isinstance(package, dict) else None
        locked = cargo_lock(_toml(lock))
        stamps = [stamp(manifest), stamp(lock), stamp(scope / "vendor")]
        pins = dict(locked)
        for name, spec in declared.items():  # no lock: what the manifest names, vendored
            pins.setdefault(name, _plain_version(spec))
        registries = _registries(options)
        packages: list[Package] = []
        where: set[str] = set()
        for name, version in sorted(pins.items()):
            found = _find(scope, name, version, registries)
            if found is None:
                continue
            root, how, real = found
            where.add(how)
            packages.append(
                Package(
                    ecosystem=ECOSYSTEM,
                    name=name,
                    version=real or version,
                    root=root,
                    modules=(name.replace("-", "_"),),
                    where=how,
                )
            )
        note = None
        if declared and not packages:
            note = (
                "no crate source found (vendor/, ~/.cargo/registry/src, /usr/share/cargo/"
                "registry; `cargo fetch` fills the registry): the plan's uses of the crates "
                "are not checked"
            )
        return Environment(
            ecosystem=ECOSYSTEM,
            scope=scope,
            manifest="Cargo.toml" if manifest.is_file() else "Cargo.lock",
            location=scope / "vendor" if (scope / "vendor").is_dir() else None,
            where=", ".join(sorted(where)),
            packages=tuple(packages),
            declared=declared,
            locked=locked,
            note=note,
            stamps=tuple(stamps),
            normalise="cargo",
            own=own if isinstance(own, str) else None,
        )

    def code_files(self, package: Package) -> list[str]:
        src = package.root / "src"
        if src.is_dir():
            return [f"src/{f}" for f in walk_files(src, (".rs",))]
        return walk_files(package.root, (".rs",))


SOURCE = RustSource()


def _toml(path: Path) -> dict[str, Any]:
    text = read_text(path)
    if text is None:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}


def cargo_declared(data: dict[str, Any]) -> dict[str, str]:
    """Crate name (as `-`/`_` compare: `_`) -> its requirement, from every dependency table
    (also `[target.'cfg(..)'.dependencies]` and `[workspace.dependencies]`)."""
    tables: list[Any] = [data.get(t) for t in _TABLES]
    targets = data.get("target")
    if isinstance(targets, dict):
        tables += [t.get(k) for t in targets.values() if isinstance(t, dict) for k in _TABLES]
    workspace = data.get("workspace")
    if isinstance(workspace, dict):
        tables.append(workspace.get("dependencies"))
    out: dict[str, str] = {}
    for table in tables:
        if not isinstance(table, dict):
            continue
        for key, spec in table.items():
            crate = spec.get("package", key) if isinstance(spec, dict) else key
            version = spec if isinstance(spec, str) else (
                spec.get("version", "*") if isinstance(spec, dict) else "*"
            )  # fmt: skip
            out.setdefault(str(crate).replace("-", "_"), f"{crate} {version}")
    return out


def cargo_lock(data: dict[str, Any]) -> dict[str, str]:
    """Crate -> version for the registry packages of Cargo.lock (not the workspace's own)."""
    out: dict[str, str] = {}
    for pkg in data.get("package", []):
        if not isinstance(pkg, dict):
            continue
        name, version, source = pkg.get("name"), pkg.get("version"), pkg.get("source")
        if isinstance(name, str) and isinstance(version, str) and isinstance(source, str):
            out.setdefault(name.replace("-", "_"), version)
    return out


def _plain_version(spec: str) -> str:
    m = re.search(r"(\d+(?:\.\d+)*)", spec)
    return m.group(1) if m else ""


def _registries(options: Options) -> list[Path]:
    out: list[Path] = []
    if options.cargo_home:
        src = Path(options.cargo_home) / "registry" / "src"
        try:
            out += sorted(p for p in src.iterdir() if p.is_dir())
        except OSError:
            pass
    if options.system and DEBIAN_REGISTRY.is_dir():
        out.append(DEBIAN_REGISTRY)
    return out


def _find(
    scope: Path, crate: str, version: str, registries: list[Path]
) -> tuple[Path, str, str | None] | None:
    """(its root, where, the version its own Cargo.toml says when the place holds none)."""
    names = list(dict.fromkeys([crate, crate.replace("_", "-")]))
    vendor = scope / "vendor"
    for n in names:
        if version and (vendor / f"{n}-{version}").is_dir():
            return vendor / f"{n}-{version}", "vendor/", None
    for n in names:
        d = vendor / n
        if d.is_dir():
            pkg = _toml(d / "Cargo.toml").get("package", {})
            real = pkg.get("version") if isinstance(pkg, dict) else None
            if not version or not isinstance(real, str) or real == version:
                return d, "vendor/", real if isinstance(real, str) else None
    for reg in registries:
        for n in names:
            if version and (reg / f"{n}-{version}").is_dir():
                how = "Debian's /usr/share/cargo/registry" if reg == DEBIAN_REGISTRY else "the cargo registry"
                return reg / f"{n}-{version}", how, None
    return None
