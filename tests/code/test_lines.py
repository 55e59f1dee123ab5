"""Code facts: which single lines define which names, per language."""

from __future__ import annotations

import pytest

from parallizer.code import Role, fence_language, language, role_of
from parallizer.code.extract.lines import OUTLINE_REGEX, defines, definition

DEFINES = [
    # python
    ("a.py", "def load_config(path):", "load_config", "function", True),
    ("a.py", "async def fan_out(", "fan_out", "function", True),
    ("a.py", "class RetryPolicy(Base):", "RetryPolicy", "class", True),
    ("a.py", "    def delay(self, attempt):", "delay", "function", False),
    ("a.py", "MAX_RETRIES = 3", "MAX_RETRIES", "variable", True),
    ("a.py", "log: Logger = get()", "log", "variable", True),
    ("a.py", "    max_retries: int = 3", "max_retries", "attribute", False),
    ("a.pyi", "def stub() -> int: ...", "stub", "function", True),
    # javascript / typescript
    ("a.js", "export async function fetchPage(url) {", "fetchPage", "function", True),
    ("a.ts", "export default class Cart {", "Cart", "class", True),
    ("a.tsx", "export const useCart = () => {", "useCart", "variable", True),
    ("a.ts", "export interface CartItem {", "CartItem", "type", True),
    ("a.ts", "type Price = number;", "Price", "type", True),
    ("a.mjs", "function* walk(tree) {", "walk", "function", True),
    # go
    ("a.go", "func LoadConfig(path string) (*Config, error) {", "LoadConfig", "function", True),
    ("a.go", "func (c *Cart) Total() float64 {", "Total", "method", False),
    ("a.go", "type Cart struct {", "Cart", "type", True),
    ("a.go", "var DefaultTimeout = 5", "DefaultTimeout", "variable", True),
    # rust
    ("a.rs", "pub fn search(query: &str) -> Vec<Match> {", "search", "function", True),
    ("a.rs", "    pub(crate) async fn run(&self) {", "run", "function", False),
    ("a.rs", "pub struct Matcher {", "Matcher", "type", True),
    ("a.rs", "enum Mode { Word, Regex }", "Mode", "type", True),
    ("a.rs", "pub trait Backend {", "Backend", "type", True),
    ("a.rs", "const LIMIT: usize = 4;", "LIMIT", "variable", True),
    # java / c# / kotlin
    ("A.java", "public final class RetryPolicy {", "RetryPolicy", "class", True),
    ("A.java", "    private static class Inner implements Runnable {", "Inner", "class", False),
    ("A.cs", "public interface IStore", "IStore", "class", True),
    ("A.kt", "data class Point(val x: Int)", "Point", "class", True),
    # c / c++
    ("a.h", "struct config {", "config", "type", True),
    ("a.h", "typedef struct node {", "node", "type", True),
    ("a.h", "#define MAX_LEN 64", "MAX_LEN", "macro", True),
    ("a.c", "static int parse_args(int argc, char **argv) {", "parse_args", "function", True),
    ("a.cpp", "class Engine : public Base {", "Engine", "type", True),
    # shell, make
    ("a.sh", "build_all() {", "build_all", "function", True),
    ("a.sh", "function deploy {", "deploy", "function", True),
    ("a.sh", "export PREFIX=/usr/local", "PREFIX", "variable", True),
    ("Makefile", "test: install", "test", "target", True),
    # configuration
    ("a.yml", "timeout: 30", "timeout", "key", True),
    ("a.yaml", "  retries: 3", "retries", "key", False),
    ("pyproject.toml", "[tool.ruff]", "tool.ruff", "table", True),
    ("pyproject.toml", "line-length = 100", "line-length", "key", True),
    ("a.json", '  "name": "parallizer",', "name", "key", False),
    # ruby
    ("a.rb", "  def self.build(opts)", "build", "function", False),
    ("a.rb", "module Shop", "Shop", "class", True),
]


