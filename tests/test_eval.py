"""`parallizer eval`: the scorer on cards whose answers are known, and the whole harness on a
tiny fixture tree (a local archive: nothing is downloaded) with the real `rg`, offline and
through a real `parallizer emulate llm` process."""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from parallizer.cli import main
from parallizer.eval.cases import CaseError, Keep, Mistake, Plan, load_suite
from parallizer.eval.fetch import FetchError, ensure_tree
from parallizer.eval.score import check_citation, claims_missing, mentions_any, score_plan

FIXTURE = Path(__file__).parent / "fixtures" / "eval"


def card(header: str, text: str = "", kind: str = "question", cites: list[str] | None = None):
    return {
        "header": header,
        "text": text,
        "type": kind,
        "metadata": {"source": "ambiguities", "citations": cites or []},
    }


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """The fixture's cases and plans, with a trees.toml pinning a local archive of its tree."""
    d = tmp_path / "eval"
    shutil.copytree(FIXTURE / "cases", d / "cases")
    shutil.copytree(FIXTURE / "plans", d / "plans")
    archive = tmp_path / "mini-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(FIXTURE / "tree", arcname="mini-1.0")
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    (d / "trees.toml").write_text(
        f'[trees.mini]\nlanguage = "python"\nsource = "file"\npackage = "{archive}"\n'
        f'version = "1.0"\nfile = "mini-1.0.tar.gz"\nsha256 = "{sha}"\nroot = "mini-1.0"\n'
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
    (data / "cases" / "mini.toml").write_text(
        '[[plans]]\nfile = "retries.md"\n[[plans.mistakes]]\nkind = "typo"\nnames = ["x"]\n'
    )
    with pytest.raises(CaseError, match="kind must be one of"):
        load_suite(data)
    with pytest.raises(CaseError, match="unknown tree"):
        load_suite(data, ["nope"])


def test_a_tree_whose_checksum_differs_is_refused(data: Path, tmp_path: Path):
    spec = load_suite(data).trees["mini"]
    bad = replace(spec, sha256="0" * 64)
    with pytest.raises(FetchError, match="sha256"):
        ensure_tree(bad, tmp_path / "cache")
    tree = ensure_tree(spec, tmp_path / "cache")
    assert (tree / "pkg" / "client.py").is_file()


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
    assert set(plans) == {(m, p) for m in ("offline", "llm") for p in ("retries", "clean")}
    for p in plans.values():
        assert p["error"] is None and p["failed_fulfillers"] == {}
        assert p["cards"], "every plan gets cards"
    # the missing file is a certain mistake: the product names it and suggests the real one
    [missing] = plans["offline", "retries"]["mistakes"]
    assert missing["named"] and missing["corrected"]
    totals = {r["mode"]: r for r in body["rows"] if r["tree"] == "total"}
    assert totals["offline"]["mistakes"] == 1 and totals["offline"]["plans"] == 2
    assert totals["offline"]["citations"] >= 1
    assert "caught: named" in (out / "eval.md").read_text()
    assert "mini" in capsys.readouterr().out


def test_eval_without_its_data_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_:
        main(["eval", "--data", str(tmp_path / "none")])
    assert exit_.value.code == 2
    assert "no trees.toml" in capsys.readouterr().err
