"""The index on the Rust, Go, Java and C/C++ fixture trees: exact qualified names, kinds,
lines, arity and roles, one file at a time."""

from __future__ import annotations

from pathlib import Path

from parallizer.code import CodeKnowledge, Role

from .conftest import build, table


async def test_rust_definitions(tmp_path: Path, store: CodeKnowledge) -> None:
    index = await build("rust", tmp_path, store)
    assert table(index, "benches/bench.rs") == {
        ("bench_search", "function", "benches/bench.rs", 1, (0, 0), "docs"),
    }
    assert table(index, "src/flags/hiargs.rs") == {
        ("HiArgs", "class", "src/flags/hiargs.rs", 3, None, "source"),
        ("HiArgs.patterns", "field", "src/flags/hiargs.rs", 4, None, "source"),
        ("HiArgs.threads", "field", "src/flags/hiargs.rs", 5, None, "source"),
        ("HiArgs.new", "method", "src/flags/hiargs.rs", 9, (1, 1), "source"),
        ("HiArgs.threads", "method", "src/flags/hiargs.rs", 13, (0, 0), "source"),
        ("HiArgs.DEFAULT_THREADS", "constant", "src/flags/hiargs.rs", 17, None, "source"),
        ("HiArgs.fmt", "method", "src/flags/hiargs.rs", 21, (1, 1), "source"),
        ("Mode", "enum", "src/flags/hiargs.rs", 26, None, "source"),
        ("Mode.Search", "constant", "src/flags/hiargs.rs", 27, None, "source"),
        ("Mode.Files", "constant", "src/flags/hiargs.rs", 28, None, "source"),
        ("Matcher", "trait", "src/flags/hiargs.rs", 31, None, "source"),
        ("Matcher.is_match", "method", "src/flags/hiargs.rs", 32, (1, 1), "source"),
        ("Matcher.find_at", "method", "src/flags/hiargs.rs", 33, (2, 2), "source"),
        ("HiArgs.is_match", "method", "src/flags/hiargs.rs", 39, (1, 1), "source"),
        ("Result", "type", "src/flags/hiargs.rs", 44, None, "source"),
        ("MAX_DEPTH", "constant", "src/flags/hiargs.rs", 45, None, "source"),
        ("COUNTER", "variable", "src/flags/hiargs.rs", 46, None, "source"),
        ("flag", "macro", "src/flags/hiargs.rs", 48, None, "source"),
        ("defaults", "module", "src/flags/hiargs.rs", 52, None, "source"),
        ("threads", "function", "src/flags/hiargs.rs", 53, (0, 0), "source"),
        ("parse", "function", "src/flags/hiargs.rs", 58, (2, 2), "source"),
    }
    assert table(index, "tests/integration.rs") == {
        ("it_parses", "function", "tests/integration.rs", 1, (0, 0), "test"),
    }


async def test_go_definitions(tmp_path: Path, store: CodeKnowledge) -> None:
    index = await build("go", tmp_path, store)
    assert table(index, "internal/cache/cache.go") == {
        ("Cache", "class", "internal/cache/cache.go", 5, None, "generated"),
        ("Cache.items", "field", "internal/cache/cache.go", 6, None, "generated"),
        ("Cache.Get", "method", "internal/cache/cache.go", 9, (1, 1), "generated"),
    }
    assert table(index, "server/server.go") == {
        ("Server", "class", "server/server.go", 6, None, "source"),
        ("Server.Addr", "field", "server/server.go", 7, None, "source"),
        ("Server.a", "field", "server/server.go", 8, None, "source"),
        ("Server.b", "field", "server/server.go", 8, None, "source"),
        ("Server.Handler", "field", "server/server.go", 9, None, "source"),
        ("Handler", "interface", "server/server.go", 12, None, "source"),
        ("Handler.ServeConn", "method", "server/server.go", 13, (1, 1), "source"),
        ("ID", "type", "server/server.go", 16, None, "source"),
        ("DefaultPort", "constant", "server/server.go", 19, None, "source"),
        ("maxConns", "constant", "server/server.go", 20, None, "source"),
        ("ErrClosed", "variable", "server/server.go", 23, None, "source"),
        ("New", "function", "server/server.go", 25, (1, 1), "source"),
        ("Server.Serve", "method", "server/server.go", 29, (1, 1), "source"),
        ("Server.Close", "method", "server/server.go", 33, (0, 0), "source"),
        ("newError", "function", "server/server.go", 35, (1, None), "source"),
        ("Pair", "function", "server/server.go", 39, (3, 3), "source"),
    }
    assert table(index, "server/server_test.go") == {
        ("TestServe", "function", "server/server_test.go", 3, (1, 1), "test"),
    }
    assert table(index, "vendor/golang.org/x/y/y.go") == {
        ("Vendored", "function", "vendor/golang.org/x/y/y.go", 3, (0, 0), "vendored"),
    }