@pytest.mark.parametrize(("path", "line", "name", "kind", "top"), DEFINES)
def test_definition_lines(path, line, name, kind, top):
    d = definition(path, line)
    assert d is not None, line
    assert (d.name, d.kind, d.owner is None) == (name, kind, top)
    assert defines(path, line, name)


# (file, line, a name the line uses but does not define, what the line does define if anything)
NOT_DEFINITIONS = [
    ("a.py", "from .config import load_config", "load_config", None),
    ("a.py", "    return load_config(path)", "load_config", None),
    # a use of RetryPolicy, but also a top-level variable
    ("a.py", "policy = RetryPolicy(max_retries=5)", "RetryPolicy", ("policy", "variable")),
    ("a.py", "    calls: Sequence[Call[T]],", "calls", None),  # a parameter line
    ("a.py", "        found: dict = {}", "found", None),  # a local
    ("a.py", "if x == 1:", "x", None),
    ("a.js", "const x = fetchPage(url);", "fetchPage", ("x", "variable")),
    ("a.go", "    return LoadConfig(path)", "LoadConfig", None),
    ("a.rs", "let m = Matcher::new();", "Matcher", None),
    ("a.c", "    return parse_args(argc, argv);", "parse_args", None),
    ("a.c", "int parse_args(int argc, char **argv);", "parse_args", None),  # a declaration
    ("a.h", "struct config;", "config", None),  # a forward declaration
    ("a.sh", "build_all", "build_all", None),  # a call
    ("notes.txt", "def load_config(path):", "load_config", None),  # unknown language
]


@pytest.mark.parametrize(("path", "line", "name", "defined"), NOT_DEFINITIONS)
def test_uses_imports_and_declarations_are_not_definitions_of_the_used_name(
    path, line, name, defined
):
    assert name in line
    assert not defines(path, line, name)
    d = definition(path, line)
    assert (None if d is None else (d.name, d.kind)) == defined


def test_dotted_and_partial_names():
    assert defines("a.py", "    max_retries: int = 3", "Settings.max_retries")
    assert defines("pyproject.toml", "[tool.ruff]", "ruff")
    assert not defines("a.py", "def load_config_file():", "load_config")


def test_one_language_table_for_the_index_the_line_rules_fences_and_the_editor():
    py, mk, ts = language("src/x/y.py"), language("Makefile"), language("web/app.tsx")
    assert py is not None and (py.name, py.parsed, py.rules) == ("python", True, "python")
    assert mk is not None and (mk.name, mk.parsed, mk.rules) == ("makefile", False, "make")
    assert ts is not None and (ts.name, ts.rules) == ("typescript", "javascript")
    assert language("README") is None
    assert fence_language("web/app.tsx") == "ts" and fence_language("notes.txt") == ""


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("tests/test_cart.py", Role.test),
        ("src/shop/cart_test.go", Role.test),
        ("web/cart.spec.ts", Role.test),
        ("conftest.py", Role.test),
        ("tests/fixtures/app.py", Role.test),
        ("src/testing/helpers.py", Role.test),
        ("examples/plan.md", Role.docs),
        ("src/shop/cart.py", Role.source),
        ("src/contest/rules.py", Role.source),
        ("latest/notes.md", Role.source),
        ("web/static/app.min.js", Role.generated),
    ],
)
def test_one_role_classifier(path, role):
    """Tests and fixtures are tests; examples and docs are docs (one classifier for the
    index and for ranking what ripgrep finds)."""
    assert role_of(path) is role


def test_outline_regex_is_a_superset_of_top_level_definitions():
    import re

    rx = re.compile(OUTLINE_REGEX)
    for path, line, _name, _kind, top in DEFINES:
        lang = language(path)
        if top and lang is not None and lang.rules in ("python", "javascript", "go", "rust"):
            assert rx.search(line), line
