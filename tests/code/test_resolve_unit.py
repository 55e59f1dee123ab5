"""Name resolution as a pure function: a `Snapshot` built from definitions made here, and the
plan's uses; each verdict with the definitions it rests on."""

from __future__ import annotations

from pathlib import Path

from parallizer.code import BuildStats, Definition, NameUse, Resolver, Role, Snapshot, Verdict


def d(qualname: str, kind: str, path: str, line: int, *, lang: str = "python",
      role: Role = Role.source, params: tuple[int, int | None] | None = None) -> Definition:  # fmt: skip
    owner, _, name = qualname.rpartition(".")
    return Definition(name, qualname, owner or None, kind, lang, path, line, role, params)


DEFS = [
    d("Client", "class", "src/client.py", 3),
    d("Client.close", "method", "src/client.py", 5, params=(0, 0)),
    d("AsyncClient", "class", "src/client.py", 9),
    d("AsyncClient.send", "method", "src/client.py", 10, params=(1, 2)),
    d("Client.send", "method", "src/client.pyi", 2, role=Role.stub, params=(1, 1)),
    d("HttpTransport", "class", "src/transport.py", 1, params=(0, 1)),
    d("HttpTransports", "class", "tests/test_t.py", 1, role=Role.test),
    d("getchar", "function", "src/term.py", 10, params=(0, 1)),
    d("getchar", "function", "src/term.py", 40, params=(0, 1)),
    d("Parser.parse", "method", "src/Parser.java", 5, lang="java", params=(1, 1)),
    d("Parser.parse", "method", "src/Parser.java", 9, lang="java", params=(2, 2)),
    d("Parser", "class", "src/Parser.java", 1, lang="java"),
    d("WebSocket", "class", "lib/websocket.js", 40, lang="javascript"),
    d("WebSocket", "constant", "index.js", 3, lang="javascript"),
]
FILES = sorted({x.path for x in DEFS} | {"README.md", "src/shop/__init__.py"})


def row(x: Definition) -> tuple:
    """The index's compact form of a definition (the inverse of `make_definition`)."""
    lo, hi = x.params if x.params is not None else (-1, -1)
    hi = -1 if hi is None else hi
    return (x.name, x.qualname, x.owner, x.kind, x.language, x.path, x.line, x.role.value, lo, hi)


def resolver(**kw) -> Resolver:
    index = Snapshot(Path("/tree"), FILES, map(row, DEFS), BuildStats(files=len(FILES)))
    return Resolver(index, **kw)


def verdict(text: str, **kw) -> tuple[str, list[str], list[str]]:
    args = kw.pop("args", None)
    kind = kw.pop("kind", None)
    r = resolver(**kw).resolve(NameUse.of(text, 0, args=args, kind=kind))
    return r.verdict.value, [x.citation for x in r.definitions], [x.qualname for x in r.suggestions]


def test_found_and_wrong_owner_ignoring_stubs():
    assert verdict("AsyncClient.send") == ("found", ["src/client.py:10"], [])
    # the stub's `Client.send` does not count: `send` lives on AsyncClient
    assert verdict("Client.send") == ("wrong_owner", ["src/client.py:10"], [])
    r = resolver().resolve(NameUse.of("Client.send"))
    assert [o.citation for o in r.owners] == ["src/client.py:3"]


def test_wrong_names_folded_and_near_prefer_source():
    assert verdict("HTTPTransport") == ("wrong_name", [], ["HttpTransport"])
    assert verdict("HttpTransprt") == ("wrong_name", [], ["HttpTransport"])
    assert verdict("Client.clos") == ("wrong_name", [], ["Client.close"])
    r = resolver().resolve(NameUse.of("HTTPTransport"))
    assert r.needs_text == ("HTTPTransport",)  # a claim until rg confirms it is no word
    assert r.holds({"HTTPTransport": False}) and not r.holds({"HTTPTransport": True})
    assert not r.holds({})  # not checked (or the search failed): no claim


def test_arity_counts_against_every_definition():
    assert verdict("AsyncClient.send", args=3) == ("arity", ["src/client.py:10"], [])
    assert verdict("AsyncClient.send", args=2)[0] == "found"
    assert verdict("HttpTransport", args=2) == ("arity", ["src/transport.py:1"], [])
    # Java overloads: one of them fits
    assert verdict("Parser.parse", args=2)[0] == "found"


def test_ambiguity_needs_rival_source_definitions():
    # twice in one Python file (platform branches): a choice
    assert verdict("getchar") == ("ambiguous", ["src/term.py:10", "src/term.py:40"], [])
    # a Java overload, a JS alias, a test class: no choice
    assert verdict("Parser.parse")[0] == "found"
    assert verdict("WebSocket") == ("found", ["lib/websocket.js:40", "index.js:3"], [])


