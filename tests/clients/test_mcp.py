"""`parallizer mcp` with the MCP SDK's own client: over stdio against the real command (list
tools, review a plan by path and by text, errors for a scope or path outside the allowed
roots), and at `/mcp` on the HTTP service (streamable HTTP) behind the bearer token."""

from __future__ import annotations

from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from parallizer.config import Settings
from parallizer.service import create_app

from ..conftest import write
from ..service.kit import serve
from .proc import PARALLIZER, clean_env

PLAN = """# Plan: uploads

Uploads are retried with `RetryPolicy`.
Settings come from `load_config`.
"""


@pytest.fixture
def roots(tmp_path: Path, code_tree: Path) -> Path:
    write(tmp_path, "plans/plan.md", PLAN)
    (tmp_path.parent / f"{tmp_path.name}-outside").mkdir(exist_ok=True)
    return tmp_path


def stdio(roots: Path) -> StdioServerParameters:
    return StdioServerParameters(
        command=PARALLIZER, args=["mcp"], env=clean_env(roots), cwd=str(roots / "repo")
    )


def text(result) -> str:
    return "\n".join(c.text for c in result.content if c.type == "text")


async def test_over_stdio_list_tools_review_by_path_and_by_text_and_bad_input(roots: Path):
    """One server process for all of it (the SDK takes seconds to import)."""
    plan = roots / "plans/plan.md"
    async with Client(stdio(roots)) as client:
        tools = (await client.list_tools()).tools
        assert [t.name for t in tools] == ["review_plan"]
        tool = tools[0]
        props = tool.input_schema["properties"]
        assert {"plan_path", "document_text", "scope_root", "cursor"} <= set(props)
        assert tool.output_schema and "cards" in tool.output_schema["properties"]
        assert tool.annotations and tool.annotations.read_only_hint

        # by path; the scope defaults to the server's working directory (the code tree)
        by_path = await client.call_tool("review_plan", {"plan_path": str(plan)})
        assert not by_path.is_error, text(by_path)
        s = by_path.structured_content
        assert s["plan_path"] == str(plan) and s["scope_root"] == str(roots / "repo")
        cites = {c for card in s["cards"] for c in card["metadata"]["citations"]}
        assert {"src/app/retry.py:5", "src/app/config.py:1", "src/legacy/config.py:2"} <= cites
        assert set(s["timings"]["fulfillers"]) >= {"ambiguities", "code_search"}
        md = text(by_path)
        assert "## Questions" in md and "### Which `load_config`?" in md
        assert "## Context" in md and "Cites: src/app/retry.py:5" in md
        assert "- code_search: ok" in md

        # by text, with an explicit scope and a cursor in either form
        for cursor in ("2:10", [2, 10]):
            by_text = await client.call_tool(
                "review_plan",
                {
                    "document_text": "# Draft\n\nWe keep `RetryPolicy` as is.\nThen `load_con",
                    "scope_root": str(roots / "repo"),
                    "cursor": cursor,
                },
            )
            assert not by_text.is_error, text(by_text)
            s = by_text.structured_content
            assert "plan_path" not in s
            assert any("src/app/retry.py:5" in card["metadata"]["citations"] for card in s["cards"])

        await check_bad_input(client, roots)


async def check_bad_input(client: Client, roots: Path) -> None:
    """A bad scope, path or cursor is a tool error with a clear message; the server goes on."""
    outside = roots.parent / f"{roots.name}-outside"
    write(outside, "plan.md", PLAN)
    cases = {
        "scope outside": (
            {"document_text": PLAN, "scope_root": str(outside)},
            "scope_root is outside the allowed roots",
        ),
        "plan outside": ({"plan_path": str(outside / "plan.md")}, "plan_path is outside"),
        "plan missing": ({"plan_path": str(roots / "plans/nope.md")}, "plan_path is not a file"),
        "scope relative": (
            {"document_text": PLAN, "scope_root": "repo"},
            "scope_root must be an absolute path",
        ),
        "neither": ({"scope_root": str(roots / "repo")}, "give plan_path"),
        "cursor negative": ({"document_text": PLAN, "cursor": [-1, 0]}, "expected [line, column]"),
        "cursor malformed": ({"document_text": PLAN, "cursor": "x"}, 'expected "LINE:COL"'),
    }
    for case, (args, needle) in cases.items():
        result = await client.call_tool("review_plan", args)
        assert result.is_error, case
        assert needle in text(result), (case, text(result))
    # the server is still fine after all that
    ok = await client.call_tool("review_plan", {"document_text": PLAN})
    assert not ok.is_error and ok.structured_content["cards"]


async def test_serve_mcp_answers_at_slash_mcp_behind_the_token(roots: Path):
    """A real `parallizer serve --mcp`, the SDK's client over streamable HTTP."""
    token = "t0ken-for-the-test"
    env = {"PARALLIZER_ALLOWED_ROOTS": str(roots), "PARALLIZER_API_TOKEN": token}
    async with serve("--mcp", factory=None, **env) as server:
        base = server.base
        async with httpx.AsyncClient() as http:
            r = await http.post(f"{base}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
            assert r.status_code == 401 and r.json()["detail"] == "missing bearer token"
        authed = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"})
        async with authed, Client(_transport(f"{base}/mcp", authed)) as client:
            assert [t.name for t in (await client.list_tools()).tools] == ["review_plan"]
            result = await client.call_tool(
                "review_plan",
                {"plan_path": str(roots / "plans/plan.md"), "scope_root": str(roots / "repo")},
            )
            assert not result.is_error, text(result)
            assert "Which `load_config`?" in text(result)
            bad = await client.call_tool("review_plan", {"document_text": PLAN, "scope_root": "/"})
            assert bad.is_error and "outside the allowed roots" in text(bad)


def test_without_the_setting_there_is_no_slash_mcp(roots: Path):
    from fastapi.testclient import TestClient

    settings = Settings(_env_file=None, allowed_roots=str(roots))  # type: ignore[call-arg]
    with TestClient(create_app(settings)) as http:
        assert http.post("/mcp", json={}).status_code == 404


def _transport(url: str, http: httpx2.AsyncClient):
    from mcp.client.streamable_http import streamable_http_client

    return streamable_http_client(url, http_client=http)
