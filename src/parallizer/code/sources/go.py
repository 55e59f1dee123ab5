"""Go: the modules `go.mod` requires, found where the go command would read them.

In order: `vendor/` (with `vendor/modules.txt`, as `go mod vendor` writes it), the module
cache (`$GOMODCACHE`, else `$GOPATH/pkg/mod`, with its `!`-escaped capitals), then Debian's
`/usr/share/gocode/src` (its copy carries no version: the one go.mod requires is shown).
Declared: go.mod's `require`s; locked: go.sum.
"""

from __future__ import annotations

import re
from pathlib import Path

from .base import Environment, Options, Package, read_text, stamp, walk_files

ECOSYSTEM = "go"
LANGUAGE = "go"
DEBIAN_GOCODE = Path("/usr/share/gocode/src")
_REQUIRE = re.compile(r"^\s*(?:require\s+)?([\w.\-~/]+)\s+(v[\w.\-+]+)(\s*//\s*indirect)?", re.M)
_SKIP = frozenset({"testdata", "vendor", "examples", "example", "_examples", "internal_test"})


class GoSource:
    ecosystem = ECOSYSTEM
    language = LANGUAGE

    def discover(self, scope: Path, options: Options) -> Environment | None:
        gomod = scope / "go.mod"
        text = read_text(gomod)
        if text is None:
            return None
        module, required = parse_go_mod(text)
        vendored = parse_modules_txt(read_text(scope / "vendor" / "modules.txt") or "")
        stamps = [stamp(gomod), stamp(scope / "go.sum"), stamp(scope / "vendor" / "modules.txt")]
        locked = {p: v for p, v in parse_go_sum(read_text(scope / "go.sum") or "").items()}
        cache = Path(options.gomodcache) if options.gomodcache else None
        packages: list[Package] = []
        where = set()
        for path, version in {**required, **vendored}.items():
            found = _find(scope, path, vendored.get(path) or version, cache, options.system)
            if found is not None:
                root, how = found
                where.add(how)
                packages.append(
                    Package(
                        ecosystem=ECOSYSTEM,
                        name=path,
                        version=(vendored.get(path) or version).removeprefix("v"),
                        root=root,
                        modules=(path,),
                        where=how,
                    )
                )
        note = None
        if required and not packages:
            note = (
                f"none of the {len(required)} modules go.mod requires is in vendor/, the module "
                "cache or /usr/share/gocode/src (`go mod download` fetches them): the plan's "
                "uses of them are not checked"
            )
        return Environment(
            ecosystem=ECOSYSTEM,
            scope=scope,
            manifest="go.mod",
            location=scope / "vendor" if vendored else cache,
            where=", ".join(sorted(where)) or "the module cache",
            packages=tuple(packages),
            declared={p: f"{p} {v}" for p, v in required.items()},
            locked=locked,
            note=note,
            stamps=tuple(stamps),
            own=module,
        )

    def code_files(self, package: Package) -> list[str]:
        return [f for f in walk_files(package.root, (".go",), skip=_SKIP) if not f.endswith("_test.go")]


SOURCE = GoSource()


def parse_go_mod(text: str) -> tuple[str | None, dict[str, str]]:
    """(the module's own path, required module path -> version)."""
    module = re.search(r"^\s*module\s+(\S+)", text, re.M)
    required: dict[str, str] = {}
    in_block = False
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("require ("):
            in_block = True
            continue
        if in_block and s.startswith(")"):
            in_block = False
            continue
        if in_block or s.startswith("require "):
            m = _REQUIRE.match(s)
            if m:
                required.setdefault(m.group(1), m.group(2))
    return (module.group(1).strip('"') if module else None), required


def parse_modules_txt(text: str) -> dict[str, str]:
    """`# github.com/google/uuid v1.3.0` lines (a replaced module: `# a v1 => b v2`)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("# "):
            continue
        parts = line[2:].split()
        if len(parts) >= 2 and parts[1].startswith("v"):
            out[parts[0]] = parts[1]
        if "=>" in parts:
            after = parts[parts.index("=>") + 1 :]
            if len(after) >= 2 and after[1].startswith("v"):
                out[parts[0]] = after[1]
    return out


def parse_go_sum(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            out[parts[0]] = parts[1].removesuffix("/go.mod")
    return out


def escape(path: str) -> str:
    """The module cache's spelling of a path: capitals as `!` and the lower-case letter."""
    return re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), path)


def _find(
    scope: Path, path: str, version: str, cache: Path | None, system: bool
) -> tuple[Path, str] | None:
    vendored = scope / "vendor" / path
    if vendored.is_dir():
        return vendored, "vendor/"
    if cache is not None:
        cached = cache / f"{escape(path)}@{version}"
        if cached.is_dir():
            return cached, "the module cache"
    if system and (DEBIAN_GOCODE / path).is_dir():
        return DEBIAN_GOCODE / path, "Debian's /usr/share/gocode/src"
    return None