async def test_java_definitions(tmp_path: Path, store: CodeKnowledge) -> None:
    index = await build("java", tmp_path, store)
    assert table(index, "src/main/java/org/demo/Retry.java") == {
        ("Retry", "class", "src/main/java/org/demo/Retry.java", 3, (1, 2), "source"),
        ("Retry.MAX_ATTEMPTS", "constant", "src/main/java/org/demo/Retry.java", 4, None, "source"),
        ("Retry.label", "field", "src/main/java/org/demo/Retry.java", 5, None, "source"),
        ("Retry.name", "field", "src/main/java/org/demo/Retry.java", 5, None, "source"),
        ("Retry.execute", "method", "src/main/java/org/demo/Retry.java", 16, (1, 1), "source"),
        ("Retry.execute", "method", "src/main/java/org/demo/Retry.java", 20, (2, None), "source"),
        ("Retry.Backoff", "class", "src/main/java/org/demo/Retry.java", 24, (0, 0), "source"),
        (
            "Retry.Backoff.delay",
            "method",
            "src/main/java/org/demo/Retry.java",
            25,
            (1, 1),
            "source",
        ),
        ("Retry.State", "enum", "src/main/java/org/demo/Retry.java", 30, None, "source"),
        ("Retry.State.OPEN", "constant", "src/main/java/org/demo/Retry.java", 31, None, "source"),
        ("Retry.State.CLOSED", "constant", "src/main/java/org/demo/Retry.java", 32, None, "source"),
        ("Retry.State.allows", "method", "src/main/java/org/demo/Retry.java", 34, (0, 0), "source"),
        ("Policy", "interface", "src/main/java/org/demo/Retry.java", 40, None, "source"),
        ("Policy.LIMIT", "constant", "src/main/java/org/demo/Retry.java", 41, None, "source"),
        ("Policy.reset", "method", "src/main/java/org/demo/Retry.java", 43, (0, 0), "source"),
        ("Attempt", "class", "src/main/java/org/demo/Retry.java", 46, (2, 2), "source"),
        ("Attempt.delayMillis", "field", "src/main/java/org/demo/Retry.java", 46, None, "source"),
        ("Attempt.number", "field", "src/main/java/org/demo/Retry.java", 46, None, "source"),
    }
    assert table(index, "src/test/java/org/demo/RetryTest.java") == {
        ("RetryTest", "class", "src/test/java/org/demo/RetryTest.java", 3, (0, 0), "test"),
        (
            "RetryTest.retriesThreeTimes",
            "method",
            "src/test/java/org/demo/RetryTest.java",
            4,
            (0, 0),
            "test",
        ),
    }


async def test_c_and_cpp_definitions(tmp_path: Path, store: CodeKnowledge) -> None:
    index = await build("c", tmp_path, store)
    assert table(index, "include/list.h") == {
        ("LIST_MAX", "macro", "include/list.h", 4, None, "source"),
        ("LIST_AT", "macro", "include/list.h", 5, (2, 2), "source"),
        ("list", "class", "include/list.h", 7, None, "source"),
        ("list.count", "field", "include/list.h", 8, None, "source"),
        ("list.items", "field", "include/list.h", 9, None, "source"),
        ("list_t", "type", "include/list.h", 10, None, "source"),
        ("list_cmp", "type", "include/list.h", 12, None, "source"),
        ("list_kind", "enum", "include/list.h", 14, None, "source"),
        ("list_kind.LIST_PLAIN", "constant", "include/list.h", 14, None, "source"),
        ("list_kind.LIST_SORTED", "constant", "include/list.h", 14, None, "source"),
    }
    assert table(index, "src/list.c") == {
        ("grow", "function", "src/list.c", 3, (1, 1), "source"),
        ("list_new", "function", "src/list.c", 5, (1, 1), "source"),
        ("list_printf", "function", "src/list.c", 9, (2, None), "source"),
        ("list_free", "function", "src/list.c", 13, (0, 0), "source"),
    }
    assert table(index, "src/shape.cpp") == {
        ("geo", "module", "src/shape.cpp", 3, None, "source"),
        ("Shape.scale", "method", "src/shape.cpp", 5, (2, 2), "source"),
        ("clamp", "function", "src/shape.cpp", 12, (3, 3), "source"),
    }
    assert table(index, "src/shape.hpp") == {
        ("geo", "module", "src/shape.hpp", 3, None, "source"),
        ("Shape", "class", "src/shape.hpp", 5, None, "source"),
        ("Shape.area", "method", "src/shape.hpp", 9, (0, 0), "source"),
        ("Shape.sides", "method", "src/shape.hpp", 10, (0, 0), "source"),
        ("Shape.sides_", "field", "src/shape.hpp", 14, None, "source"),
        ("Point", "class", "src/shape.hpp", 17, None, "source"),
        ("Point.x", "field", "src/shape.hpp", 18, None, "source"),
        ("Point.y", "field", "src/shape.hpp", 18, None, "source"),
        ("Points", "type", "src/shape.hpp", 21, None, "source"),
    }
    assert table(index, "third_party/zlib/zutil.c") == {
        ("zcompress", "function", "third_party/zlib/zutil.c", 1, (1, 1), "vendored"),
    }


async def test_qualified_lookups_across_languages(tmp_path: Path, store: CodeKnowledge) -> None:
    rust = await build("rust", tmp_path, store)
    # impl methods by the implementing type, trait methods by the trait
    assert [d.citation for d in rust.qualified("HiArgs.new")] == ["src/flags/hiargs.rs:9"]
    assert [d.qualname for d in rust.lookup("is_match")] == ["Matcher.is_match", "HiArgs.is_match"]
    assert rust.lookup("helper") == []  # #[cfg(test)] module
    assert rust.near("HiArg")[0][0].qualname == "HiArgs"
    go = await build("go", tmp_path, store)
    assert [(d.kind, d.owner) for d in go.qualified("Server.Serve")] == [("method", "Server")]
    assert [d.role for d in go.lookup("Vendored")] == [Role.vendored]
    java = await build("java", tmp_path, store)
    # overloads are separate definitions with their own arity
    assert [d.params for d in java.qualified("Retry.execute")] == [(1, 1), (2, None)]
    c = await build("c", tmp_path, store)
    assert {d.language for d in c.definitions() if d.path.endswith(".h")} == {"c"}
    assert {d.language for d in c.definitions() if d.path.endswith("pp")} == {"cpp"}
    assert [d.citation for d in c.qualified("Shape.scale")] == ["src/shape.cpp:5"]
    assert c.folded("LIST_NEW")[0].citation == "src/list.c:5"
