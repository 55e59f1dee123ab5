"""No import cycles in parallizer (a lower layer never imports a higher one), checked from the
source by tests/import_graph.py; and the checker itself sees the cycles it must."""

from __future__ import annotations

from pathlib import Path

from .conftest import write
from .import_graph import cycles, graph, private_imports

SRC = Path(__file__).resolve().parents[1] / "src"


def test_parallizer_has_no_import_cycle():
    found = cycles(graph(SRC, "parallizer"))
    assert not found, "import cycles:\n" + "\n".join(" → ".join(c) for c in found)


def test_no_private_module_of_another_package_is_imported(tmp_path):
    assert private_imports(SRC, "parallizer") == []
    write(tmp_path / "pkg", "a.py", "from typer._click import exceptions\nimport os.path\n")
    assert private_imports(tmp_path, "pkg") == ["pkg/a.py:1 typer._click"]


def test_the_graph_sees_relative_absolute_and_lazy_imports():
    g = graph(SRC, "parallizer")
    assert len(g) > 40  # every module, not a subtree
    assert "parallizer.runtime" in g["parallizer.orchestrator"]  # from .runtime import Runtime
    assert "parallizer.code.extract.lines" in g["parallizer.fulfillers.code_search"]
    assert "parallizer.assembly" in g["parallizer.cli.fulfill"]  # from .. import x, lazily
    assert "parallizer.emulators.perplexity" in g["parallizer.emulators.launch"]
    assert "parallizer.cli.bench" in g["parallizer.cli"]  # lazy, inside a function


def test_a_cycle_is_found_whichever_way_it_is_written(tmp_path):
    pkg = tmp_path / "pkg"
    write(pkg, "__init__.py", "")
    write(pkg, "a.py", "from . import b\n")
    write(pkg, "b.py", "def f():\n    from .sub.c import g\n")  # lazy still counts
    write(pkg, "sub/__init__.py", "")
    write(pkg, "sub/c.py", "import pkg.a\n")
    write(pkg, "d.py", "from .a import thing\n")  # into the cycle, not part of it
    assert cycles(graph(tmp_path, "pkg")) == [["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]]


def test_type_checking_imports_are_edges_too(tmp_path):
    """A dependency hidden behind `if TYPE_CHECKING:` is still a dependency: a cycle through
    one is a cycle."""
    pkg = tmp_path / "pkg"
    write(pkg, "__init__.py", "")
    write(pkg, "a.py", "from . import b\n")
    write(
        pkg,
        "b.py",
        """
        import typing
        from typing import TYPE_CHECKING
        if TYPE_CHECKING:
            from .a import A
        if typing.TYPE_CHECKING:
            from . import a
        else:
            from . import c
        """,
    )
    write(pkg, "c.py", "")
    g = graph(tmp_path, "pkg")
    assert g["pkg.b"] == {"pkg.a", "pkg.c"}
    assert cycles(g) == [["pkg.a", "pkg.b", "pkg.a"]]
