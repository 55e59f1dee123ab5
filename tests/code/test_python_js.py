"""The index on the Python and JavaScript/TypeScript fixture trees: exact qualified names,
kinds, lines, arity and roles."""

from __future__ import annotations

from pathlib import Path

from parallizer.code import CodeKnowledge, Role

from .conftest import build, table


async def test_python_definitions(tmp_path: Path, store: CodeKnowledge) -> None:
    index = await build("python", tmp_path, store)
    assert table(index, "pkg/client.py") == {
        ("MAX_RETRIES", "constant", "pkg/client.py", 3, None, "source"),
        ("default_timeout", "variable", "pkg/client.py", 4, None, "source"),
        # a call to a class is a call to its __init__: (base_url, *, retries=3)
        ("Client", "class", "pkg/client.py", 7, (1, 2), "source"),
        ("Client.base_url", "field", "pkg/client.py", 8, None, "source"),
        ("Client.__init__", "method", "pkg/client.py", 10, (1, 2), "source"),
        ("Client.send", "method", "pkg/client.py", 13, (1, 2), "source"),
        ("Client.from_env", "method", "pkg/client.py", 17, (1, 1), "source"),  # cls dropped
        ("Client.parse", "method", "pkg/client.py", 21, (2, 2), "source"),  # staticmethod
        ("Client.aclose", "method", "pkg/client.py", 24, (0, 0), "source"),
        ("Client.Limits", "class", "pkg/client.py", 27, None, "source"),
        ("Client.Limits.check", "method", "pkg/client.py", 28, (0, None), "source"),
        ("AsyncClient", "class", "pkg/client.py", 32, None, "source"),
        ("AsyncClient.send", "method", "pkg/client.py", 33, (1, None), "source"),
        ("build", "function", "pkg/client.py", 37, (1, None), "source"),  # **options
        ("needs_key", "function", "pkg/client.py", 41, (2, 2), "source"),  # keyword-only key
        ("Headers", "type", "pkg/client.py", 45, None, "source"),
    }
    roles = {d.path: d.role for d in index.definitions()}
    assert roles == {
        "pkg/__init__.py": Role.source,
        "pkg/client.py": Role.source,
        "pkg/client.pyi": Role.stub,
        "pkg/messages_pb2.py": Role.generated,
        "gen/api.py": Role.generated,  # by its "DO NOT EDIT" header
        "tests/test_client.py": Role.test,
        "docs/example.py": Role.docs,
        "vendor/six/six.py": Role.vendored,
    }


async def test_python_lookups(tmp_path: Path, store: CodeKnowledge) -> None:
    index = await build("python", tmp_path, store)
    # the same name on two classes is two qualified names; the stub comes after the source
    assert [d.citation for d in index.lookup("send")] == [
        "pkg/client.py:13", "pkg/client.py:33", "pkg/client.pyi:2",
    ]  # fmt: skip
    assert [d.citation for d in index.qualified("Client.send")] == [
        "pkg/client.py:13", "pkg/client.pyi:2",
    ]  # fmt: skip
    assert [d.qualname for d in index.qualified("AsyncClient.send")] == ["AsyncClient.send"]
    assert [d.owner for d in index.lookup("check")] == ["Limits"]
    assert index.lookup("nope") == [] and index.qualified("Client.nope") == []
    # folded: case and separators
    assert [d.qualname for d in index.folded("max-retries")] == ["MAX_RETRIES"]
    assert [d.citation for d in index.folded("asyncclient")] == ["pkg/client.py:32"]
    assert [d.citation for d in index.folded("client.SEND")] == [
        "pkg/client.py:13", "pkg/client.pyi:2",
    ]  # fmt: skip
    # near: edit distance over distinct names, best first, never the name itself
    near = index.near("AsyncClent")
    assert near[0][0].qualname == "AsyncClient" and near[0][1] > 90
    assert all(d.name != "Client" or s < near[0][1] for d, s in near)
    assert index.near("Client") == [] or all(d.name != "Client" for d, _ in index.near("Client"))
    assert index.near("zzzzqqq") == []
    # names only vendored (or generated) files define are no near names of the tree's own
    assert index.near("with_metaclas") == [] and index.near("Envelop") == []
    assert index.lookup("with_metaclass")  # they are still definitions
    assert {d.qualname for d in index.members("Client")} == {
        "Client.base_url", "Client.__init__", "Client.send", "Client.from_env",
        "Client.parse", "Client.aclose", "Client.Limits",
    }  # fmt: skip
    assert index.definitions_per_language() == {"python": 24}
    assert index.has_file("pkg/client.py") and not index.has_file("pkg/nope.py")
    assert index.has_file("./pkg/client.py")
    assert "pkg/client.py" in index.files()


