"""The project's dependencies behind the same lookup as its own code, on projects with real
packages installed from PyPI and npm at pinned versions (tests/code/deps_kit.py): real APIs
are found, their misspellings and the names the installed version lacks are named with the
version and a `package==version:path:line` citation, a package the project does not have is
said to be none of its dependencies; without an environment a project keeps its own-code
questions and one note."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from parallizer.models import Card
from parallizer.runtime import Runtime
from parallizer.service import create_app

from ..service.kit import asgi_client, body
from ..test_cli import run
from ..webkit import fulfill, settings
from .deps_kit import copy_without_environment, npm_project, python_project


@pytest.fixture(scope="session")
def py_project() -> Path:
    return python_project()


@pytest.fixture(scope="session")
def ts_project() -> Path:
    return npm_project()


async def questions(root: Path, plan: str) -> list[Card]:
    async with Runtime(settings(root.parent, max_questions=8), web=None, llm=None) as rt:
        resp = await fulfill(rt, plan, scope=root, only=["ambiguities"])
    assert resp.timings.fulfillers["ambiguities"].ok
    return [c for c in resp.cards if c.type == "question"]


def site_packages(root: Path) -> Path:
    [site] = root.glob(".venv/lib/python*/site-packages")
    return site


def cited_line(root: Path, citation: str) -> str:
    """The line a `package==version:path:line` citation points at, read from the install."""
    m = re.fullmatch(r"(?P<pin>[^:]+==[^:]+):(?P<path>.+):(?P<line>\d+)", citation)
    assert m, citation
    base = site_packages(root) if (root / ".venv").is_dir() else None
    if base is None:
        name = m.group("pin").split("==")[0]
        base = root / "node_modules" / name
    return (base / m.group("path")).read_text().split("\n")[int(m.group("line")) - 1]


def dep_citations(card: Card) -> list[str]:
    return [c for c in card.metadata.citations if "==" in c]


async def test_real_dependency_apis_are_found_never_missing(py_project: Path):
    plan = (
        "# Plan\n\n"
        "Give up early with `retry_if_result`, record outcomes with `RetryCallState.set_result`,\n"
        "wrap the fetcher with `Policy.wraps` and read zones with `gettz`.\n"
    )
    assert await questions(py_project, plan) == []


async def test_a_misspelled_dependency_api_gets_the_real_name_and_its_versioned_citation(
    py_project: Path,
):
    plan = (
        "# Plan\n\nStop after five tries: `stop_after_attempts(5)`.\n"
        "Read zones with `dateutil.tz.gettzz`.\n"
    )
    card, zone = await questions(py_project, plan)
    assert zone.header == "`dateutil.tz.gettzz`: did you mean `gettz`?"
    assert "python-dateutil 2.9.0.post0, the version installed, has no `gettzz`" in zone.text
    assert card.header == "`stop_after_attempts`: did you mean `stop_after_attempt`?"
    assert "tenacity 8.2.3" in card.text
    [cite] = dep_citations(card)
    assert cite.startswith("tenacity==8.2.3:tenacity/stop.py:")
    assert "class stop_after_attempt" in cited_line(py_project, cite)
    [finding] = card.metadata.findings or []
    assert finding.fix == "stop_after_attempt"


async def test_a_name_the_installed_version_lacks_is_named_with_the_version(py_project: Path):
    plan = (
        "# Plan\n\n"
        "Log `Retrying.statistic` after each run.\n"
        "Parse RFC 822 dates with `dateutil.parser.parse_iso8601`.\n"
    )
    by = {c.header: c for c in await questions(py_project, plan)}
    near = by["`Retrying.statistic`: did you mean `BaseRetrying.statistics`?"]
    assert "`Retrying` in tenacity 8.2.3, the version installed, has no `statistic`" in near.text
    [cite] = dep_citations(near)
    assert "def statistics" in cited_line(py_project, cite)
    missing = by["python-dateutil 2.9.0.post0 has no `parse_iso8601`"]
    assert "`dateutil.parser.parse_iso8601`" in missing.text
    # what the module does have, that shares a word with it
    assert "`parse` (`python-dateutil==2.9.0.post0:dateutil/parser/_parser.py:" in missing.text


async def test_a_member_on_the_wrong_class_of_a_dependency_names_the_class_that_has_it(
    py_project: Path,
):
    plan = "# Plan\n\nOn success call `Retrying.set_result(value)`.\n"
    [card] = await questions(py_project, plan)
    assert card.header == "`set_result` is not on `Retrying`: `RetryCallState.set_result`?"
    assert "in tenacity 8.2.3, the version installed, has no `set_result`" in card.text
    [finding] = card.metadata.findings or []
    assert finding.fix == "RetryCallState.set_result"


async def test_a_project_class_has_the_methods_of_the_library_class_it_derives_from(
    py_project: Path,
):
    # `class Policy(Retrying)`, and Retrying derives from BaseRetrying, which has `wraps`
    assert await questions(py_project, "# Plan\n\nDecorate with `Policy.wraps`.\n") == []
    [card] = await questions(py_project, "# Plan\n\nDecorate with `Policy.wrap`.\n")
    assert card.header == "`Policy.wrap`: did you mean `BaseRetrying.wraps`?"


async def test_a_package_the_project_neither_declares_nor_has_is_said_to_be_none(
    py_project: Path,
):
    plan = (
        "# Plan\n\n"
        "Parse each feed with `feedparser.parse(body)`; `response.raise_for_status()` stays, the\n"
        "parser keeps its dates. Pooling comes from the `httpcore` package.\n"
        "Weekly averages are resampled with `pandas`; `fetch` is called with `retries`, a new\n"
        "`retries` keyword.\n\n"
        "```python\nimport sqlparse\nfrom tenacity import retry\n```\n"
    )
    cards = await questions(py_project, plan)
    by = {c.header: c for c in cards}
    assert set(by) == {
        "`feedparser` is not a dependency of the project",
        "`httpcore` is not a dependency of the project",
        "`sqlparse` is not a dependency of the project",
        "`pandas` is not a dependency of the project",
    }  # not `response`, `parser`, `tenacity` (installed), `body` or the new `retries`
    text = by["`httpcore` is not a dependency of the project"].text
    assert "not in pyproject.toml and not installed in .venv" in text
    assert "the project has python-dateutil, tenacity" in text
    [finding] = by["`feedparser` is not a dependency of the project"].metadata.findings or []
    assert finding.kind == "undeclared" and finding.severity == "warning"  # a `pkg.attr` use
    [strong] = by["`sqlparse` is not a dependency of the project"].metadata.findings or []
    assert strong.severity == "error"  # an import


async def test_typescript_dependencies_from_node_modules(ts_project: Path):
    plan = (
        "# Plan\n\n"
        "Refresh with `LRUCache.fetch` and show an entry without touching it:\n"
        "`this.cache.peak(key)`. Run with `program.parseAsyncc(process.argv)` after\n"
        "`program.exitOverride()`.\n"
    )
    by = {c.header: c for c in await questions(ts_project, plan)}
    assert set(by) == {
        "`this.cache.peak`: did you mean `LRUCache.peek`?",
        "`program.parseAsyncc`: did you mean `Command.parseAsync`?",
    }
    peek = by["`this.cache.peak`: did you mean `LRUCache.peek`?"]
    [cite, *_] = dep_citations(peek)
    assert cite.startswith("lru-cache==10.4.3:dist/")
    assert "peek(" in cited_line(ts_project, cite)
    assert "commander 12.1.0" in by["`program.parseAsyncc`: did you mean `Command.parseAsync`?"].text


async def test_without_an_environment_the_own_code_questions_stay_and_one_note_is_kept(
    py_project: Path, tmp_path: Path
):
    bare = copy_without_environment(py_project, tmp_path)
    plan = (
        "# Plan\n\n"
        "Edit `retrier/client.py`, then `Policy.stampz`.\n"
        "Parse with `feedparser.parse(body)`.\n"
    )
    app = create_app(
        s := settings(tmp_path, max_questions=8), Runtime(s, web=None, llm=None)
    )
    async with asgi_client(app) as client:
        r = await client.post("/fulfill", json=body(text=plan, scope=bare, fulfillers=["ambiguities"]))
        assert r.status_code == 200
        headers = {c["header"] for c in r.json()["cards"] if c["type"] == "question"}
        again = await client.post("/fulfill", json=body("u2", text=plan, scope=bare))
        assert again.status_code == 200
        health = (await client.get("/health")).json()
    assert "No file `retrier/client.py`" in headers  # the project's own questions
    assert not any("not a dependency" in h for h in headers)  # nothing installed: no such claim
    [note] = health["dependencies"]  # once, however many requests
    assert note["scope"] == bare.name and note["ecosystem"] == "python"
    assert "no Python environment found" in note["reason"]


def test_parallizer_index_lists_the_environment_and_the_packages_indexed(
    py_project: Path, tmp_path: Path
):
    proc = run(["index", str(py_project)], roots=py_project.parent, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "dependencies python in .venv (Python" in out
    assert "python-dateutil 2.9.0.post0, tenacity 8.2.3" in out
    assert re.search(r"indexed +python-dateutil 2\.9\.0\.post0 \(\d+ definitions", out)
    proc = run(["index", str(py_project), "--json"], roots=py_project.parent, cwd=tmp_path)
    [py] = json.loads(proc.stdout)["dependencies"]["environments"]
    assert {(p["name"], p["version"], p["declared"]) for p in py["packages"]} == {
        ("python-dateutil", "2.9.0.post0", True),
        ("tenacity", "8.2.3", True),
    }
    bare = copy_without_environment(py_project, tmp_path)
    proc = run(["index", str(bare)], roots=tmp_path, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "dependencies python: no Python environment found" in proc.stdout


async def test_calls_chained_in_code_and_their_keyword_arguments(
    py_project: Path, ts_project: Path
):
    plan = (
        "# Plan\n\n```python\npolicy = Retrying(stop=stop_after_attempt(3), max_wait=5)\n```\n"
    )
    [card] = await questions(py_project, plan)
    assert card.header == "tenacity 8.2.3 has no `Retrying.max_wait`"
    plan = (
        "# Plan\n\nDeclare it with `new Option(\"--deep\", \"merge deeply\")\n"
        ".requiredOption()` so the help marks it.\n"
    )
    [card] = await questions(ts_project, plan)
    assert card.header == "`requiredOption` is not on `Option`: `Command.requiredOption`?"
    assert "commander 12.1.0" in card.text


async def test_only_the_packages_a_plan_may_be_naming_are_indexed_once_per_version(
    py_project: Path,
):
    async def indexed_after(*plans: str) -> list[str]:
        async with Runtime(settings(py_project.parent), web=None, llm=None) as rt:
            for plan in plans:
                await fulfill(rt, plan, scope=py_project, only=["ambiguities"])
            assert rt.deps.indexed == len(rt.deps.indexed_for(py_project))  # each once
            return sorted(i.package.name for i in rt.deps.indexed_for(py_project))

    # names of the project's own: no package is read past its words
    assert await indexed_after("# Plan\n\nCall `stamps` from `Policy`.\n") == []
    # a name tenacity has (the project imports both packages): tenacity alone
    assert await indexed_after("# Plan\n\nUse `retry_if_result`.\n") == ["tenacity"]
    # a package's prefix, twice
    assert await indexed_after(
        "# Plan\n\n`dateutil.tz.gettz`\n", "# Plan\n\n`dateutil.parser.isoparse`\n"
    ) == ["python-dateutil"]


async def test_concurrent_plans_read_a_package_s_words_once(py_project: Path):
    """Plans arriving together (a crowd of users on one project) share one read of each
    package's words: without a single flight each read all of them."""
    plans = [f"# Plan\n\nUse `retry_if_resul{i}`, then `stop_after_attempt{i}`.\n" for i in range(6)]
    async with Runtime(settings(py_project.parent), web=None, llm=None) as rt:
        await asyncio.gather(
            *(fulfill(rt, p, scope=py_project, only=["ambiguities"]) for p in plans)
        )
        assert rt.deps.words_read > 0
        assert rt.deps.words_read == len(rt.deps._vocab)


async def test_what_a_package_says_of_a_name_is_asked_once(py_project: Path):
    """An editor sends the same plan at every edit: which packages may hold its open names
    (a fuzzy search of each package's words) is settled once."""
    plan = "# Plan\n\nUse `retry_if_result`, then `stop_after_attempts`.\n"
    async with Runtime(settings(py_project.parent), web=None, llm=None) as rt:
        await fulfill(rt, plan, scope=py_project, only=["ambiguities"])
        first = rt.deps.near_asked
        indexed = sorted(i.package.name for i in rt.deps.indexed_for(py_project))
        await fulfill(rt, plan + "\nAn edit below.\n", scope=py_project, only=["ambiguities"])
        assert first > 0 and rt.deps.near_asked == first
        assert sorted(i.package.name for i in rt.deps.indexed_for(py_project)) == indexed
        assert indexed == ["tenacity"]
