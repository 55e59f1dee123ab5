"""The dependency pass's readers, alone: the project's imports, the plan's chained calls,
what treats a name as a package, a class's bases, a declaration's return type."""

from __future__ import annotations

from pathlib import Path

from parallizer.code.resolve_deps import (
    Imports,
    _local_names,
    chains,
    class_bases,
    go_alias,
    js_package,
    package_evidence,
    returns,
    scan_imports,
)
from parallizer.code.sources.base import Environment, Package


def test_the_imports_of_each_language_and_the_names_they_bind():
    found = scan_imports([
        ("app/cache.py", "from redis.asyncio import Redis, ConnectionPool as Pool"),
        ("app/cache.py", "import httpx, rich.progress as rp"),
        ("app/cache.py", "from . import models"),
        ("web/cli.ts", 'import { z } from "zod";'),
        ("web/cli.ts", 'import Default, { Command as Cmd, type Opts } from "commander"'),
        ("web/cli.ts", "import * as fs from 'node:fs'"),
        ("web/old.js", "const { LRUCache } = require('lru-cache/min')"),
        ("web/x.ts", 'export { thing } from "@scope/kit/sub"'),
        ("cmd/main.go", '\tuuid "github.com/google/uuid"'),
        ("cmd/main.go", '\t"github.com/pkg/errors"'),
        ("cmd/main.go", '\t"fmt"'),
        ("src/lib.rs", "use serde_json::Value;"),
        ("src/lib.rs", "use crate::config;"),
    ])  # fmt: skip
    assert found.names == {
        "Redis": "redis.asyncio", "Pool": "redis.asyncio", "httpx": "httpx", "rp": "rich.progress",
        "z": "zod", "Default": "commander", "Cmd": "commander",
        "Opts": "commander", "LRUCache": "lru-cache", "thing": "@scope/kit",
        "uuid": "github.com/google/uuid", "errors": "github.com/pkg/errors",
        "serde_json": "serde_json",
    }  # fmt: skip
    assert "fs" not in found.names and "fmt" not in found.modules  # a runtime's own modules
    assert js_package("@scope/kit/sub") == "@scope/kit" and js_package("./local") is None
    assert go_alias("gopkg.in/yaml.v3") == "yaml"
    assert go_alias("github.com/x/go-redis/v9") == "redis"


def test_chained_calls_in_spans_over_lines_in_blocks_and_inside_arguments():
    plan = [
        "| `allowedSources` | `z.array(z.string().cidr())` |",
        "Declare it with `new Option(\"--o <f>\", \"x\")",
        ".requiredOption()`, keep extra keys with `.passThrough()`.",
        "```python",
        "model_config = ConfigDict(validate_by_name=True, frozen=True)",
        "```",
        "Plain names stay names: `a.b.c` and `self.x`.",
    ]
    got = [(c.line, c.root, c.new, [m for m, _ in c.members], c.texts[-1]) for c in chains(plan)]
    assert got == [
        (0, "z", False, ["array"], "z.array()"),
        (0, "z", False, ["string", "cidr"], "z.string().cidr()"),
        (1, "Option", True, ["requiredOption"], 'new Option("--o <f>", "x") .requiredOption()'),
        (2, None, False, ["passThrough"], ".passThrough()"),
        (4, "ConfigDict", False, [], "ConfigDict"),
        (6, "a", False, ["b", "c"], "a.b.c"),
        (6, "self", False, ["x"], "self.x"),
    ]
    [config] = [c for c in chains(plan) if c.root == "ConfigDict"]
    assert config.args == "validate_by_name=True, frozen=True"


def test_what_treats_a_name_as_a_package():
    plan = [
        "Wrap it with the `tenacity` library and the package `attrs`.",
        "Then `npm install --save-dev p-limit@4` and `pip install 'httpx[http2]==0.27'`.",
        "The parser reads the response; a library of helpers; import it from a test.",
        "```python",
        "import sqlparse",
        "from orjson import dumps",
        "```",
        'const execa = require("execa")',
        "```go",
        'import "github.com/sirupsen/logrus"',
        "```",
    ]
    got = {(e.name, e.ecosystem) for e in package_evidence(plan)}
    assert got == {
        ("tenacity", None), ("attrs", None), ("p-limit", "npm"), ("sqlparse", "python"),
        ("orjson", "python"), ("execa", "npm"), ("github.com/sirupsen/logrus", "go"),
    }  # fmt: skip


def test_a_tool_the_plan_works_with_is_weaker_evidence_of_a_package():
    """"resample with `pandas`" treats `pandas` as a package, less surely than an import
    (the word must then be nowhere in the project's code); an argument, an option or a
    field "with `retries`" names is not evidence, nor is a call or a code block's line."""
    plan = [
        "For weekly averages we resample with `pandas` (`DataFrame.resample`).",
        "One smoke test spawns the built binary with `execa`, using the `@scope/kit` helpers.",
        "Call it with `retries` set to 3, with the `timeout` option, with `parse()`.",
        "It fails with `strict` argument errors; via `Foo` objects.",
        "```",
        "run with `fabric`",
        "```",
    ]
    got = {(e.name, e.confidence) for e in package_evidence(plan)}
    assert got == {("pandas", 0.6), ("execa", 0.6), ("@scope/kit", 0.6)}


def test_the_bases_a_class_names_and_what_a_declarationreturns():
    assert class_bases("class Policy(tenacity.Retrying, Generic[T], metaclass=ABCMeta):") == [
        "Retrying", "Generic",
    ]  # fmt: skip
    assert class_bases("export declare class ZodString extends ZodType<string, Def> {") == [
        "ZodType"
    ]
    assert class_bases("class A<T> extends Base<T> implements Named, Sized {") == [
        "Base", "Named", "Sized",
    ]  # fmt: skip
    assert returns("email(message?: errorUtil.ErrMessage): ZodString;", "email") == "ZodString"
    assert returns("declare const stringType: (params?: (X & {\n a: 1 })) => ZodString;",
                    "stringType") == "ZodString"  # fmt: skip
    assert returns("option(flags: string): this;", "option") == "this"
    assert returns("def copy(self, **kw: Any) -> Retrying:", "copy") == "Retrying"


def test_the_names_a_plan_may_write_for_packages_are_worked_out_once_per_environment():
    """The local names of a venv's packages are the same for every request until the code's
    imports or the environment change: worked out once, afresh for a new discovery."""
    def env() -> Environment:
        redis = Package("python", "redis", "4.6.0", Path("/site"), modules=("redis",))
        return Environment("python", Path("/p"), packages=(redis,))

    imports = Imports()
    imports.add("redis.asyncio", "Redis")
    first = env()
    names = _local_names([first], imports)
    assert set(names) == {"Redis", "redis"}
    assert _local_names([first], imports) is names  # the same work, not done again
    again = _local_names([env()], imports)  # a new discovery: worked out afresh
    assert again is not names and again == names
    assert _local_names([first], Imports()) == {"redis": names["redis"]}  # other imports
