"""`parallizer lsp`: a Language Server for plans (Markdown), on pygls.

The server state is one `PlanServer` (one per client connection); each LSP feature is one
handler function below, registered in `create_server`. Findings come from
`Orchestrator.review` (every finding of the plan, offline); what the editor asks about the
code under the cursor comes from `knowledge.Knowledge`.

* Diagnostics: after didOpen at once, after each didChange once the typing pauses
  (`debounce`); a newer version cancels the review still running for the older one (its
  `rg` processes with it). Code changes on disk (workspace/didChangeWatchedFiles, watched
  dynamically when the client allows) bring the index up to date and review again.
* The scope of a plan is the workspace folder holding it (or rootUri; with neither, the git
  top level of the plan, else its directory). It must lie inside PARALLIZER_ALLOWED_ROOTS:
  otherwise window/showMessage says why, and nothing is scanned.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types
from pydantic import ValidationError
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.uris import to_fs_path

from ... import __version__
from ...config import Settings, project_root, resolve_inside
from ...document import Document, Mention, read
from ...errors import BadInput, PathNotAllowed
from ...fanout import cancel_and_wait
from ...models import (
    CardType,
    Finding,
    FulfillRequest,
    GlobalContext,
    code_points,
    utf16_column,
)
from ...orchestrator import Orchestrator
from ...text import IDENTIFIER
from . import convert
from .knowledge import Knowledge, Place

log = logging.getLogger("parallizer.lsp")

USER_ID = "lsp"
DEBOUNCE = 0.1  # seconds of quiet after a change before the plan is reviewed again
WATCH_DEBOUNCE = 0.3  # seconds after a code change on disk
PROGRESS_CREATE_TIMEOUT = 5.0
MAX_HOVER_PLACES = 5
_WORD_BEFORE = re.compile(rf"{IDENTIFIER}$")
_PATH_BEFORE = re.compile(r"`([\w.@()\[\]+-]*(?:/[\w.@()\[\]+-]*)+)$")
_KIND_ICON = {
    "class": types.CompletionItemKind.Class,
    "function": types.CompletionItemKind.Function,
    "method": types.CompletionItemKind.Method,
    "constant": types.CompletionItemKind.Constant,
    "variable": types.CompletionItemKind.Variable,
    "field": types.CompletionItemKind.Field,
    "type": types.CompletionItemKind.Class,
    "interface": types.CompletionItemKind.Interface,
    "trait": types.CompletionItemKind.Interface,
    "enum": types.CompletionItemKind.Enum,
    "module": types.CompletionItemKind.Module,
    "macro": types.CompletionItemKind.Function,
}


class PlanProtocol(LanguageServerProtocol):
    """pygls's protocol with two changes: positions are always UTF-16 (the findings' own
    unit), and `exit` stops the server's loop instead of calling `sys.exit` inside a handler
    (the loop's owner then closes the runtime and every process it started)."""

    _server: PlanServer

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Any:
        if params.capabilities.general is not None:
            params.capabilities.general.position_encodings = None  # UTF-16, LSP's default
        return (yield from super().lsp_initialize(params))

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        log.info("exit%s", "" if self._shutdown else " without shutdown")
        self._server.stopping = True
        yield from ()


@dataclass
class DocState:
    version: int = 0
    task: asyncio.Task[None] | None = None
    published: list[tuple[types.Diagnostic, Finding]] = field(default_factory=list)
    scope: Path | None = None


class PlanServer(LanguageServer):
    """One client's session: its documents, its scopes, the reviews in flight."""

    def __init__(
        self,
        settings: Settings,
        orchestrator: Orchestrator,
        *,
        debounce: float = DEBOUNCE,
    ) -> None:
        super().__init__(
            "parallizer",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=PlanProtocol,
        )
        self.settings = settings
        self.orchestrator = orchestrator
        self.knowledge = Knowledge(orchestrator.runtime)
        self.debounce = debounce
        self.stopping = False
        self.docs: dict[str, DocState] = {}
        self.refused: dict[str, str] = {}
        """Folder (or path) → why it cannot be a scope (told once)."""
        self.scopes: dict[str, Path] = {}
        """Folder → the scope it resolved to (inside the allowed roots)."""
        self._indexing: dict[Path, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watch_task: asyncio.Task[None] | None = None
        self._tokens = itertools.count(1)

    # --- tasks -------------------------------------------------------------------------

    def spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("%s failed: %s: %s", task.get_name(), type(exc).__name__, exc)

    async def aclose(self) -> None:
        """Cancel every review, index wait and watch still running, and wait for them."""
        await cancel_and_wait(list(self._tasks))

    # --- scopes --------------------------------------------------------------------------

    def _folders(self) -> list[Path]:
        try:
            ws = self.workspace
        except RuntimeError:  # not initialized
            return []
        uris = [f.uri for f in ws.folders.values()] or ([ws.root_uri] if ws.root_uri else [])
        out = []
        for uri in uris:
            path = to_fs_path(uri) if uri.startswith("file:") else None
            if path:
                out.append(Path(path))
        return out

    def _check_scope(self, folder: Path) -> Path | None:
        key = str(folder)
        if key in self.scopes:
            return self.scopes[key]
        if key in self.refused:
            return None
        roots = self.settings.allowed_root_paths
        try:
            scope = resolve_inside(folder, roots, what=f"the workspace folder {folder}", kind="dir")
            self.scopes[key] = scope
            return scope
        except PathNotAllowed as exc:
            why = (
                f"Parallizer does not review plans here: {exc} "
                f"({', '.join(map(str, roots))}); set PARALLIZER_ALLOWED_ROOTS to include it."
            )
        except BadInput as exc:
            why = f"Parallizer does not review plans here: {exc}."
        self.refused[key] = why
        log.warning("%s", why)
        self.window_show_message(types.ShowMessageParams(types.MessageType.Warning, why))
        return None

    def scope_of(self, uri: str) -> tuple[Path | None, Path | None]:
        """(scope, plan path) of a document: the innermost workspace folder holding it, else
        the first folder, else the plan's own project; None when refused (or not a file)."""
        plan = Path(p) if uri.startswith("file:") and (p := to_fs_path(uri)) else None
        folders = self._folders()
        holding = [f for f in folders if plan is not None and plan.is_relative_to(f)]
        if holding:
            folder = max(holding, key=lambda f: len(f.parts))
        elif folders:
            folder = folders[0]
        elif plan is not None:
            folder = project_root(plan)
        else:
            return None, None
        scope = self._check_scope(folder)
        if scope is None or plan is None:
            return scope, None
        try:
            plan = plan.resolve()
        except (OSError, RuntimeError):
            return scope, None
        inside = any(plan.is_relative_to(r) for r in self.settings.allowed_root_paths)
        return scope, plan if inside else None

    # --- indexing with progress ----------------------------------------------------------

    async def ensure_indexed(self, scope: Path) -> None:
        """The first build of a scope's index, with work-done progress; shared by every
        review that waits for it (a cancelled review does not cancel it)."""
        if self.knowledge.indexed(scope):
            return
        task = self._indexing.get(scope)
        if task is None:
            task = self.spawn(self._index(scope), f"lsp-index:{scope.name}")
            self._indexing[scope] = task
            task.add_done_callback(lambda _t: self._indexing.pop(scope, None))
        await asyncio.shield(task)

    async def _index(self, scope: Path) -> None:
        token: str | None = None
        caps = self.client_capabilities.window
        if caps is not None and caps.work_done_progress:
            token = f"parallizer-index-{next(self._tokens)}"
            try:
                await asyncio.wait_for(
                    self.work_done_progress.create_async(token), PROGRESS_CREATE_TIMEOUT
                )
            except Exception as exc:  # the client refused or did not answer: no progress
                log.info("no progress for indexing (%s)", type(exc).__name__)
                token = None
        if token is not None:
            self.work_done_progress.begin(
                token,
                types.WorkDoneProgressBegin(
                    title="Parallizer: indexing", message=scope.name, cancellable=False
                ),
            )
        message = "done"
        try:
            index = await self.knowledge.snapshot(scope)
            message = self.knowledge.describe(index)
            log.info("indexed %s: %s", scope, message)
        except Exception as exc:  # the review says what it can without an index
            message = f"failed: {exc}"
            log.warning("indexing %s failed: %s", scope, exc)
        finally:
            if token is not None:
                self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))

    # --- reviews -------------------------------------------------------------------------

    def schedule(self, uri: str, delay: float) -> None:
        """Review the document's current version after `delay`; a review of an older
        version still running is cancelled (superseded)."""
        state = self.docs.setdefault(uri, DocState())
        if state.task is not None and not state.task.done():
            state.task.cancel()
        try:
            state.version = self.workspace.get_text_document(uri).version or 0
        except Exception:
            return
        state.task = self.spawn(self._review(uri, state.version, delay), f"lsp-review:{uri}")

    async def _review(self, uri: str, version: int, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        doc = self.workspace.get_text_document(uri)
        text = doc.source
        scope, plan = self.scope_of(uri)
        if scope is None:
            return  # refused (told once) or not a file: nothing is scanned
        state = self.docs.setdefault(uri, DocState())
        state.scope = scope
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > self.settings.max_document_bytes:
            self._publish(
                uri, version, [], [convert.too_large(size, self.settings.max_document_bytes)]
            )
            return
        await self.ensure_indexed(scope)
        try:
            request = FulfillRequest(
                user_id=USER_ID,
                document_text=text,
                cursor_position=(0, 0),
                global_context=GlobalContext(
                    scope_root=str(scope), plan_path=str(plan) if plan else None
                ),
                fulfillers=["ambiguities"],
            )
            job = await asyncio.to_thread(self.orchestrator.prepare, request)
        except (ValidationError, BadInput) as exc:
            why = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            self._publish(uri, version, [], [convert.not_reviewed(why)])
            return
        review = await self.orchestrator.review(job)
        if not review.timing.ok:
            log.warning("review of %s failed: %s", uri, review.timing.error)
        relplan = job.plan_relpath
        pairs = convert.diagnostics(review.findings, scope, relplan)
        log.info(
            "reviewed %s v%d: %d findings in %.0f ms", Path(uri).name, version,
            len(review.findings), review.timing.ms,
        )  # fmt: skip
        self._publish(uri, version, pairs, [])

    def _publish(
        self,
        uri: str,
        version: int,
        pairs: list[tuple[types.Diagnostic, Finding]],
        extra: list[types.Diagnostic],
    ) -> None:
        try:
            current = self.workspace.get_text_document(uri).version or 0
        except Exception:
            return
        if current != version or uri not in self.docs:
            return  # a newer version (or a close) came in meanwhile
        self.docs[uri].published = pairs
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(
                uri=uri, version=version, diagnostics=[d for d, _ in pairs] + extra
            )
        )

    async def code_changed(self) -> None:
        """Files changed on disk: once they settle, bring each open scope's index up to
        date, then review every open plan again."""
        await asyncio.sleep(WATCH_DEBOUNCE)
        scopes = {s.scope for s in self.docs.values() if s.scope is not None}
        for scope in scopes:
            try:
                await self.knowledge.refresh(scope)
            except Exception as exc:
                log.warning("index update of %s failed: %s", scope, exc)
        for uri in list(self.docs):
            self.schedule(uri, 0.0)

    # --- what is under the cursor --------------------------------------------------------

    async def mention_at(self, uri: str, pos: types.Position) -> tuple[Mention, str] | None:
        """The backticked name or path at `pos` and its line's text."""
        doc = self.workspace.get_text_document(uri)
        lines = doc.source.split("\n")
        if not 0 <= pos.line < len(lines):
            return None
        line = lines[pos.line]
        col = code_points(line, pos.character)
        document = Document(doc.source, (pos.line, col))
        facts = await asyncio.to_thread(read, document)
        for m in facts.mentions:
            if m.line != pos.line or m.col < 0 or not m.col <= col <= m.end:
                continue
            if m.kind == "path" or (m.coded and m.kind in ("identifier", "call", "dotted")):
                return m, line
        return None

    async def places(self, scope: Path, m: Mention) -> list[Place]:
        index = await self.knowledge.snapshot(scope)
        if m.kind == "path":
            path = m.text.removeprefix("./").lstrip("/")
            return [Place("file", path, path, 1)] if self.knowledge.has_file(index, path) else []
        return self.knowledge.definitions(index, m.text, args=m.args)

    def lookup_scope(self, uri: str) -> Path | None:
        state = self.docs.get(uri)
        if state is not None and state.scope is not None:
            return state.scope
        return self.scope_of(uri)[0]


