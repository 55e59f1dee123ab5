"""The Language Server end to end: the real `parallizer lsp` process, driven over stdio by
pytest-lsp's client (pygls), on a small real code tree."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path
from typing import Any

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, LanguageClientProtocol

from ..clients.proc import PARALLIZER, clean_env

PLAN = """\
# Plan: retries for the client

We wrap every call in `RetryPolicy` and read settings with `load_config`.
The delay comes from `RetryPolicy.delai()` in `src/app/retri.py`.
We add `BackoffClock` (new) to time the attempts, next to `src/app/retry.py`.
The jitter is computed by `JitterSource` before each attempt.
"""


def write(root: Path, rel: str, text: str) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return p


def make_tree(root: Path) -> Path:
    """A repository with a RetryPolicy, two `load_config`s (ambiguous) and a plan."""
    write(
        root,
        "src/app/retry.py",
        '''
        """Retry helpers."""


        class RetryPolicy:
            """Exponential backoff."""

            def __init__(self, max_retries: int = 3) -> None:
                self.max_retries = max_retries

            def delay(self, attempt: int) -> float:
                return 0.1 * 2 ** attempt
        ''',
    )
    write(root, "src/app/config.py", "def load_config(path):\n    return {}\n")
    write(
        root,
        "src/legacy/config.py",
        "# old\ndef load_config(path, strict=False):\n    return None\n",
    )
    (root / "plan.md").write_text(PLAN, encoding="utf-8")
    return root


class Recorder(LanguageClientProtocol):
    """Keeps every publishDiagnostics and showMessage, in order, with an event per arrival."""

    def _handle_notification(self, method_name: str, params: Any) -> None:
        client: Client = self._server  # type: ignore[assignment]
        if method_name == types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS:
            client.published.append(params)
        if method_name in (types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS, types.WINDOW_SHOW_MESSAGE,
                           types.PROGRESS):  # fmt: skip
            client.arrived.set()
        super()._handle_notification(method_name, params)


class Client(LanguageClient):
    def __init__(self) -> None:
        super().__init__(
            protocol_cls=Recorder, converter_factory=pytest_lsp.client.default_converter
        )
        self.published: list[types.PublishDiagnosticsParams] = []
        self.arrived = asyncio.Event()
        self.registrations: list[types.Registration] = []

    async def until(self, predicate: Any, within: float = 30.0) -> Any:
        """Wait (bounded) until `predicate()` is truthy; return its value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not (value := predicate()):
            self.arrived.clear()
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"timed out; published: {self.published!r}")
            try:
                await asyncio.wait_for(self.arrived.wait(), min(left, 0.5))
            except TimeoutError:
                pass
        return value

    async def diagnostics_at(
        self, uri: str, version: int, within: float = 30.0
    ) -> list[types.Diagnostic]:
        """The diagnostics published for `uri` at `version` (the first such publication)."""

        def find() -> list[types.Diagnostic] | None:
            for p in self.published:
                if p.uri == uri and p.version == version:
                    return list(p.diagnostics)
            return None

        return await self._wait(find, within)

    async def _wait(self, find: Any, within: float) -> Any:
        box: list[Any] = []

        def ready() -> bool:
            v = find()
            if v is None:
                return False
            box.append(v)
            return True

        await self.until(ready, within)
        return box[-1]


def factory() -> Client:
    client = Client()
    pytest_lsp.client.register_lsp_features(client)

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register(params: types.RegistrationParams) -> None:
        client.registrations.extend(params.registrations)

    return client


async def start(roots: Path, **env: str) -> Client:
    config = ClientServerConfig(
        server_command=[PARALLIZER, "lsp"],
        client_factory=factory,
        server_env=clean_env(roots, **env),
    )
    client = await config.start()
    assert isinstance(client, Client)
    return client


async def initialize(client: Client, folder: Path, **caps: Any) -> types.InitializeResult:
    capabilities = pytest_lsp.client_capabilities("visual-studio-code")
    return await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities,
            root_uri=folder.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=folder.as_uri(), name=folder.name)],
        )
    )


def open_plan(client: Client, path: Path, text: str | None = None, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            types.TextDocumentItem(
                uri=uri,
                language_id="markdown",
                version=version,
                text=path.read_text(encoding="utf-8") if text is None else text,
            )
        )
    )
    return uri


def change(client: Client, uri: str, version: int, text: str) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


def apply(text: str, edits: list[types.TextEdit]) -> str:
    """Apply LSP text edits (UTF-16 positions; the test plans are ASCII) to `text`."""
    lines = text.split("\n")

    def offset(p: types.Position) -> int:
        return sum(len(lines[i]) + 1 for i in range(p.line)) + p.character

    for e in sorted(edits, key=lambda e: offset(e.range.start), reverse=True):
        a, b = offset(e.range.start), offset(e.range.end)
        text = text[:a] + e.new_text + text[b:]
        lines = text.split("\n")
    return text


def at(text: str, needle: str, line_of: str | None = None) -> types.Position:
    """The position of `needle` (its first character) in `text`."""
    for i, line in enumerate(text.split("\n")):
        if (line_of is None or line_of in line) and needle in line:
            return types.Position(i, line.index(needle))
    raise AssertionError(f"{needle!r} not in the plan")
