"""The import graph of a package, read from its source (nothing is imported), and its cycles.

An edge A → B means module A's code depends on module B: an import at the top, inside a
function (a lazy import still ties the two together), in a `try`, or under `if
TYPE_CHECKING:` (it never runs, but the dependency is there all the same: hiding a cycle
behind it does not make the layers right). `from . import x` and `from .m import x`
count as an import of the submodule `x` when one exists, else of the package or module named.
A package's `__init__` is not counted as imported by its submodules (Python runs it first,
but that order never forms a cycle the interpreter trips on).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path


def modules(src: Path, package: str) -> dict[str, Path]:
    """Dotted module name → file, for every `.py` under `src/package`."""
    out: dict[str, Path] = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, wherever it stands (`if TYPE_CHECKING:` branches too)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
            continue
        stack.extend(ast.iter_child_nodes(node))


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules of `known` that module `name` (at `path`) imports."""
    is_package = path.name == "__init__.py"
    here = name if is_package else name.rpartition(".")[0]  # the package `.` refers to
    out: set[str] = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            if node.level:
                base_parts = here.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            targets = []
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.append(sub if sub in known else base)
        for t in targets:
            # `import a.b.c` (or a name below a module) → the longest known module prefix
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def graph(src: Path, package: str) -> dict[str, set[str]]:
    mods = modules(src, package)
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan), each
    given as a closed path `a → b → … → a` through that component."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    comps: list[set[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            comps.append(comp)

    for v in sorted(g):
        if v not in index:
            visit(v)
    return [_path_in(g, comp) for comp in comps if len(comp) > 1]


def _path_in(g: dict[str, set[str]], comp: set[str]) -> list[str]:
    """A shortest cycle through the component's first module (breadth-first)."""
    start = min(comp)
    prev: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(g[v] & comp):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    return sorted(comp)  # unreachable for a strongly connected component


def private_imports(src: Path, package: str) -> list[str]:
    """`file:line module` for each import of another package's private module (a dotted
    part starting with `_`, such as `typer._click`): they change without notice."""
    out = []
    for path in modules(src, package).values():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                targets = [node.module]
            else:
                continue
            for t in targets:
                parts = t.split(".")
                if parts[0] != package and any(p.startswith("_") for p in parts[1:]):
                    out.append(f"{path.relative_to(src)}:{node.lineno} {t}")
    return out