def test_introduced_known_and_no_claims():
    assert verdict("TooManyRetries", introduced={"TooManyRetries"})[0] == "introduced"
    assert verdict("get_f64_ne", introduced={"_ne", "get_u16_ne"})[0] == "introduced"
    assert verdict("put_u8_ne", introduced={"put_*_ne"})[0] == "introduced"
    assert verdict("RateGate", proposed={"RateGate"})[0] == "introduced"
    # proposed is weaker: a near existing name still makes a wrong name
    assert verdict("HttpTransprt", proposed={"HttpTransprt"})[0] == "wrong_name"
    assert verdict("defaultdict")[0] == "known"
    assert verdict("asyncio.Semaphore")[0] == "known"
    assert verdict("AtomicU64")[0] == "missing"  # no Rust in this tree
    assert verdict("AtomicU64", languages=["rust"])[0] == "known"
    assert verdict("conn._closeTimeout")[0] == "skipped"  # a variable's attribute
    assert verdict("shop.frobnicate") == ("missing", [], [])  # `shop` is a module of the tree
    assert verdict("return")[0] == "skipped"


def test_paths():
    assert verdict("src/client.py", kind="path")[0] == "path_ok"
    assert verdict("client.py", kind="path")[0] == "path_ok"
    r = resolver().resolve(NameUse.of("src/clinet.py", kind="path"))
    assert r.verdict is Verdict.missing_path and r.near_paths[0] == "src/client.py"
    assert verdict("src/gate.py", kind="path", introduced={"src/gate.py"})[0] == "introduced"


def test_owner_written_like_a_type_is_resolved_too():
    uses = [NameUse.of("HelpFormater.write_dl", 4)]
    rs = {r.text: r.verdict.value for r in resolver().resolve_all(uses)}
    assert rs == {"HelpFormater.write_dl": "missing", "HelpFormater": "missing"}


def test_a_missing_name_points_at_what_it_may_build_on():
    r = resolver().resolve(NameUse.of("RetryTransport"))
    assert r.verdict is Verdict.missing
    assert [x.citation for x in r.suggestions] == []  # no source `Transport`
    r = resolver().resolve(NameUse.of("ConnectionPoolHttpTransport"))
    assert r.verdict is Verdict.missing
    assert [x.qualname for x in r.suggestions] == ["HttpTransport"]


def test_a_missing_package_file_suggests_its_module_twin():
    r = resolver().resolve(NameUse.of("src/client/__init__.py", kind="path"))
    assert r.verdict is Verdict.missing_path and r.near_paths[0] == "src/client.py"


TYPED = [
    d("FastifyRequest", "interface", "types/request.d.ts", 3, lang="typescript", role=Role.stub),
    d("FastifyRequest.routerPath", "property", "types/request.d.ts", 9, lang="typescript",
      role=Role.stub),
    d("FastifyRequest.headers", "property", "types/request.d.ts", 7, lang="typescript",
      role=Role.stub),
    d("FastifyReply", "interface", "types/reply.d.ts", 2, lang="typescript", role=Role.stub),
    d("FastifyReply.send", "method", "types/reply.d.ts", 5, lang="typescript", role=Role.stub),
    d("SemVer", "class", "classes/semver.js", 1, lang="javascript"),
    d("SemVer.compare", "method", "classes/semver.js", 40, lang="javascript", params=(1, 1)),
    d("diff", "function", "functions/diff.js", 3, lang="javascript", params=(2, 2)),
    d("Router.route", "method", "lib/router.js", 12, lang="javascript", params=(1, 1)),
]  # fmt: skip


def typed(text: str) -> tuple[str, list[str], list[str], list[str]]:
    files = sorted({x.path for x in TYPED})
    index = Snapshot(Path("/tree"), files, map(row, TYPED), BuildStats(files=len(files)))
    r = Resolver(index).resolve(NameUse.of(text, 0))
    return (r.verdict.value, [x.citation for x in r.definitions],
            [x.qualname for x in r.suggestions], [o.qualname for o in r.owners])  # fmt: skip


def test_a_variable_named_after_a_type_is_read_as_one():
    # `request.routerPath`: `request` is no definition, but the tree's FastifyRequest ends so
    assert typed("request.routerPath")[:2] == ("found", ["types/request.d.ts:9"])
    # its near member, not "nothing defines request.routerPat"
    assert typed("request.routerPat")[0] == "wrong_name"
    assert typed("request.routerPat")[2] == ["FastifyRequest.routerPath"]
    # a member that only another type has: on the wrong class, with the class it lives on
    assert typed("request.route")[:2] == ("wrong_owner", ["lib/router.js:12"])
    assert typed("request.route")[3] == ["FastifyRequest"]
    # ... only when that class is the tree's own: a declared one is too weak to say so
    assert typed("request.send")[0] != "wrong_owner"
    assert typed("reply.send")[:2] == ("found", ["types/reply.d.ts:5"])
    # nothing near: missing, pointing at the type the variable was read as
    assert typed("request.frobnicate")[0] == "missing"
    assert typed("request.frobnicate")[3] == ["FastifyRequest"]


def test_a_module_function_beside_a_class_is_not_a_member():
    # `semver.diff`: diff is the module's function, defined outside any class
    assert typed("semver.diff")[:2] == ("found", ["functions/diff.js:3"])
    assert typed("semver.compare")[:2] == ("found", ["classes/semver.js:40"])
    # an owner that names no type (too short, or no type ends so) makes no claim
    assert typed("rq.routerPat")[0] == "skipped"
    assert typed("rq.frobnicate")[0] == "skipped"
    assert typed("response.frobnicate")[0] == "skipped"