def _mention_range(m: Mention, line: str) -> types.Range:
    return types.Range(
        types.Position(m.line, utf16_column(line, m.col)),
        types.Position(m.line, utf16_column(line, m.end)),
    )


def _location(scope: Path, p: Place) -> types.Location:
    at = types.Position(max(p.line - 1, 0), 0)
    return types.Location((scope / p.path).as_uri(), types.Range(at, at))


# --- handlers: one per LSP feature -----------------------------------------------------------


async def initialized(ls: PlanServer, params: types.InitializedParams) -> None:
    caps = ls.client_capabilities.workspace
    watched = caps.did_change_watched_files if caps is not None else None
    if watched is not None and watched.dynamic_registration:
        ls.spawn(_watch_code(ls), "lsp-register-watch")
    for folder in ls._folders():  # warm the index (with progress) before the first plan
        scope = ls._check_scope(folder)
        if scope is not None:
            ls.spawn(ls.ensure_indexed(scope), f"lsp-warm:{scope.name}")


async def _watch_code(ls: PlanServer) -> None:
    registration = types.Registration(
        id="parallizer-watch-code",
        method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
        register_options=types.DidChangeWatchedFilesRegistrationOptions(
            watchers=[types.FileSystemWatcher(glob_pattern="**/*")]
        ),
    )
    try:
        await ls.client_register_capability_async(types.RegistrationParams([registration]))
        log.info("watching the workspace's files for code changes")
    except Exception as exc:
        log.info("the client did not register the file watcher: %s", exc)


