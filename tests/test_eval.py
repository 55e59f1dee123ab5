"""`parallizer eval`: the scorer on cards whose answers are known, the loader, the corpus rule,
the installers' cache (local archives, real pip / npm / dpkg-deb: nothing is downloaded), and
the whole harness on tiny fixture trees and a fixture project with the real `rg`, offline and
through a real `parallizer emulate llm` process."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tarfile
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from parallizer.cli import main
from parallizer.eval.cases import (
    CaseError,
    Keep,
    Mistake,
    Plan,
    ProjectSpec,
    Removal,
    load_suite,
    quick_suite,
)
from parallizer.eval.corpus import MAX_DOC_BYTES, select_docs
from parallizer.eval.fetch import (
    FetchError,
    ensure_project,
    ensure_tree,
    spec_hash,
    upstream_version,
)
from parallizer.eval.score import (
    card_claims,
    check_citation,
    claims_in_cards,
    claims_missing,
    mentions_any,
    score_doc,
    score_plan,
)

FIXTURE = Path(__file__).parent / "fixtures" / "eval"


@pytest.fixture(autouse=True)
def _no_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """pip and npm get a dead index: an install that would download anything fails."""
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9/")


def tar_dir(src: Path, archive: Path, top: str) -> str:
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src, arcname=top)
    return hashlib.sha256(archive.read_bytes()).hexdigest()


def make_wheel(where: Path, name: str = "minidep", version: str = "1.0") -> Path:
    """A pure-Python wheel built by hand (pip installs it without any index)."""
    dist = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": "def greet(who):\n    return 'hello ' + who\n\n\n"
        "def greet_twice(who):\n    return greet(who) * 2\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    files[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    wheel = where / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for path, text in files.items():
            z.writestr(path, text)
    return wheel


def make_npm(where: Path, name: str = "minijs", version: str = "1.0.0") -> Path:
    src = where / f"{name}-src" / "package"
    src.mkdir(parents=True)
    (src / "package.json").write_text(json.dumps({"name": name, "version": version}))
    (src / "index.js").write_text("exports.greet = (who) => 'hi ' + who\n")
    tgz = where / f"{name}-{version}.tgz"
    tar_dir(src, tgz, "package")
    return tgz


def make_deb(where: Path, kind: str = "go") -> Path:
    """A golang-*-dev or librust-*-dev package built by dpkg-deb from a folder."""
    root = where / f"deb-{kind}"
    (root / "DEBIAN").mkdir(parents=True)
    pkg = "golang-example-greet-dev" if kind == "go" else "librust-greet-dev"
    (root / "DEBIAN" / "control").write_text(
        f"Package: {pkg}\nVersion: 1:1.2.0+ds-3\nArchitecture: all\n"
        "Maintainer: Test <test@example.org>\nDescription: a test package\n"
    )
    if kind == "go":
        src = root / "usr/share/gocode/src/example.com/greet"
        src.mkdir(parents=True)
        (src / "go.mod").write_text("module example.com/greet\n")
        (src / "greet.go").write_text('package greet\n\nfunc Hello() string { return "hi" }\n')
        (src / "sub").mkdir()
        (src / "sub" / "sub.go").write_text("package sub\n")
    else:
        src = root / "usr/share/cargo/registry/greet-1.2.0/src"
        src.mkdir(parents=True)
        (src / "lib.rs").write_text('pub fn hello() -> &\'static str { "hi" }\n')
    deb = where / f"{pkg}.deb"
    subprocess.run(
        ["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)],
        check=True,
        capture_output=True,
    )
    return deb


def card(header: str, text: str = "", kind: str = "question", cites: list[str] | None = None):
    return {
        "header": header,
        "text": text,
        "type": kind,
        "metadata": {"source": "ambiguities", "citations": cites or []},
    }


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """The fixture's data: a trees.toml pinning local archives of its tree and of an older
    release of it, a project whose one package is a local wheel, cases, plans, a history case
    and a known doc bug."""
    d = tmp_path / "eval"
    for sub in ("cases", "plans", "history", "projects"):
        shutil.copytree(FIXTURE / sub, d / sub)
    trees = ""
    for name, src, version, quick in (
        ("mini", "tree", "1.0", True),
        ("mini-old", "tree-old", "0.9", False),
    ):
        archive = tmp_path / f"{name}-{version}.tar.gz"
        sha = tar_dir(FIXTURE / src, archive, f"{name}-{version}")
        trees += (
            f'[trees.{name}]\nlanguage = "python"\nsource = "file"\npackage = "{archive}"\n'
            f'version = "{version}"\nfile = "{archive.name}"\nsha256 = "{sha}"\n'
            f'root = "{name}-{version}"\ndocs = {str(name == "mini").lower()}\n'
            f"quick = {str(quick).lower()}\n\n"
        )
    (d / "trees.toml").write_text(trees)
    wheel = make_wheel(tmp_path)
    (d / "projects.toml").write_text(
        f'[projects.app]\nlanguage = "python"\ndir = "projects/app"\ninstall = "pypi"\n'
        f'packages = ["{wheel}"]\nquick = true\n'
    )
    (d / "docs_known_bugs.toml").write_text(
        '[[bugs]]\ntree = "mini"\ndoc = "README.md"\nname = "RetryPolcy"\n'
        'why = "a typo: the class is RetryPolicy"\n'
    )
    return d


def test_a_mistake_is_named_then_corrected_by_name_or_by_its_citation(tmp_path: Path):
    plan = Plan(
        tree="t",
        id="p",
        path=tmp_path / "p.md",
        clean=False,
        mistakes=(
            Mistake("m1", "misspelled", ("HttpTransport",), ("HTTPTransport",)),
            Mistake("m2", "wrong-owner", ("Client.handle",), (), cite="pkg/transport.py:2"),
            Mistake("m3", "vague", ("fast",)),
        ),
        open=("TBD",),
    )
    cards = [
        card("Nothing matches `HttpTransport`", "Did you mean `HTTPTransport`?"),
        card("`handle` is not on `Client`", "It is defined at", cites=["pkg/transport.py:2"]),
        card("Which `RetryPolicy`?", "Two definitions."),
        card("Still to be decided", "> TBD."),
        card("Where `fast` is used", "context", kind="context"),  # not a question
    ]
    s = score_plan(plan, cards, tmp_path)
    got = {m.id: (m.named, m.corrected, m.cited) for m in s.mistakes}
    assert got == {"m1": (True, True, False), "m2": (True, True, True), "m3": (False, False, False)}
    assert s.noise == ["Which `RetryPolicy`?"] and s.open_hits == 1
    assert (s.cards, s.questions) == (5, 4)


def test_in_a_card_listing_several_mistakes_each_item_carries_its_own_correction(tmp_path: Path):
    plan = Plan(
        "t", "p", tmp_path / "p.md", False,
        mistakes=(
            Mistake("a", "misspelled", ("HttpTransport",), ("HTTPTransport",)),
            Mistake("b", "misspelled", ("RetryPolcy",), ("RetryPolicy",)),
        ),
    )  # fmt: skip
    grouped = card(
        "2 names the code does not define",
        "- `HttpTransport`: did you mean `HTTPTransport`?\n- `RetryPolcy`: nothing close",
        cites=["pkg/transport.py:1"],
    )
    got = {m.id: (m.named, m.corrected) for m in score_plan(plan, [grouped], tmp_path).mistakes}
    assert got == {"a": (True, True), "b": (True, False)}


def test_named_needs_the_whole_token():
    assert not mentions_any("`HttpTransports` is new", ("HttpTransport",))
    assert mentions_any("see src/click/parsing.py here", ("src/click/parsing.py",))
    assert mentions_any("`bar` lives on `Baz`, not `Foo`", ("Foo.bar",))
    assert not mentions_any("`bar` lives on `Baz`", ("Foo.bar",))


def test_a_suggestion_is_not_a_claim_that_the_name_is_missing():
    text = "Nothing matches `TooManyRetry`. Did you mean `TooManyRetries`?"
    assert claims_missing(text, "TooManyRetry")
    assert not claims_missing(text, "TooManyRetries")
    assert claims_missing("`os.path.join` does not exist in the tree", "os.path.join")
    assert claims_missing(
        "The plan names `AtomicU64`, but the code defines no `AtomicU64`.", "AtomicU64"
    )
    assert claims_missing("Nothing defines `TooManyRetries`", "TooManyRetries")
    assert not claims_missing("`os.path.join` is used in 3 files", "os.path.join")


def test_citations_resolve_only_to_real_lines_of_the_tree_or_the_plan(tmp_path: Path):
    tree = tmp_path / "tree"
    (tree / "a").mkdir(parents=True)
    (tree / "a" / "x.py").write_text("one\ntwo\n")
    (tmp_path / "outside.py").write_text("secret\n")
    plan = tmp_path / "plan.md"
    plan.write_text("# P\nline\n")
    ok = {c: check_citation(c, tree, plan).ok for c in [
        "a/x.py:2", "a/x.py:3", "a/x.py:0", "a/y.py:1", "../outside.py:1", "plan.md:2",
        "plan.md:3", "https://example.org/x", "a/x.py",
    ]}  # fmt: skip
    assert ok == {
        "a/x.py:2": True, "a/x.py:3": False, "a/x.py:0": False, "a/y.py:1": False,
        "../outside.py:1": False, "plan.md:2": True, "plan.md:3": False,
        "https://example.org/x": True, "a/x.py": True,
    }  # fmt: skip


def test_false_missing_counts_introduced_and_standard_names(tmp_path: Path):
    plan = Plan(
        "t", "p", tmp_path / "p.md", False,
        keep=(Keep("TooManyRetries", "introduced"), Keep("AtomicU64", "stdlib")),
    )  # fmt: skip
    cards = [card("Nothing matches `TooManyRetries`", "Is it new?"), card("`AtomicU64` x", "ok")]
    assert score_plan(plan, cards, tmp_path).false_missing == ["TooManyRetries"]


def test_bad_case_data_is_one_clear_error(data: Path):
    good = (data / "cases" / "mini.toml").read_text()
    (data / "cases" / "mini.toml").write_text(
        '[[plans]]\nfile = "retries.md"\n[[plans.mistakes]]\nkind = "typo"\nnames = ["x"]\n'
    )
    with pytest.raises(CaseError, match="kind must be one of"):
        load_suite(data)
    (data / "cases" / "mini.toml").write_text(good)
    with pytest.raises(CaseError, match="unknown tree"):
        load_suite(data, ["nope"])
    projects = (data / "projects.toml").read_text()
    (data / "projects.toml").write_text(projects.replace(str(FIXTURE), "x").replace(
        'packages = ["', 'packages = ["minidep>=1.0", "'))  # fmt: skip
    with pytest.raises(CaseError, match="not an exact pypi pin"):
        load_suite(data)
    (data / "projects.toml").write_text(projects.replace('"pypi"', '"conda"'))
    with pytest.raises(CaseError, match="install must be one of"):
        load_suite(data)
    (data / "projects.toml").write_text(projects)
    (data / "history" / "mini.toml").write_text(
        'old = "mini-older"\nnew = "mini"\nchangelog = "x"\n'
    )
    with pytest.raises(CaseError, match="no tree 'mini-older'"):
        load_suite(data)


def test_the_loader_reads_projects_history_known_bugs_and_the_dependency_kinds(data: Path):
    suite = load_suite(data)
    assert set(suite.trees) == {"mini", "mini-old"} and not suite.trees["mini-old"].docs
    app = suite.projects["app"]
    assert (app.install, app.language, app.quick) == ("pypi", "python", True)
    assert app.dir == (data / "projects" / "app").resolve()
    [loud] = [p for p in suite.plans if p.tree == "app"]
    assert [m.kind for m in loud.mistakes] == ["dep-misspelled", "not-a-dependency"]
    assert loud.keep == (Keep("minidep.greet", "dependency"),)
    [h] = suite.history
    assert (h.old, h.new, h.removals[0].line) == ("mini-old", "mini", 5)
    assert [(b.tree, b.doc, b.name) for b in suite.known_bugs] == [
        ("mini", "README.md", "RetryPolcy")
    ]
    quick, doc_trees = quick_suite(suite)
    assert doc_trees == {"mini"} and set(quick.projects) == {"app"} and not quick.history
    assert set(load_suite(data, ["mini"]).trees) == {"mini"}  # its history needs mini-old too
    assert not load_suite(data, ["mini"]).history


def test_a_tree_whose_checksum_differs_is_refused(data: Path, tmp_path: Path):
    spec = load_suite(data).trees["mini"]
    bad = replace(spec, sha256="0" * 64)
    with pytest.raises(FetchError, match="sha256"):
        ensure_tree(bad, tmp_path / "cache")
    tree = ensure_tree(spec, tmp_path / "cache")
    assert (tree / "pkg" / "client.py").is_file()


def test_the_corpus_is_every_markdown_file_but_vendored_test_data_and_oversized(tmp_path: Path):
    tree = tmp_path / "t"
    for rel in ("README.md", "docs/guide.md", "docs/notes.markdown", "CHANGELOG.md",
                "node_modules/x/README.md", "vendor/y/README.md", "a/testdata/z.md",
                "src/code.py", "docs/big.md"):  # fmt: skip
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text("# doc\n")
    (tree / "docs" / "big.md").write_text("x" * (MAX_DOC_BYTES + 1))
    docs, skipped = select_docs(tree)
    assert [d.relative_to(tree).as_posix() for d in docs] == [
        "CHANGELOG.md", "README.md", "docs/guide.md", "docs/notes.markdown"
    ]  # fmt: skip
    assert [(s.path, s.why) for s in skipped] == [("docs/big.md", "over 128 KiB")]
    old, skipped = select_docs(tree, records=False)  # the history part: no changelogs
    assert "CHANGELOG.md" not in {d.name for d in old}
    assert ("CHANGELOG.md", "a record of past releases") in {(s.path, s.why) for s in skipped}


def test_claims_are_findings_when_a_card_lists_them_else_its_items_else_the_card():
    listed = card("3 things", "- a\n- b")
    listed["metadata"]["findings"] = [
        {"name": "Foo", "kind": "missing", "range": [1, 2], "severity": "error", "fix": "x"},
        {"name": "bar.py", "kind": "missing-file", "range": [3, 4], "severity": "error"},
    ]
    assert [(c.kind, c.name) for c in card_claims(listed, 0)] == [
        ("missing", "Foo"), ("missing-file", "bar.py")
    ]  # fmt: skip
    grouped = card(
        "4 more things to check",
        "- `f` (`p.md:3`): 3 given, but function `f` (`a.py:1`) takes 1 argument\n"
        "- `x/y.py` (`p.md:4`): did you mean `x/z.py`?\n"
        "- `Nope` (`p.md:5`): not defined anywhere, and not introduced as new\n"
        "- `Opt` (`p.md:6`): `a.py:2`, `b.py:3`",
    )
    assert [(c.kind, c.name) for c in card_claims(grouped, 1)] == [
        ("arity", "f"), ("missing-file", "x/y.py"), ("missing", "Nope"), ("ambiguous", "Opt")
    ]  # fmt: skip
    same = card("2 names the code does not define: did you mean …?",
                "- `Fo` (`p.md:1`): did you mean `Foo` (`a.py:1`)?\n- `Br` (`p.md:2`): did you mean `Bar` (`a.py:2`)?")  # fmt: skip
    assert [c.kind for c in card_claims(same, 0)] == ["wrong-name", "wrong-name"]
    singles = [
        card("`HttpTransport`: did you mean `HTTPTransport`?"),
        card("`handle` is not on `Client`: `HTTPTransport.handle`?"),
        card("No file `pkg/transports.py`"),
        card("How many, exactly?", "> some retries"),
        card("`handle` — method pkg/transport.py:2", kind="context"),
    ]
    got = [(c.kind, c.name) for c in claims_in_cards(singles)]
    assert got == [
        ("wrong-name", "HttpTransport"), ("wrong-owner", "Client.handle"),
        ("missing-file", "pkg/transports.py"), ("open-spot", "How many, exactly?"),
    ]  # fmt: skip


def test_a_document_claim_is_a_known_bug_a_removal_it_uses_or_held_against():
    removal = Removal(("Client.retry_count", "retry_count"), ("max_retries",), 5)
    unused = Removal(("Client.timeout",), (), 7)
    text = "Set `Client.retry_count`; see `RetryPolcy.max_retries` and `Client.send`."
    claims = claims_in_cards([
        card("Nothing defines `Client.retry_count`", "Is it new?"),
        card("`RetryPolcy.max_retries`: did you mean `RetryPolicy.max_retries`?"),
        card("Which `Client.send`?"),
    ])  # fmt: skip
    s = score_doc(text, claims, (removal, unused), ("RetryPolcy.max_retries",))
    assert [(f.names[0], f.named, f.corrected) for f in s.expected] == [
        ("Client.retry_count", True, False)
    ]
    assert [c.kind for c in s.true] == ["missing"] and [c.kind for c in s.known] == ["wrong-name"]
    assert [c.name for c in s.against] == ["Client.send"]
    fixed = claims_in_cards([card("`retry_count` is gone", "Use `max_retries` now.")])
    assert score_doc(text, fixed, (removal,), ()).expected[0].corrected


def test_a_dependency_version_needs_the_version_and_a_missing_package_needs_saying_so(
    tmp_path: Path,
):
    plan = Plan("app", "p", tmp_path / "p.md", False, mistakes=(
        Mistake("v", "dep-version", ("stop_before_delay",), ("8.2.3",)),
        Mistake("n", "not-a-dependency", ("feedparser",)),
        Mistake("m", "dep-misspelled", ("stop_after_attempts",), ("stop_after_attempt",)),
    ))  # fmt: skip
    vague = [
        card("Nothing defines `stop_before_delay`", "Is it new?"),
        card("Nothing defines `feedparser.parse`", "Is it called something else?"),
    ]
    got = {m.id: (m.named, m.corrected) for m in score_plan(plan, vague, tmp_path).mistakes}
    assert got == {"v": (True, False), "n": (True, False), "m": (False, False)}
    good = [
        card("`stop_before_delay` is not in tenacity 8.2.3", "It came in a later release."),
        card("`feedparser` is not a dependency of the project", "Add it, or use ElementTree."),
        card("`stop_after_attempts`: did you mean `stop_after_attempt`?"),
    ]
    got = {m.id: (m.named, m.corrected) for m in score_plan(plan, good, tmp_path).mistakes}
    assert got == {"v": (True, True), "n": (True, True), "m": (True, True)}


def test_a_pypi_project_is_installed_once_per_spec(tmp_path: Path):
    (tmp_path / "proj" / "app").mkdir(parents=True)
    (tmp_path / "proj" / "app" / "__init__.py").write_text("from minidep import greet\n")
    spec = ProjectSpec("app", "python", tmp_path / "proj", "pypi", (str(make_wheel(tmp_path)),))
    cache = tmp_path / "cache"
    target = ensure_project(spec, cache)
    site = next((target / ".venv" / "lib").glob("python3*/site-packages"))
    assert (site / "minidep" / "__init__.py").is_file()
    assert (target / "app" / "__init__.py").is_file()
    marker = target / "installed-before"
    marker.write_text("")
    assert ensure_project(spec, cache) == target and marker.exists()  # nothing installed
    (tmp_path / "proj" / "app" / "__init__.py").write_text("from minidep import greet_twice\n")
    assert spec_hash(spec) != (cache / "projects" / "app.parallizer-eval.spec").read_text().strip()
    ensure_project(spec, cache)
    assert not marker.exists()  # the project changed: a fresh copy, installed again
    assert "greet_twice" in (target / "app" / "__init__.py").read_text()


def test_an_npm_project_gets_exact_dependencies_in_node_modules(tmp_path: Path):
    (tmp_path / "proj" / "src").mkdir(parents=True)
    (tmp_path / "proj" / "package.json").write_text('{"name": "proj", "type": "module"}')
    tgz = make_npm(tmp_path)
    spec = ProjectSpec("web", "typescript", tmp_path / "proj", "npm", (str(tgz),))
    target = ensure_project(spec, tmp_path / "cache")
    assert (target / "node_modules" / "minijs" / "index.js").is_file()
    manifest = json.loads((target / "package.json").read_text())
    assert manifest["type"] == "module" and manifest["dependencies"] == {"minijs": f"file:{tgz}"}
    assert not (tmp_path / "proj" / "node_modules").exists()  # the repository's copy untouched


def test_deb_packages_land_where_a_vendored_build_finds_them(tmp_path: Path):
    (tmp_path / "goproj").mkdir()
    (tmp_path / "goproj" / "go.mod").write_text("module example.com/app\n")
    go = ProjectSpec("goapp", "go", tmp_path / "goproj", "deb", (str(make_deb(tmp_path, "go")),))
    target = ensure_project(go, tmp_path / "cache")
    assert (target / "vendor" / "example.com" / "greet" / "greet.go").is_file()
    assert (target / "vendor" / "example.com" / "greet" / "sub" / "sub.go").is_file()
    assert (target / "vendor" / "modules.txt").read_text() == (
        "# example.com/greet v1.2.0\n## explicit\nexample.com/greet\n"
    )
    (tmp_path / "rsproj").mkdir()
    rust_deb = make_deb(tmp_path, "rust")
    rs = ProjectSpec("rsapp", "rust", tmp_path / "rsproj", "deb", (str(rust_deb),))
    assert (
        ensure_project(rs, tmp_path / "cache") / "vendor" / "greet" / "src" / "lib.rs"
    ).is_file()
    bad = ProjectSpec("pyapp", "python", tmp_path / "rsproj", "deb", (str(rust_deb),))
    with pytest.raises(FetchError, match="go or rust"):
        ensure_project(bad, tmp_path / "cache")
    assert upstream_version("1:1.3.0+ds-2") == "1.3.0" and upstream_version("0.9.1") == "0.9.1"


def test_make_eval_end_to_end_on_the_fixture_offline_and_with_the_llm_emulator(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "out"
    argv = ["eval", "--data", str(data), "--cache", str(tmp_path / "c"), "--out", str(out)]
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0, capsys.readouterr().err
    body = json.loads((out / "eval.json").read_text())
    plans = {(p["mode"], p["plan"]): p for p in body["plans"]}
    want = {(m, p) for m in ("offline", "llm") for p in ("retries", "clean", "loud")}
    assert set(plans) == want
    for p in plans.values():
        assert p["error"] is None and p["failed_fulfillers"] == {}
    for name in ("retries", "clean"):
        assert plans["offline", name]["cards"], "every plan over a tree gets cards"
    # the missing file is a certain mistake: the product names it and suggests the real one
    [missing] = plans["offline", "retries"]["mistakes"]
    assert missing["named"] and missing["corrected"]
    totals = {r["mode"]: r for r in body["rows"] if r["tree"] == "total"}
    assert totals["offline"]["mistakes"] == 1 and totals["offline"]["plans"] == 2
    assert totals["offline"]["citations"] >= 1
    deps = {r["mode"]: r for r in body["deps_rows"] if r["tree"] == "app"}
    assert deps["offline"]["dep_mistakes"] == 2 and deps["offline"]["dep_keep"] == 1
    assert deps["offline"]["notdep_total"] == 1
    # the docs part: the tree's two documents, each checked against its own tree; the README's
    # misspelled `RetryPolcy` is a reviewed real bug, not held against the product
    docs = {(d["mode"], d["doc"]): d for d in body["documents"] if d["part"] == "docs"}
    assert set(docs) == {(m, d) for m in ("offline", "llm") for d in ("README.md", "CHANGELOG.md")}
    readme = docs["offline", "README.md"]
    assert [c["name"] for c in readme["known_bugs"]] == ["RetryPolcy"]
    assert all("RetryPolcy" not in c["text"] for c in readme["against"])
    drows = {(r["mode"], r["group"]): r for r in body["docs_rows"]}
    total = drows["offline", "total"]
    assert total["documents"] == 2 and total["known"] == 1
    assert total["claims"] == total["against"] + total["known"]
    # the history part: the old release's usage doc (not its changelog) against the new code
    hist = [d for d in body["documents"] if d["part"] == "history"]
    assert {(d["mode"], d["tree"], d["doc"]) for d in hist} == {
        (m, "mini-old", "docs/usage.md") for m in ("offline", "llm")
    }
    assert all(d["expected"][0]["names"][0] == "Client.retry_count" for d in hist)
    goals = {(g["part"], g["figure"]) for g in body["goals"]}
    assert {("docs", "claims per document"), ("plans", "planted mistakes named"),
            ("deps", "real dependency APIs called missing"),
            ("history", "removed names named")} <= goals  # fmt: skip
    md = (out / "eval.md").read_text()
    for title in ("## Goals", "--part plans", "--part deps", "--part docs", "--part history"):
        assert title in md
    assert "mini" in capsys.readouterr().out


def test_eval_runs_one_part_and_a_quick_subset(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    cache = tmp_path / "c"
    base = ["eval", "--data", str(data), "--cache", str(cache), "--mode", "offline"]
    with pytest.raises(SystemExit) as exit_:
        main([*base, "--part", "docs", "--out", str(tmp_path / "o1")])
    assert exit_.value.code == 0, capsys.readouterr().err
    body = json.loads((tmp_path / "o1" / "eval.json").read_text())
    assert body["plans"] == [] and {d["part"] for d in body["documents"]} == {"docs"}
    assert not (cache / "projects").exists()  # the deps part was not asked for: nothing installed
    assert not (cache / "trees" / "mini-old").exists()  # nor the history's old release fetched
    with pytest.raises(SystemExit) as exit_:
        main([*base, "--quick", "--out", str(tmp_path / "o2")])
    assert exit_.value.code == 0, capsys.readouterr().err
    body = json.loads((tmp_path / "o2" / "eval.json").read_text())
    assert {p["tree"] for p in body["plans"]} == {"mini", "app"}
    assert {d["part"] for d in body["documents"]} == {"docs"}  # the history is not quick here
    with pytest.raises(SystemExit) as exit_:
        main([*base, "--part", "nope"])
    assert exit_.value.code == 2
    assert "--part must be one of" in capsys.readouterr().err


def test_a_request_the_product_fails_on_is_a_figure_and_all_failing_fails_the_run(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """A request the product refuses or crashes on (here a plan over the 1 MiB limit) is
    counted against its goal of 0 and named; only when every request fails does the run
    fail (exit 1): CI's quick eval fails on a broken harness, not on a figure."""
    clean = data / "plans" / "mini" / "clean.md"
    clean.write_text(clean.read_text() + "\nfiller line\n" * 100_000)
    out = tmp_path / "o"
    argv = ["eval", "--data", str(data), "--cache", str(tmp_path / "c"), "--mode", "offline",
            "--part", "plans", "--out", str(out)]  # fmt: skip
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    err = capsys.readouterr().err
    assert "1 requests failed" in err and "offline mini/clean:" in err
    body = json.loads((out / "eval.json").read_text())
    ok = {p["plan"]: p["error"] is None for p in body["plans"]}
    assert ok == {"retries": True, "clean": False}
    [failed] = [g for g in body["goals"] if g["part"] == "all"]
    assert failed["values"]["offline"] == ["1/2", False]
    retries = data / "plans" / "mini" / "retries.md"
    retries.write_text(retries.read_text() + "\nfiller line\n" * 100_000)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 1
    assert "every request failed" in capsys.readouterr().err


def test_eval_without_its_data_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_:
        main(["eval", "--data", str(tmp_path / "none")])
    assert exit_.value.code == 2
    assert "no trees.toml" in capsys.readouterr().err