async def test_gitignore_is_respected(tmp_path: Path, store: CodeKnowledge) -> None:
    from .conftest import copy_fixture

    root = copy_fixture("python", tmp_path)
    (root / "ignored").mkdir()
    (root / "ignored" / "hidden.py").write_text("def not_indexed():\n    pass\n")
    (root / "notes.log").write_text("def also_not(): pass\n")
    index = await store.snapshot(root)
    assert index.lookup("not_indexed") == []
    assert not index.has_file("ignored/hidden.py") and not index.has_file("notes.log")
    assert index.has_file(".gitignore") is False  # rg skips hidden files as searches do
    assert index.stats()["files"] == len(index.files()) == 8


async def test_javascript_and_typescript_definitions(tmp_path: Path, store: CodeKnowledge) -> None:
    index = await build("js", tmp_path, store)
    assert table(index, "lib/command.js") == {
        ("Command", "class", "lib/command.js", 3, (2, 2), "source"),
        ("Command.name", "field", "lib/command.js", 4, None, "source"),
        ("Command.#secret", "field", "lib/command.js", 5, None, "source"),
        ("Command.constructor", "method", "lib/command.js", 7, (2, 2), "source"),
        ("Command.option", "method", "lib/command.js", 11, (2, None), "source"),
        ("Command.create", "method", "lib/command.js", 15, (1, 1), "source"),
        # `Command.prototype.action = function` is a method of Command
        ("Command.action", "method", "lib/command.js", 20, (1, 1), "source"),
        ("Option", "function", "lib/command.js", 24, (1, 1), "source"),
        ("Option.is", "method", "lib/command.js", 28, (1, 1), "source"),
        ("DEFAULT_NAME", "constant", "lib/command.js", 32, None, "source"),
        ("counter", "variable", "lib/command.js", 33, None, "source"),
        ("makeHelp", "function", "lib/command.js", 34, (1, 2), "source"),
        ("createCommand", "function", "lib/command.js", 36, (1, 1), "source"),
        ("version", "variable", "lib/command.js", 39, None, "source"),
        # `module.exports.Command = Command` re-exports: no second definition
    }
    assert table(index, "lib/types.ts") == {
        ("ParseOptions", "interface", "lib/types.ts", 1, None, "source"),
        ("ParseOptions.from", "field", "lib/types.ts", 2, None, "source"),
        ("ParseOptions.strict", "field", "lib/types.ts", 3, None, "source"),
        ("ParseOptions.run", "method", "lib/types.ts", 4, (1, 2), "source"),
        ("Argv", "type", "lib/types.ts", 7, None, "source"),
        ("Mode", "enum", "lib/types.ts", 9, None, "source"),
        ("Mode.Strict", "constant", "lib/types.ts", 10, None, "source"),
        ("Mode.Loose", "constant", "lib/types.ts", 11, None, "source"),
        ("Base", "class", "lib/types.ts", 14, (1, 2), "source"),
        ("Base.value", "field", "lib/types.ts", 15, None, "source"),
        ("Base.constructor", "method", "lib/types.ts", 17, (1, 2), "source"),
        ("Base.describe", "method", "lib/types.ts", 19, (1, 1), "source"),  # `this` is no argument
        ("Base.handler", "method", "lib/types.ts", 21, (1, None), "source"),
        ("Util", "module", "lib/types.ts", 24, None, "source"),
        ("Util.clamp", "function", "lib/types.ts", 25, (1, 3), "source"),
        # overloads: one definition each
        ("overload", "function", "lib/types.ts", 30, (1, 1), "source"),
        ("overload", "function", "lib/types.ts", 31, (2, 2), "source"),
        ("overload", "function", "lib/types.ts", 32, (1, 2), "source"),
    }
    assert table(index, "lib/view.tsx") == {
        ("Panel", "function", "lib/view.tsx", 1, (1, 1), "source"),
    }
    assert {d.language for d in index.lookup("Panel")} == {"typescript"}
    # the .d.ts stub, the test, the UMD wrapper's inside
    assert [(d.citation, d.role.value) for d in index.qualified("Command.option")] == [
        ("lib/command.js:11", "source"), ("lib/index.d.ts:2", "stub"),
    ]  # fmt: skip
    assert [d.role for d in index.lookup("helperInTest")] == [Role.test]
    # a minified bundle is listed, not parsed: no name of a plan is in it
    assert index.lookup("minified") == [] and index.has_file("public/app.min.js")
    assert index.stats()["skipped"] == {"minified": 1}
    assert [(d.citation, d.params) for d in index.lookup("Wrapped")] == [("types/umd.js:2", (2, 2))]
    assert index.definitions_per_language() == {"javascript": 16, "typescript": 21}