def did_open(ls: PlanServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.docs[params.text_document.uri] = DocState()
    ls.schedule(params.text_document.uri, 0.0)  # offline diagnostics come at once


def did_change(ls: PlanServer, params: types.DidChangeTextDocumentParams) -> None:
    ls.schedule(params.text_document.uri, ls.debounce)


def did_save(ls: PlanServer, params: types.DidSaveTextDocumentParams) -> None:
    # the plan's path on disk matters to the review (it is left out of searches)
    if params.text_document.uri in ls.docs:
        ls.schedule(params.text_document.uri, 0.0)


def did_close(ls: PlanServer, params: types.DidCloseTextDocumentParams) -> None:
    uri = params.text_document.uri
    state = ls.docs.pop(uri, None)
    if state is not None and state.task is not None:
        state.task.cancel()
    ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


def did_change_watched_files(ls: PlanServer, params: types.DidChangeWatchedFilesParams) -> None:
    if not ls.docs or not params.changes:
        return
    if ls._watch_task is not None and not ls._watch_task.done():
        ls._watch_task.cancel()
    ls._watch_task = ls.spawn(ls.code_changed(), "lsp-code-changed")


async def shutdown(ls: PlanServer, params: None) -> None:
    await ls.aclose()


def code_action(ls: PlanServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    state = ls.docs.get(uri)
    only = params.context.only
    if state is None or (only and not any(k.startswith("quickfix") for k in only)):
        return []
    lines = ls.workspace.get_text_document(uri).source.split("\n")
    actions: list[types.CodeAction] = []
    for diagnostic, finding in state.published:
        if not convert.overlaps(diagnostic.range, params.range):
            continue
        line = diagnostic.range.start.line
        text = lines[line] if 0 <= line < len(lines) else ""
        actions += convert.quick_fixes(uri, text, diagnostic, finding)
    return actions


async def hover(ls: PlanServer, params: types.HoverParams) -> types.Hover | None:
    uri = params.text_document.uri
    scope = ls.lookup_scope(uri)
    found = await ls.mention_at(uri, params.position)
    if scope is None or found is None:
        return None
    m, line = found
    places = await ls.places(scope, m)
    if not places:
        return None
    shown = places[:MAX_HOVER_PLACES]
    snippets = await ls.knowledge.snippets(scope, [(p.path, p.line) for p in shown])
    parts = []
    for p in shown:
        head = f"**{p.kind}** `{p.qualname}` — `{p.citation}`"
        body = snippets.get((p.path, p.line))
        fence = p.language or ""
        parts.append(f"{head}\n\n```{fence}\n{body}\n```" if body else head)
    if len(places) > len(shown):
        parts.append(f"… and {len(places) - len(shown)} more")
    return types.Hover(
        contents=types.MarkupContent(types.MarkupKind.Markdown, "\n\n---\n\n".join(parts)),
        range=_mention_range(m, line),
    )


async def definition(ls: PlanServer, params: types.DefinitionParams) -> list[types.Location] | None:
    uri = params.text_document.uri
    scope = ls.lookup_scope(uri)
    found = await ls.mention_at(uri, params.position)
    if scope is None or found is None:
        return None
    places = await ls.places(scope, found[0])
    return [_location(scope, p) for p in places] or None


async def document_link(
    ls: PlanServer, params: types.DocumentLinkParams
) -> list[types.DocumentLink]:
    uri = params.text_document.uri
    scope = ls.lookup_scope(uri)
    if scope is None:
        return []
    text = ls.workspace.get_text_document(uri).source
    lines = text.split("\n")
    facts = await asyncio.to_thread(read, Document(text))
    index = await ls.knowledge.snapshot(scope)
    links = []
    for m in facts.mentions:
        if m.kind != "path" or m.col < 0:
            continue
        path = m.text.removeprefix("./").lstrip("/")
        if ls.knowledge.has_file(index, path):
            links.append(
                types.DocumentLink(
                    range=_mention_range(m, lines[m.line]),
                    target=(scope / path).as_uri(),
                    tooltip=f"open {path}",
                )
            )
    return links


async def completion(ls: PlanServer, params: types.CompletionParams) -> types.CompletionList | None:
    uri = params.text_document.uri
    scope = ls.lookup_scope(uri)
    if scope is None:
        return None
    lines = ls.workspace.get_text_document(uri).source.split("\n")
    if not 0 <= params.position.line < len(lines):
        return None
    line = lines[params.position.line]
    before = line[: code_points(line, params.position.character)]
    index = await ls.knowledge.snapshot(scope)
    at = params.position
    if (pm := _PATH_BEFORE.search(before)) is not None:
        prefix = pm.group(1)
        start = types.Position(at.line, at.character - len(prefix.encode("utf-16-le")) // 2)
        return types.CompletionList(
            is_incomplete=True,
            items=[
                types.CompletionItem(
                    label=path,
                    kind=types.CompletionItemKind.File,
                    text_edit=types.TextEdit(types.Range(start, at), path),
                )
                for path in ls.knowledge.files_starting(index, prefix)
            ],
        )
    wm = _WORD_BEFORE.search(before)
    if wm is None or len(wm.group(0)) < 2:
        return None
    names = await ls.knowledge.complete(index, wm.group(0))
    return types.CompletionList(
        is_incomplete=True,
        items=[
            types.CompletionItem(
                label=n.name,
                kind=_KIND_ICON.get(n.kind, types.CompletionItemKind.Text),
                detail=f"{n.kind} {n.qualname} — {n.citation}",
            )
            for n in names
        ],
    )


async def inline_completion(
    ls: PlanServer, params: types.InlineCompletionParams
) -> types.InlineCompletionList | None:
    """Ghost text at the cursor from the Completions fulfiller (through the orchestrator)."""
    uri = params.text_document.uri
    scope, plan = ls.scope_of(uri)
    if scope is None:
        return None
    text = ls.workspace.get_text_document(uri).source
    try:
        request = FulfillRequest(
            user_id=USER_ID,
            document_text=text,
            cursor_position=(params.position.line, params.position.character),
            global_context=GlobalContext(
                scope_root=str(scope), plan_path=str(plan) if plan else None
            ),
            fulfillers=["completions"],
        )
        job = await asyncio.to_thread(ls.orchestrator.prepare, request)
    except (ValidationError, BadInput):
        return None
    response = await ls.orchestrator.fulfill(job)
    at = types.Range(params.position, params.position)
    items = [
        types.InlineCompletionItem(insert_text=c.text, range=at)
        for c in response.cards
        if c.type is CardType.completion and c.text
    ]
    return types.InlineCompletionList(items=items) if items else None


def create_server(settings: Settings, orchestrator: Orchestrator, **kw: Any) -> PlanServer:
    """A server for one client, every feature registered."""
    ls = PlanServer(settings, orchestrator, **kw)
    ls.feature(types.INITIALIZED)(initialized)
    ls.feature(types.SHUTDOWN)(shutdown)
    ls.feature(types.TEXT_DOCUMENT_DID_OPEN)(did_open)
    ls.feature(types.TEXT_DOCUMENT_DID_CHANGE)(did_change)
    ls.feature(types.TEXT_DOCUMENT_DID_SAVE)(did_save)
    ls.feature(types.TEXT_DOCUMENT_DID_CLOSE)(did_close)
    ls.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)(did_change_watched_files)
    ls.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]),
    )(code_action)
    ls.feature(types.TEXT_DOCUMENT_HOVER)(hover)
    ls.feature(types.TEXT_DOCUMENT_DEFINITION)(definition)
    ls.feature(types.TEXT_DOCUMENT_DOCUMENT_LINK, types.DocumentLinkOptions())(document_link)
    ls.feature(
        types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["`", "/"])
    )(completion)
    ls.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())(
        inline_completion
    )
    return ls
