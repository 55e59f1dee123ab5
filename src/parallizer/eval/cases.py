"""The evaluation's data: which trees (eval/trees.toml) and which plans with which expected
answers (eval/cases/<tree>.toml, plans in eval/plans/<tree>/)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

SOURCES = ("pypi", "npm", "deb", "file")
KINDS = (
    "misspelled",  # `HttpTransport` for `HTTPTransport`
    "wrong-owner",  # `Foo.bar` where bar lives on `Baz`
    "missing-file",  # a path that does not exist (correction: the nearest real path)
    "arity",  # `f(a, b, c)` where f takes 1-2
    "invented",  # a name the plan treats as existing and the tree does not have
    "vague",  # "fast", "many", "soon" with no number
    "ambiguous",  # two source definitions of the same qualified name
)


class CaseError(ValueError):
    """The evaluation data is malformed: one line saying where."""


@dataclass(frozen=True, slots=True)
class TreeSpec:
    name: str
    language: str
    source: str  # pypi | npm | deb | file
    package: str  # registry name, or a local archive path for `file`
    version: str
    file: str  # the archive's file name as the registry serves it
    sha256: str
    root: str  # directory inside the unpacked archive that is the tree ("" = the top)


@dataclass(frozen=True, slots=True)
class Mistake:
    id: str
    kind: str
    names: tuple[str, ...]  # how the plan writes the mistaken thing; a card must mention one
    correct: tuple[str, ...] = ()  # the right name/path/signature; a good catch mentions one
    cite: str | None = None  # `path:line` of the real definition (the correction's evidence)
    note: str = ""


@dataclass(frozen=True, slots=True)
class Keep:
    """A name the plan introduces or a standard-library name: never to be called missing."""

    name: str
    why: str  # introduced | stdlib


@dataclass(frozen=True, slots=True)
class Plan:
    tree: str
    id: str
    path: Path  # the plan file (absolute)
    clean: bool
    mistakes: tuple[Mistake, ...] = ()
    keep: tuple[Keep, ...] = ()
    open: tuple[str, ...] = ()  # phrases naming the plan's real open decisions


@dataclass(frozen=True, slots=True)
class Suite:
    data: Path
    trees: dict[str, TreeSpec]
    plans: list[Plan] = field(default_factory=list)

    def plans_for(self, tree: str) -> list[Plan]:
        return [p for p in self.plans if p.tree == tree]


def _load_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CaseError(f"{path}: cannot read ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(f"{path}: {exc}") from exc


def _str(table: dict, key: str, where: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if not isinstance(value, str):
        raise CaseError(f"{where}: `{key}` must be a string")
    return value


def _strs(table: dict, key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise CaseError(f"{where}: `{key}` must be a string or a list of strings")
    return tuple(value)


def load_trees(path: Path) -> dict[str, TreeSpec]:
    raw = _load_toml(path).get("trees", {})
    trees = {}
    for name, t in raw.items():
        where = f"{path}: tree {name}"
        source = _str(t, "source", where)
        if source not in SOURCES:
            raise CaseError(f"{where}: source must be one of {', '.join(SOURCES)}")
        sha = _str(t, "sha256", where).lower()
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise CaseError(f"{where}: sha256 must be 64 hex digits")
        trees[name] = TreeSpec(
            name=name,
            language=_str(t, "language", where),
            source=source,
            package=_str(t, "package", where),
            version=_str(t, "version", where),
            file=_str(t, "file", where),
            sha256=sha,
            root=_str(t, "root", where, ""),
        )
    return trees


def load_plans(path: Path, tree: str, data: Path) -> list[Plan]:
    plans = []
    for i, p in enumerate(_load_toml(path).get("plans", [])):
        where = f"{path}: plan #{i + 1}"
        rel = _str(p, "file", where)
        plan_file = (data / "plans" / tree / rel).resolve()
        if not plan_file.is_file():
            raise CaseError(f"{where}: no plan file {plan_file}")
        mistakes = []
        for j, m in enumerate(p.get("mistakes", [])):
            mw = f"{where} mistake #{j + 1}"
            kind = _str(m, "kind", mw)
            if kind not in KINDS:
                raise CaseError(f"{mw}: kind must be one of {', '.join(KINDS)}")
            names = _strs(m, "names", mw)
            if not names:
                raise CaseError(f"{mw}: `names` is required")
            cite = m.get("cite")
            if cite is not None and not isinstance(cite, str):
                raise CaseError(f"{mw}: `cite` must be a string")
            mistakes.append(
                Mistake(
                    id=_str(m, "id", mw, f"{tree}/{rel}#{j + 1}"),
                    kind=kind,
                    names=names,
                    correct=_strs(m, "correct", mw),
                    cite=cite,
                    note=_str(m, "note", mw, ""),
                )
            )
        keep = []
        for k in p.get("keep", []):
            why = _str(k, "why", where)
            if why not in ("introduced", "stdlib"):
                raise CaseError(f"{where}: keep `why` must be introduced or stdlib")
            keep.append(Keep(name=_str(k, "name", where), why=why))
        clean = bool(p.get("clean", False))
        if clean and mistakes:
            raise CaseError(f"{where}: a clean plan has no mistakes")
        plans.append(
            Plan(
                tree=tree,
                id=_str(p, "id", where, Path(rel).stem),
                path=plan_file,
                clean=clean,
                mistakes=tuple(mistakes),
                keep=tuple(keep),
                open=_strs(p, "open", where),
            )
        )
    return plans


def load_suite(data: Path, only: list[str] | None = None) -> Suite:
    """eval/trees.toml and every eval/cases/<tree>.toml (or only the trees named)."""
    data = data.resolve()
    trees = load_trees(data / "trees.toml")
    if only:
        unknown = sorted(set(only) - set(trees))
        if unknown:
            raise CaseError(f"unknown tree(s): {', '.join(unknown)}; known: {', '.join(trees)}")
        trees = {n: t for n, t in trees.items() if n in only}
    plans = []
    for name in trees:
        case_file = data / "cases" / f"{name}.toml"
        if case_file.is_file():
            plans += load_plans(case_file, name, data)
    return Suite(data=data, trees=trees, plans=plans)