async def test_python_instance_fields_set_in_initialisers(
    tmp_path: Path, store: CodeKnowledge
) -> None:
    root = tmp_path / "fields"
    root.mkdir()
    (root / "pool.py").write_text(
        "class Pool:\n"
        "    size: int = 0\n"
        "    def __init__(me, size, *, name=None):\n"
        "        me.size = size\n"
        "        me.name: str = name\n"
        "        other.flag = 1\n"
        "        if size:\n"
        "            me.nested = 2\n"
        "    def grow(self):\n"
        "        self.later = 1\n"
    )
    index = await store.snapshot(root.resolve())
    assert table(index, "pool.py") == {
        ("Pool", "class", "pool.py", 1, (1, 2), "source"),
        ("Pool.size", "field", "pool.py", 2, None, "source"),  # once: the class body's
        ("Pool.__init__", "method", "pool.py", 3, (1, 2), "source"),
        ("Pool.name", "field", "pool.py", 5, None, "source"),
        ("Pool.grow", "method", "pool.py", 9, (0, 0), "source"),
    }


async def test_javascript_fields_set_in_the_constructor(tmp_path: Path, store: CodeKnowledge) -> None:
    root = tmp_path / "jsfields"
    root.mkdir()
    (root / "queue.js").write_text(
        "class Queue {\n"
        "  size = 0;\n"
        "  constructor(limit) {\n"
        "    this.size = limit;\n"
        "    this.pending = [];\n"
        "    if (limit) { this.nested = 1; }\n"
        "  }\n"
        "  push(job) { this.later = job; }\n"
        "}\n"
    )
    index = await store.snapshot(root.resolve())
    assert table(index, "queue.js") == {
        ("Queue", "class", "queue.js", 1, (1, 1), "source"),
        ("Queue.size", "field", "queue.js", 2, None, "source"),
        ("Queue.constructor", "method", "queue.js", 3, (1, 1), "source"),
        ("Queue.pending", "field", "queue.js", 5, None, "source"),
        ("Queue.push", "method", "queue.js", 8, (1, 1), "source"),
    }


async def test_an_overloaded_python_function_is_one_definition(tmp_path: Path) -> None:
    """`@overload` signatures and the implementation after them are one function that
    accepts what any of them does, not rivals to choose between; a platform branch that
    defines a function twice stays two."""
    root = tmp_path / "ov"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "session.py").write_text(
        "from typing import overload\n\n\n"
        "class Session:\n"
        "    @overload\n"
        "    def exec(self, statement): ...\n"
        "    @overload\n"
        "    def exec(self, statement, params, *, timeout=None): ...\n"
        "    def exec(self, statement, params=None, **kw):\n"
        "        return None\n\n\n"
        "if WINDOWS:\n"
        "    def getchar(echo): ...\n"
        "else:\n"
        "    def getchar(echo): ...\n",
        encoding="utf-8",
    )
    (root / "docs_src").mkdir()
    (root / "docs_src" / "tutorial001.py").write_text("def select_heroes():\n    pass\n")
    store = CodeKnowledge(workers=0)
    try:
        index = await store.snapshot(root)
    finally:
        await store.aclose()
    assert [(d.line, d.params) for d in index.qualified("Session.exec")] == [(6, (1, None))]
    assert [d.line for d in index.qualified("getchar")] == [14, 16]
    assert [d.role for d in index.lookup("select_heroes")] == [Role.docs]
