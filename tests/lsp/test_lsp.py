"""`parallizer lsp` end to end over stdio (pytest-lsp's client, the real server process)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from itertools import count
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types

from ..conftest import children
from .kit import PLAN, Client, apply, at, change, initialize, make_tree, open_plan, start

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "repo")


@pytest.fixture
async def lsp(repo: Path):
    client = await start(repo.parent)
    await initialize(client, repo)
    yield client
    await client.shutdown_session()
    await client.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Client, Path]]:
    """One server for the tests that only ask about a plan: each opens a plan of its own (its
    own file, so its own URI and versions) in one tree that none of them changes. A test about
    the first index, a change to the tree, the server's log, its settings or its end starts
    its own (`lsp`, or `start` itself)."""
    repo = make_tree(tmp_path_factory.mktemp("shared") / "repo")
    client = await start(repo.parent)
    await initialize(client, repo)
    yield client, repo
    await client.shutdown_session()
    await client.stop()


_plans = count(1)


def own_plan(repo: Path) -> Path:
    """A copy of the plan of the tree, under a name no other test opens."""
    path = repo / f"plan-{next(_plans)}.md"
    path.write_text(PLAN, encoding="utf-8")
    return path


#: the tests on the shared server run in the loop it was started in
shared = pytest.mark.asyncio(loop_scope="module")


def by_code(diags: list[types.Diagnostic]) -> dict[str, list[types.Diagnostic]]:
    out: dict[str, list[types.Diagnostic]] = {}
    for d in diags:
        out.setdefault(str(d.code), []).append(d)
    return out


def text_of(d: types.Diagnostic, text: str) -> str:
    line = text.split("\n")[d.range.start.line]
    return line[d.range.start.character : d.range.end.character]


@shared
async def test_diagnostics_sit_on_the_exact_range_of_each_name(served: tuple[Client, Path]):
    lsp, repo = served
    uri = open_plan(lsp, own_plan(repo))
    diags = await lsp.diagnostics_at(uri, 1)
    codes = by_code(diags)
    assert set(codes) >= {"wrong_name", "missing_path", "ambiguous", "missing"}
    [wrong] = codes["wrong_name"]
    assert text_of(wrong, PLAN) == "RetryPolicy.delai"
    assert wrong.severity == types.DiagnosticSeverity.Error
    assert wrong.source == "parallizer"
    assert "RetryPolicy.delay" in wrong.message
    related = {
        (r.location.uri, r.location.range.start.line) for r in wrong.related_information or []
    }
    assert ((repo / "src/app/retry.py").as_uri(), 9) in related  # `def delay` is line 10
    [path] = codes["missing_path"]
    assert text_of(path, PLAN) == "src/app/retri.py"
    [amb] = codes["ambiguous"]
    assert text_of(amb, PLAN) == "load_config"
    assert amb.severity == types.DiagnosticSeverity.Warning
    [missing] = codes["missing"]
    assert text_of(missing, PLAN) == "JitterSource"
    # the plan introduces `BackoffClock` (new): no diagnostic on it
    assert not [d for d in diags if "BackoffClock" in text_of(d, PLAN)]
    # and the name it gets right has none either
    assert not [d for d in diags if text_of(d, PLAN) == "RetryPolicy"]


async def test_a_newer_version_supersedes_the_review_of_an_older_one(
    lsp: Client, repo: Path, capfd: pytest.CaptureFixture[str]
):
    uri = open_plan(lsp, repo / "plan.md")
    await lsp.diagnostics_at(uri, 1)
    fixed = PLAN.replace("`RetryPolicy.delai()`", "`RetryPolicy.delay()`")
    broken = fixed.replace("`load_config`", "`load_confg`")
    change(lsp, uri, 2, broken)  # within the debounce of the next one: never reviewed alone
    change(lsp, uri, 3, fixed)
    diags = await lsp.diagnostics_at(uri, 3)
    assert "wrong_name" not in by_code(diags)
    assert not [p for p in lsp.published if p.uri == uri and p.version == 2]
    # version 2 was cancelled, not merely left unpublished: its review never ran to the end
    log = capfd.readouterr().err
    assert "reviewed plan.md v3" in log
    assert "reviewed plan.md v2" not in log


@shared
async def test_the_quick_fix_replaces_the_name_and_clears_the_diagnostic(
    served: tuple[Client, Path],
):
    lsp, repo = served
    uri = open_plan(lsp, own_plan(repo))
    diags = await lsp.diagnostics_at(uri, 1)
    [wrong] = by_code(diags)["wrong_name"]
    actions = await lsp.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri),
            range=wrong.range,
            context=types.CodeActionContext(diagnostics=[wrong]),
        )
    )
    assert actions
    fix = next(a for a in actions if isinstance(a, types.CodeAction) and a.is_preferred)
    assert fix.title == "Replace `RetryPolicy.delai` with `RetryPolicy.delay`"
    assert fix.edit is not None and fix.edit.changes is not None
    text = apply(PLAN, list(fix.edit.changes[uri]))
    assert "`RetryPolicy.delay()`" in text
    change(lsp, uri, 2, text)
    after = by_code(await lsp.diagnostics_at(uri, 2))
    assert "wrong_name" not in after
    assert "missing_path" in after  # the other findings stay


@shared
async def test_marking_a_name_new_clears_its_diagnostic(served: tuple[Client, Path]):
    lsp, repo = served
    uri = open_plan(lsp, own_plan(repo))
    [missing] = by_code(await lsp.diagnostics_at(uri, 1))["missing"]
    actions = await lsp.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri),
            range=missing.range,
            context=types.CodeActionContext(diagnostics=[missing]),
        )
    )
    [mark] = [a for a in actions or [] if isinstance(a, types.CodeAction) and "new" in a.title]
    assert mark.edit is not None and mark.edit.changes is not None
    text = apply(PLAN, list(mark.edit.changes[uri]))
    assert "`JitterSource` (new)" in text
    change(lsp, uri, 2, text)
    assert "missing" not in by_code(await lsp.diagnostics_at(uri, 2))


@shared
async def test_hover_shows_kind_place_and_snippet(served: tuple[Client, Path]):
    lsp, repo = served
    uri = open_plan(lsp, own_plan(repo))
    await lsp.diagnostics_at(uri, 1)
    hover = await lsp.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), at(PLAN, "RetryPolicy` and"))
    )
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert "**class** `RetryPolicy`" in hover.contents.value
    assert "src/app/retry.py:4" in hover.contents.value
    assert "class RetryPolicy:" in hover.contents.value  # the snippet, from the file
    nothing = await lsp.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), at(PLAN, "every call"))
    )
    assert nothing is None


@shared
async def test_definition_gives_every_place_of_an_ambiguous_name(served: tuple[Client, Path]):
    lsp, repo = served
    uri = open_plan(lsp, own_plan(repo))
    await lsp.diagnostics_at(uri, 1)
    found = await lsp.text_document_definition_async(
        types.DefinitionParams(types.TextDocumentIdentifier(uri), at(PLAN, "load_config"))
    )
    assert isinstance(found, list)
    places = {(loc.uri, loc.range.start.line) for loc in found if isinstance(loc, types.Location)}
    assert places == {
        ((repo / "src/app/config.py").as_uri(), 0),
        ((repo / "src/legacy/config.py").as_uri(), 1),
    }
    one = await lsp.text_document_definition_async(
        types.DefinitionParams(types.TextDocumentIdentifier(uri), at(PLAN, "RetryPolicy` and"))
    )
    assert isinstance(one, list) and len(one) == 1


@shared
async def test_links_for_paths_that_exist_only(served: tuple[Client, Path]):
    lsp, repo = served
    uri = open_plan(lsp, own_plan(repo))
    await lsp.diagnostics_at(uri, 1)
    links = await lsp.text_document_document_link_async(
        types.DocumentLinkParams(types.TextDocumentIdentifier(uri))
    )
    assert [link.target for link in links or []] == [(repo / "src/app/retry.py").as_uri()]


@shared
async def test_completion_offers_the_codes_names(served: tuple[Client, Path]):
    lsp, repo = served
    text = PLAN + "Then `Retr"
    uri = open_plan(lsp, own_plan(repo), text)
    await lsp.diagnostics_at(uri, 1)
    end = types.Position(len(text.split("\n")) - 1, len(text.split("\n")[-1]))
    result = await lsp.text_document_completion_async(
        types.CompletionParams(types.TextDocumentIdentifier(uri), end)
    )
    assert isinstance(result, types.CompletionList)
    labels = [i.label for i in result.items]
    assert "RetryPolicy" in labels
    assert all(label.startswith("Retr") for label in labels)


async def test_progress_while_the_scope_is_indexed_the_first_time(lsp: Client, repo: Path):
    uri = open_plan(lsp, repo / "plan.md")
    await lsp.diagnostics_at(uri, 1)
    reports = await lsp.until(
        lambda: [
            r
            for r in lsp.progress_reports.values()
            if r and isinstance(r[-1], types.WorkDoneProgressEnd)
        ]
    )
    [report] = reports
    assert isinstance(report[0], types.WorkDoneProgressBegin)
    assert report[0].title == "Parallizer: indexing"
    assert "definitions" in (report[-1].message or "")


async def test_the_server_watches_code_and_reviews_again_when_it_changes(lsp: Client, repo: Path):
    uri = open_plan(lsp, repo / "plan.md")
    assert "missing" in by_code(await lsp.diagnostics_at(uri, 1))
    await lsp.until(lambda: lsp.registrations)
    assert lsp.registrations[0].method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
    source = repo / "src/app/jitter.py"
    source.write_text("class JitterSource:\n    pass\n", encoding="utf-8")
    seen = len(lsp.published)
    lsp.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            [types.FileEvent(source.as_uri(), types.FileChangeType.Created)]
        )
    )
    again = await lsp.until(lambda: [p for p in lsp.published[seen:] if p.uri == uri])
    assert "missing" not in by_code(list(again[-1].diagnostics))


async def test_a_workspace_outside_the_roots_is_refused_and_never_scanned(tmp_path: Path):
    inside = tmp_path / "allowed"
    inside.mkdir()
    repo = make_tree(tmp_path / "elsewhere")
    client = await start(inside)
    try:
        await initialize(client, repo)
        uri = open_plan(client, repo / "plan.md")
        await client.until(lambda: client.messages)
        [message] = client.messages
        assert message.type == types.MessageType.Warning
        assert "outside the allowed roots" in message.message
        assert "PARALLIZER_ALLOWED_ROOTS" in message.message
        # a request after the open is answered, so the open has been handled
        await client.text_document_hover_async(
            types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(0, 0))
        )
        assert not client.published
        assert not client.progress_reports
    finally:
        await client.shutdown_session()
        await client.stop()


async def test_a_document_over_the_limit_gets_one_diagnostic_saying_so(tmp_path: Path):
    repo = make_tree(tmp_path / "repo")
    client = await start(tmp_path, PARALLIZER_MAX_DOCUMENT_BYTES="2000")
    try:
        await initialize(client, repo)
        uri = open_plan(client, repo / "plan.md", PLAN * 40)
        [diag] = await client.diagnostics_at(uri, 1)
        assert diag.code == "too_large"
        assert "over the limit of 2000 bytes" in diag.message
    finally:
        await client.shutdown_session()
        await client.stop()


async def test_exit_leaves_no_process_behind(repo: Path):
    client = await start(repo.parent)
    await initialize(client, repo)
    uri = open_plan(client, repo / "plan.md")
    await client.diagnostics_at(uri, 1)
    server = client._server
    assert server is not None
    await client.shutdown_session()
    assert server.returncode == 0
    await client.stop()
    assert [c for c in children() if c[0] == server.pid] == []


@shared
async def test_inline_completion_is_ghost_text_from_the_completions_fulfiller(
    served: tuple[Client, Path],
):
    lsp, repo = served
    text = PLAN + "The policy object is a RetryPol"
    uri = open_plan(lsp, own_plan(repo), text)
    await lsp.diagnostics_at(uri, 1)
    end = types.Position(len(text.split("\n")) - 1, len(text.split("\n")[-1]))
    result = await lsp.text_document_inline_completion_async(
        types.InlineCompletionParams(
            context=types.InlineCompletionContext(types.InlineCompletionTriggerKind.Automatic),
            text_document=types.TextDocumentIdentifier(uri),
            position=end,
        )
    )
    assert isinstance(result, types.InlineCompletionList)
    assert [item.insert_text for item in result.items] == ["icy"]
