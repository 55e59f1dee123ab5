"""The evaluation's data, in the repository's `eval/` folder:

* `trees.toml`: real trees at pinned versions (their Markdown is the docs part's corpus);
* `projects.toml` + `projects/<name>/`: small projects with real packages installed at pinned
  versions (the dependency part);
* `cases/<tree or project>.toml` + `plans/<tree or project>/*.md`: plans with planted mistakes
  and their expected answers;
* `history/<name>.toml`: an old release's docs against a newer release's code, with the
  renames and removals the project's own changelog records between them;
* `docs_known_bugs.toml`: the reviewed real bugs in the trees' own docs (a claim about one of
  them is not held against the product)."""

from __future__ import annotations

import re
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
    # dependency projects: about the packages a project has installed
    "dep-misspelled",  # `cache.peak` for lru-cache's `peek`
    "dep-invented",  # an API the installed package does not have
    "dep-wrong-owner",  # a dependency's method on the wrong class
    "dep-version",  # an API of another version than the installed one (correct: that version)
    "not-a-dependency",  # a package the project does not have
)
KEEP_WHY = ("introduced", "stdlib", "dependency")
INSTALLS = ("pypi", "npm", "deb")
# an exact pin per install kind (or an absolute path to a local archive: tests, offline)
PINS = {
    "pypi": re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!_-]+$"),
    "npm": re.compile(r"^(?:@[a-z0-9~-][a-z0-9._~-]*/)?[a-z0-9~-][a-z0-9._~-]*@\d[0-9A-Za-z.+-]*$"),
    "deb": re.compile(r"^[a-z0-9][a-z0-9+.-]+=[A-Za-z0-9.+~:-]+$"),
}
LOCAL_ARCHIVES = {"pypi": (".whl", ".tar.gz"), "npm": (".tgz",), "deb": (".deb",)}


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
    docs: bool = True  # its Markdown is part of the docs corpus (false: only history reads it)
    quick: bool = False  # part of `parallizer eval --quick`


@dataclass(frozen=True, slots=True)
class ProjectSpec:
    """A small project (its own files committed under eval/) with packages installed at
    pinned versions; a case's `tree` may name it."""

    name: str
    language: str
    dir: Path  # the project's own files (absolute, under eval/)
    install: str  # pypi | npm | deb
    packages: tuple[str, ...]  # exact pins: name==1.2 (pypi), name@1.2 (npm), name=1.2-1 (deb)
    quick: bool = False


@dataclass(frozen=True, slots=True)
class Removal:
    """A rename or removal the new release's changelog records."""

    names: tuple[str, ...]  # how docs write the old name
    correct: tuple[str, ...]  # the new name, when there is one
    line: int  # the changelog line that records it
    note: str = ""


@dataclass(frozen=True, slots=True)
class History:
    name: str
    old: str  # tree names (trees.toml)
    new: str
    changelog: str  # path in the new tree where the removals are recorded
    removals: tuple[Removal, ...]
    quick: bool = False


@dataclass(frozen=True, slots=True)
class KnownBug:
    tree: str
    doc: str  # path inside the tree
    name: str
    why: str


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
    why: str  # introduced | stdlib | dependency (a real API of an installed package)


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
    projects: dict[str, ProjectSpec] = field(default_factory=dict)
    history: list[History] = field(default_factory=list)
    known_bugs: list[KnownBug] = field(default_factory=list)

    def language(self, name: str) -> str:
        """The language of a tree or a project."""
        spec = self.trees.get(name) or self.projects.get(name)
        return spec.language if spec else "?"


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


