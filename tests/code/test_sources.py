"""Discovery of each ecosystem's installed packages, on trees laid out as each tool lays them
out (a virtualenv's site-packages, node_modules, Go's vendor/ and module cache, cargo's vendor/
and registry, a Maven repository's sources jar), and the lock files each writes."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from parallizer.code.deps import Dependencies
from parallizer.code.knowledge import CodeKnowledge
from parallizer.code.sources import Options, code_files, discover, go, javascript, python, rust
from parallizer.code.sources import java as java_source

HERMETIC = Options(system=False)  # never Debian's shared trees of the machine running the test


def write(root: Path, rel: str, text: str = "") -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return p


def dist_info(site: Path, name: str, version: str, files: list[str], top: str | None) -> None:
    info = f"{name.replace('-', '_')}-{version}.dist-info"
    write(site, f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nBody\n")
    record = [f"{f},sha256=x,1" for f in files] + [f"{info}/METADATA,,", f"{info}/RECORD,,"]
    write(site, f"{info}/RECORD", "\n".join(record) + "\n")
    if top is not None:
        write(site, f"{info}/top_level.txt", top + "\n")
    for f in files:
        write(site, f, "x = 1\n")


def fake_venv(root: Path, version: str = "3.11") -> Path:
    write(root, "pyvenv.cfg", f"home = /usr/bin\nversion = {version}.4\n")
    site = root / "lib" / f"python{version}" / "site-packages"
    site.mkdir(parents=True)
    return site


# --- Python ---------------------------------------------------------------------------------


def test_a_virtualenv_gives_each_distribution_its_version_import_names_and_files(tmp_path: Path):
    scope = tmp_path / "proj"
    write(scope, "pyproject.toml", """
        [project]
        name = "proj"
        dependencies = ["python-dateutil>=2.8", "Tenacity[extra] ; python_version > '3.8'"]
        [project.optional-dependencies]
        cli = ["rich"]
        [dependency-groups]
        dev = ["pytest>=8"]
        """)  # fmt: skip
    write(scope, "requirements-dev.txt", "# tools\nruff==0.6  # lint\n-r other.txt\n")
    write(scope, "uv.lock", """
        version = 1
        [[package]]
        name = "python-dateutil"
        version = "2.9.0.post0"
        [[package]]
        name = "tenacity"
        version = "8.2.3"
        """)  # fmt: skip
    site = fake_venv(scope / ".venv")
    dist_info(site, "python-dateutil", "2.9.0.post0",
              ["dateutil/__init__.py", "dateutil/parser/_parser.py", "dateutil/test/test_x.py"],
              "dateutil")  # fmt: skip
    dist_info(site, "tenacity", "8.2.3", ["tenacity/__init__.py", "../../bin/x"], None)
    dist_info(site, "proj", "0.1", [], "proj")  # the project, installed in its own venv

    [env] = discover(scope, HERMETIC)
    assert env.ecosystem == "python"
    assert env.manifest == "pyproject.toml"
    assert env.where == ".venv (Python 3.11.4)"
    assert env.location == site
    assert env.note is None
    assert [(p.name, p.version) for p in env.packages] == [
        ("python-dateutil", "2.9.0.post0"),
        ("tenacity", "8.2.3"),
    ]
    dateutil, tenacity = env.packages
    assert dateutil.modules == ("dateutil",)
    assert tenacity.modules == ("tenacity",)  # from RECORD: it ships no top_level.txt
    # its files from RECORD, tests and anything outside site-packages left out
    assert code_files(dateutil) == ["dateutil/__init__.py", "dateutil/parser/_parser.py"]
    assert code_files(tenacity) == ["tenacity/__init__.py"]
    assert dateutil.citation("dateutil/parser/_parser.py", 3) == (
        "python-dateutil==2.9.0.post0:dateutil/parser/_parser.py:3"
    )
    assert set(env.declared) == {"python-dateutil", "tenacity", "rich", "pytest", "ruff"}
    assert env.locked == {"python-dateutil": "2.9.0.post0", "tenacity": "8.2.3"}
    assert env.is_declared("Python_Dateutil")  # PEP 503
    assert [p.name for p in env.by_module("dateutil.parser")] == ["python-dateutil"]
    assert env.own == "proj"
    summary = env.summary()
    assert summary["declared_not_installed"] == ["pytest", "rich", "ruff"]


def test_poetry_declarations_and_lock(tmp_path: Path):
    scope = tmp_path / "proj"
    write(scope, "pyproject.toml", """
        [tool.poetry]
        name = "proj"
        [tool.poetry.dependencies]
        python = "^3.11"
        httpx = "^0.27"
        [tool.poetry.group.dev.dependencies]
        pytest = "*"
        """)  # fmt: skip
    write(scope, "poetry.lock", '[[package]]\nname = "httpx"\nversion = "0.27.2"\n')
    [env] = discover(scope, HERMETIC)
    assert set(env.declared) == {"httpx", "pytest"}  # not python itself
    assert env.locked == {"httpx": "0.27.2"}
    assert not env.found
    assert env.note is not None and "no Python environment found" in env.note


def test_the_interpreter_setting_wins_over_the_scopes_venv_and_virtual_env(tmp_path: Path):
    scope = tmp_path / "proj"
    write(scope, "requirements.txt", "six\n")
    dist_info(fake_venv(scope / ".venv"), "six", "1.16.0", ["six.py"], "six")
    other = fake_venv(tmp_path / "other", "3.12")
    dist_info(other, "six", "1.17.0", ["six.py"], "six")
    active = fake_venv(tmp_path / "active")
    dist_info(active, "six", "1.15.0", ["six.py"], "six")

    def six(options: Options) -> str:
        [env] = discover(scope, options)
        return env.packages[0].version

    assert six(HERMETIC) == "1.16.0"  # the scope's .venv
    interpreter = tmp_path / "other" / "bin" / "python"
    assert six(Options(python=str(interpreter), system=False)) == "1.17.0"  # inside a venv
    assert six(Options(python=str(tmp_path / "other"), system=False)) == "1.17.0"  # its dir
    (scope / ".venv" / "pyvenv.cfg").unlink()
    assert six(Options(virtual_env=str(tmp_path / "active"), system=False)) == "1.15.0"


def test_an_interpreter_outside_a_virtualenv_is_asked_where_its_packages_are(tmp_path: Path):
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    if not base.is_file():
        base = Path(sys.base_prefix) / "bin" / "python3"
    assert not (base.parent.parent / "pyvenv.cfg").exists()
    scope = tmp_path / "proj"
    write(scope, "pyproject.toml", '[project]\nname = "proj"\n')
    [env] = discover(scope, Options(python=str(base), system=False))
    # the interpreter says where: its purelib, as sysconfig knows it
    assert env.location is not None and env.location.name in ("site-packages", "dist-packages")
    assert "PARALLIZER_PYTHON" in env.where


def test_a_python_project_without_an_environment_says_so(tmp_path: Path):
    scope = tmp_path / "proj"
    write(scope, "pyproject.toml", '[project]\nname = "proj"\ndependencies = ["httpx"]\n')
    [env] = discover(scope, HERMETIC)
    assert env.packages == ()
    assert env.note is not None and "PARALLIZER_PYTHON" in env.note


def test_a_tree_of_no_ecosystem_has_no_environment(tmp_path: Path):
    write(tmp_path / "proj", "notes.md", "# notes\n")
    assert discover(tmp_path / "proj", HERMETIC) == []


# --- npm --------------------------------------------------------------------------------------


def test_node_modules_packages_their_typings_and_the_lock_files(tmp_path: Path):
    scope = tmp_path / "app"
    write(scope, "package.json", json.dumps({
        "name": "app", "dependencies": {"ms": "^2.1.3", "@scope/kit": "1.0.0"},
        "devDependencies": {"@types/ms": "0.7.34"},
    }))  # fmt: skip
    nm = scope / "node_modules"
    write(nm, "ms/package.json", '{"name": "ms", "version": "2.1.3"}')
    write(nm, "ms/index.js", "module.exports = function ms() {}\n")
    write(nm, "ms/index.min.js", "x\n")
    write(nm, "@types/ms/package.json", '{"name": "@types/ms", "version": "0.7.34"}')
    write(nm, "@types/ms/index.d.ts", "declare function ms(value: string): number;\n")
    write(nm, "@scope/kit/package.json", '{"name": "@scope/kit", "version": "1.0.0", "types": "k.d.ts"}')
    write(nm, "@scope/kit/k.d.ts", "export declare class Kit {}\n")
    write(nm, "@scope/kit/node_modules/inner/package.json", '{"name": "inner", "version": "9"}')
    write(nm, "@scope/kit/node_modules/inner/i.d.ts", "export declare const i: 1;\n")
    write(nm, ".bin/x", "")
    write(scope, "package-lock.json", json.dumps({"lockfileVersion": 3, "packages": {
        "": {"name": "app"},
        "node_modules/ms": {"version": "2.1.3"},
        "node_modules/@scope/kit": {"version": "1.0.0"},
        "node_modules/@scope/kit/node_modules/inner": {"version": "9.0.0"},
    }}))  # fmt: skip

    [env] = discover(scope, HERMETIC)
    assert env.ecosystem == "npm" and env.manifest == "package.json" and env.own == "app"
    assert {(p.name, p.version) for p in env.packages} == {
        ("ms", "2.1.3"), ("@types/ms", "0.7.34"), ("@scope/kit", "1.0.0"),
    }  # fmt: skip
    by = {p.name: p for p in env.packages}
    assert by["@types/ms"].types_for == "ms"
    assert [p.name for p in env.by_module("ms")] == ["ms", "@types/ms"]  # typings after
    assert [p.name for p in env.by_module("@scope/kit/sub")] == ["@scope/kit"]
    assert code_files(by["ms"]) == ["index.js"]  # no typings of its own: its JavaScript
    assert code_files(by["@scope/kit"]) == ["k.d.ts"]  # its nested node_modules left out
    assert env.locked == {"ms": "2.1.3", "@scope/kit": "1.0.0"}
    assert set(env.declared) == {"ms", "@scope/kit", "@types/ms"}


def test_pnpm_and_yarn_lock_files():
    pnpm = textwrap.dedent("""
        lockfileVersion: '9.0'
        importers:
          .:
            dependencies:
              zod:
                specifier: ^3.23.8
                version: 3.23.8
        packages:
          zod@3.23.8:
            resolution: {integrity: sha512-x}
          '@types/ms@0.7.34':
            resolution: {integrity: sha512-y}
          react-dom@18.2.0(react@18.2.0):
            resolution: {integrity: sha512-z}
        """)  # fmt: skip
    assert javascript.pnpm_lock(pnpm) == {"zod": "3.23.8", "@types/ms": "0.7.34",
                                          "react-dom": "18.2.0"}  # fmt: skip
    old = "packages:\n  /commander/12.1.0:\n    x: 1\n  /ms@2.1.3:\n    x: 1\n"
    assert javascript.pnpm_lock(old) == {"ms": "2.1.3"}
    yarn1 = '"ms@^2.1.3", ms@2:\n  version "2.1.3"\n  resolved "x"\n\n"@scope/kit@1.0.0":\n  version "1.0.0"\n'
    assert javascript.yarn_lock(yarn1) == {"ms": "2.1.3", "@scope/kit": "1.0.0"}
    berry = '"zod@npm:^3.23.8":\n  version: 3.23.8\n  resolution: "zod@npm:3.23.8"\n'
    assert javascript.yarn_lock(berry) == {"zod": "3.23.8"}


def test_a_package_json_without_node_modules_says_so(tmp_path: Path):
    write(tmp_path / "app", "package.json", '{"name": "app", "dependencies": {"zod": "3"}}')
    [env] = discover(tmp_path / "app", HERMETIC)
    assert env.packages == () and env.note is not None and "npm install" in env.note


# --- Go -----------------------------------------------------------------------------------------


def test_go_modules_from_vendor_and_the_module_cache(tmp_path: Path):
    scope = tmp_path / "svc"
    write(scope, "go.mod", """
        module example.com/svc

        go 1.21

        require github.com/google/uuid v1.3.0
        require (
        TABgithub.com/BurntSushi/toml v1.3.2
        TABgolang.org/x/sync v0.5.0 // indirect
        )
        """.replace("TAB", "\t"))  # fmt: skip
    write(scope, "go.sum", "github.com/google/uuid v1.3.0 h1:x=\ngithub.com/google/uuid v1.3.0/go.mod h1:y=\n")
    write(scope, "vendor/modules.txt", "# github.com/google/uuid v1.3.0\n## explicit\ngithub.com/google/uuid\n")
    write(scope, "vendor/github.com/google/uuid/uuid.go", "package uuid\n\nfunc New() UUID { return UUID{} }\n")
    write(scope, "vendor/github.com/google/uuid/uuid_test.go", "package uuid\n")
    write(scope, "vendor/github.com/google/uuid/testdata/x.go", "package x\n")
    cache = tmp_path / "gomod"
    write(cache, "github.com/!burnt!sushi/toml@v1.3.2/decode.go", "package toml\n")
    [env] = discover(scope, Options(gomodcache=str(cache), system=False))
    assert env.ecosystem == "go" and env.manifest == "go.mod" and env.own == "example.com/svc"
    by = {p.name: p for p in env.packages}
    assert set(by) == {"github.com/google/uuid", "github.com/BurntSushi/toml"}
    uuid, toml = by["github.com/google/uuid"], by["github.com/BurntSushi/toml"]
    assert (uuid.version, uuid.where) == ("1.3.0", "vendor/")
    assert (toml.version, toml.where, toml.root) == (
        "1.3.2", "the module cache", cache / "github.com/!burnt!sushi/toml@v1.3.2"
    )
    assert code_files(uuid) == ["uuid.go"]
    assert set(env.declared) == {"github.com/google/uuid", "github.com/BurntSushi/toml",
                                 "golang.org/x/sync"}  # fmt: skip
    assert env.locked == {"github.com/google/uuid": "v1.3.0"}
    assert go.escape("github.com/BurntSushi/toml") == "github.com/!burnt!sushi/toml"


def test_a_go_module_whose_requirements_are_nowhere_says_so(tmp_path: Path):
    write(tmp_path / "svc", "go.mod", "module x\n\nrequire github.com/pkg/errors v0.9.1\n")
    [env] = discover(tmp_path / "svc", Options(gomodcache=str(tmp_path / "none"), system=False))
    assert env.packages == () and env.note is not None and "go mod download" in env.note


# --- Rust ---------------------------------------------------------------------------------------


def test_crates_from_vendor_and_the_cargo_registry(tmp_path: Path):
    scope = tmp_path / "tool"
    write(scope, "Cargo.toml", """
        [package]
        name = "tool"
        [dependencies]
        serde_json = "1"
        bytes = { version = "1.5", features = ["serde"] }
        rx = { package = "regex", version = "1" }
        [dev-dependencies]
        anyhow = "1"
        """)  # fmt: skip
    write(scope, "Cargo.lock", """
        version = 3
        [[package]]
        name = "tool"
        version = "0.1.0"
        [[package]]
        name = "serde_json"
        version = "1.0.108"
        source = "registry+https://github.com/rust-lang/crates.io-index"
        [[package]]
        name = "bytes"
        version = "1.5.0"
        source = "registry+https://github.com/rust-lang/crates.io-index"
        [[package]]
        name = "regex"
        version = "1.10.2"
        source = "registry+https://github.com/rust-lang/crates.io-index"
        """)  # fmt: skip
    write(scope, "vendor/bytes/Cargo.toml", '[package]\nname = "bytes"\nversion = "1.5.0"\n')
    write(scope, "vendor/bytes/src/lib.rs", "pub struct Bytes;\n")
    write(scope, "vendor/bytes/benches/b.rs", "fn b() {}\n")
    home = tmp_path / "cargo"
    reg = home / "registry" / "src" / "index.crates.io-6f17d22bba15001f"
    write(reg, "serde_json-1.0.108/src/lib.rs", "pub fn to_string() {}\n")
    [env] = discover(scope, Options(cargo_home=str(home), system=False))
    assert env.ecosystem == "cargo" and env.own == "tool"
    by = {p.name: p for p in env.packages}
    assert set(by) == {"bytes", "serde_json"}  # regex's sources are nowhere here
    assert (by["bytes"].version, by["bytes"].where) == ("1.5.0", "vendor/")
    assert (by["serde_json"].where, by["serde_json"].modules) == ("the cargo registry",
                                                                  ("serde_json",))  # fmt: skip
    assert code_files(by["bytes"]) == ["src/lib.rs"]
    assert set(env.declared) == {"serde_json", "bytes", "regex", "anyhow"}  # renamed: its crate
    assert env.locked == {"serde_json": "1.0.108", "bytes": "1.5.0", "regex": "1.10.2"}
    assert rust.cargo_lock({}) == {}


# --- Java ---------------------------------------------------------------------------------------


def test_a_declared_dependency_with_a_sources_jar_is_unpacked_and_read(tmp_path: Path):
    scope = tmp_path / "svc"
    write(scope, "pom.xml", """
        <project><dependencies>
          <dependency>
            <groupId>com.example</groupId>
            <artifactId>kit</artifactId>
            <version>2.1</version>
          </dependency>
          <dependency><groupId>org.x</groupId><artifactId>gone</artifactId><version>1</version></dependency>
        </dependencies></project>
        """)  # fmt: skip
    repo = tmp_path / "m2"
    jar = repo / "com/example/kit/2.1/kit-2.1-sources.jar"
    jar.parent.mkdir(parents=True)
    with zipfile.ZipFile(jar, "w") as z:
        z.writestr("com/example/kit/Kit.java", "package com.example.kit;\npublic class Kit {}\n")
        z.writestr("META-INF/MANIFEST.MF", "x")
        z.writestr("../escape.java", "class Escape {}")  # never written outside its folder
    unpack = tmp_path / "unpacked"
    [env] = discover(scope, Options(maven_repo=str(repo), unpack_dir=str(unpack), system=False))
    assert env.ecosystem == "maven" and env.manifest == "pom.xml"
    [kit] = env.packages
    assert (kit.name, kit.version) == ("com.example:kit", "2.1")
    assert code_files(kit) == ["com/example/kit/Kit.java"]
    assert not (tmp_path / "escape.java").exists() and not (unpack / "escape.java").exists()
    assert set(env.declared) == {"com.example:kit", "org.x:gone"}
    assert java_source.declared('implementation("org.a:b:1.2")') == {"org.a:b": "1.2"}


# --- refreshed when the install changes ----------------------------------------------------------


async def test_discovery_is_kept_and_redone_when_a_lock_file_or_the_install_changes(
    tmp_path: Path,
):
    scope = tmp_path / "proj"
    write(scope, "requirements.txt", "six\n")
    site = fake_venv(scope / ".venv")
    dist_info(site, "six", "1.16.0", ["six.py"], "six")
    code = CodeKnowledge(workers=0)
    deps = Dependencies(code, None, HERMETIC, check_after=0.0)
    try:
        first = await deps.environments(scope)
        assert await deps.environments(scope) is first  # nothing changed: kept
        dist_info(site, "tenacity", "8.2.3", ["tenacity/__init__.py"], "tenacity")
        os.utime(site, ns=(1, 1))  # a filesystem whose mtime does not tick between writes
        again = await deps.environments(scope)
        assert again is not first
        assert [p.name for p in again[0].packages] == ["six", "tenacity"]
        write(scope, "requirements.txt", "six\ntenacity\n")
        os.utime(scope / "requirements.txt", ns=(2, 2))
        assert (await deps.environments(scope))[0].is_declared("tenacity")
    finally:
        await deps.aclose()
        await code.aclose()


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        ("httpx[http2]>=0.27 ; python_version > '3.8'", "httpx"),
        ("  ruff==0.6", "ruff"),
        ("-e .", None),
        ("git+https://x/y.git", None),
        ("# comment", None),
    ],
)
def test_requirement_names(spec: str, name: str | None):
    assert python.requirement_name(spec) == name