def _bool(table: dict, key: str, where: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise CaseError(f"{where}: `{key}` must be true or false")
    return value


def _int(table: dict, key: str, where: str) -> int:
    value = table.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise CaseError(f"{where}: `{key}` must be a positive integer")
    return value


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
            docs=_bool(t, "docs", where, True),
            quick=_bool(t, "quick", where, False),
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
            if why not in KEEP_WHY:
                raise CaseError(f"{where}: keep `why` must be one of {', '.join(KEEP_WHY)}")
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


def load_projects(path: Path, data: Path) -> dict[str, ProjectSpec]:
    if not path.is_file():
        return {}
    projects = {}
    for name, t in _load_toml(path).get("projects", {}).items():
        where = f"{path}: project {name}"
        install = _str(t, "install", where)
        if install not in INSTALLS:
            raise CaseError(f"{where}: install must be one of {', '.join(INSTALLS)}")
        folder = (data / _str(t, "dir", where)).resolve()
        if not folder.is_relative_to(data) or not folder.is_dir():
            raise CaseError(f"{where}: no project folder {folder} under {data}")
        packages = _strs(t, "packages", where)
        if not packages:
            raise CaseError(f"{where}: `packages` is required")
        for pkg in packages:
            local = Path(pkg).is_absolute() and pkg.endswith(LOCAL_ARCHIVES[install])
            if not local and not PINS[install].match(pkg):
                raise CaseError(f"{where}: {pkg!r} is not an exact {install} pin")
        projects[name] = ProjectSpec(
            name=name,
            language=_str(t, "language", where),
            dir=folder,
            install=install,
            packages=packages,
            quick=_bool(t, "quick", where, False),
        )
    return projects


def load_history(path: Path, trees: dict[str, TreeSpec]) -> History:
    raw = _load_toml(path)
    where = str(path)
    old, new = _str(raw, "old", where), _str(raw, "new", where)
    for t in (old, new):
        if t not in trees:
            raise CaseError(f"{where}: no tree {t!r} in trees.toml")
    removals = []
    for i, r in enumerate(raw.get("removed", [])):
        rw = f"{where}: removed #{i + 1}"
        names = _strs(r, "names", rw)
        if not names:
            raise CaseError(f"{rw}: `names` is required")
        removals.append(
            Removal(names, _strs(r, "correct", rw), _int(r, "line", rw), _str(r, "note", rw, ""))
        )
    changelog = _str(raw, "changelog", where)
    quick = _bool(raw, "quick", where, False)
    return History(path.stem, old, new, changelog, tuple(removals), quick)


def load_known_bugs(path: Path, trees: dict[str, TreeSpec]) -> list[KnownBug]:
    if not path.is_file():
        return []
    bugs = []
    for i, b in enumerate(_load_toml(path).get("bugs", [])):
        where = f"{path}: bug #{i + 1}"
        bug = KnownBug(*(_str(b, k, where) for k in ("tree", "doc", "name", "why")))
        if bug.tree not in trees:
            raise CaseError(f"{where}: no tree {bug.tree!r} in trees.toml")
        if not bug.why.strip():
            raise CaseError(f"{where}: `why` says why it is a real bug in that doc")
        bugs.append(bug)
    return bugs


def load_suite(data: Path, only: list[str] | None = None) -> Suite:
    """eval/trees.toml, eval/projects.toml, every eval/cases/<tree or project>.toml,
    eval/history/*.toml and eval/docs_known_bugs.toml (or only the trees and projects
    named: then only the history whose trees are all named)."""
    data = data.resolve()
    trees = load_trees(data / "trees.toml")
    projects = load_projects(data / "projects.toml", data)
    clash = sorted(set(trees) & set(projects))
    if clash:
        raise CaseError(f"{', '.join(clash)}: both a tree and a project")
    history = [load_history(f, trees) for f in sorted((data / "history").glob("*.toml"))]
    bugs = load_known_bugs(data / "docs_known_bugs.toml", trees)
    if only:
        known = [*trees, *projects]
        unknown = sorted(set(only) - set(known))
        if unknown:
            raise CaseError(f"unknown tree(s): {', '.join(unknown)}; known: {', '.join(known)}")
        trees = {n: t for n, t in trees.items() if n in only}
        projects = {n: p for n, p in projects.items() if n in only}
        history = [h for h in history if {h.old, h.new} <= set(trees)]
    plans = []
    for name in [*trees, *projects]:
        case_file = data / "cases" / f"{name}.toml"
        if case_file.is_file():
            plans += load_plans(case_file, name, data)
    bugs = [b for b in bugs if b.tree in trees]
    return Suite(data, trees, plans, projects, history, bugs)


def quick_suite(suite: Suite) -> tuple[Suite, set[str]]:
    """`--quick`: the trees, projects and history cases marked `quick = true`; and the trees
    whose documents the docs part reads (the quick ones, not the history's)."""
    history = [h for h in suite.history if h.quick]
    docs = {n for n, t in suite.trees.items() if t.quick}
    keep = docs | {t for h in history for t in (h.old, h.new)}
    trees = {n: t for n, t in suite.trees.items() if n in keep}
    projects = {n: p for n, p in suite.projects.items() if p.quick}
    plans = [p for p in suite.plans if p.tree in docs or p.tree in projects]
    bugs = [b for b in suite.known_bugs if b.tree in docs]
    return Suite(suite.data, trees, plans, projects, history, bugs), docs
