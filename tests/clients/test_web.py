"""The page at /app in real Chromium (Debian's `chromium`, driven by Playwright; never a
downloaded browser) against a real `parallizer serve` with the real fulfillers and rg:
open a plan from the URL, type, see cards stream in, follow a citation to the cited file,
accept a completion with Tab, save with Ctrl+S and find the file on disk. No console error,
and no request leaves the service."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest

from ..conftest import write
from ..service.kit import serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]  # fmt: skip

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (.ci/run installs it)"
)

PLAN = "# Plan: uploads\n\nUploads are retried with `RetryPolicy`.\n"


async def test_the_page_end_to_end(tmp_path: Path, code_tree: Path):
    from playwright.async_api import async_playwright

    plan = write(code_tree, "docs/plan.md", PLAN)
    # web search configured against a loopback port where nothing listens: every web query
    # fails (refused), the code searches do not, and the timing picture shows both
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{s.getsockname()[1]}"
    env = {
        "PARALLIZER_ALLOWED_ROOTS": str(tmp_path),
        "PERPLEXITY_API_KEY": "pplx-test-key",
        "PARALLIZER_PERPLEXITY_URL": nowhere,
    }
    async with serve(factory=None, **env) as server:
        async with httpx.AsyncClient(base_url=server.base) as http:
            assert (await http.get("/")).json()["service"] == "Parallizer Backend"
            page_resp = await http.get("/app")
            assert page_resp.status_code == 200
            assert "connect-src 'self'" in page_resp.headers["content-security-policy"]
            assert (await http.get("/app/static/nope.js")).status_code == 404

        origin = urlsplit(server.base).netloc
        hosts: list[str] = []
        problems: list[str] = []
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                context = await browser.new_context(viewport={"width": 1500, "height": 950})

                async def only_the_service(route) -> None:
                    hosts.append(urlsplit(route.request.url).netloc)
                    if urlsplit(route.request.url).netloc == origin:
                        await route.continue_()
                    else:
                        await route.abort()

                await context.route("**/*", only_the_service)
                page = await context.new_page()
                page.on("console", lambda m: m.type == "error" and problems.append(m.text))
                page.on("pageerror", lambda e: problems.append(str(e)))

                # open the plan from the URL
                await page.goto(
                    f"{server.base}/app?scope={quote(str(code_tree))}&plan=docs/plan.md"
                )
                content = page.locator("#editor .cm-content")
                await content.get_by_text("Uploads are retried").wait_for()
                assert await page.locator("#plan-name").text_content() == "docs/plan.md"
                await page.locator("#tree button.file", has_text="retry.py").wait_for()
                await page.keyboard.press("Control+p")
                await page.keyboard.type("legacy/con")
                files = await page.locator("#tree button.file").all_text_contents()
                assert files == ["src/legacy/config.py"]
                await page.keyboard.press("Enter")  # the picker opens it beside the plan
                await page.locator("#viewer-title", has_text="src/legacy/config.py:1").wait_for()
                await page.keyboard.press("Escape")  # closes it, clears the filter
                await page.locator("#viewer").wait_for(state="hidden")
                card = page.locator(".group[data-type=context] .card", has_text="RetryPolicy")
                await card.first.wait_for()

                # type: a new name brings a question citing both of its definitions
                await content.click()
                await page.keyboard.press("Control+End")
                await page.keyboard.type("Settings come from `load_config`.\n")
                question = page.locator(".card[data-type=question]", has_text="load_config")
                await question.first.wait_for()
                cite = question.first.locator(
                    'footer button.cite[data-cite="src/legacy/config.py:2"]'
                )
                await cite.wait_for()
                assert await question.first.get_attribute("class") == "card fresh"
                # the timing picture of that request: a bar per fulfiller and per query
                bars = page.locator("#timing rect.bar")
                assert await bars.count() >= 6
                failed = page.locator("#timing rect.bar.fail")
                assert await failed.count() >= 1  # the web searches, in red
                tips = await page.locator("#timing rect.bar.fail title").all_text_contents()
                assert all("perplexity" in t or "web_context" in t for t in tips), tips
                ok_tips = await page.locator(
                    "#timing rect.bar:not(.fail) title"
                ).all_text_contents()
                assert any(t.startswith("ripgrep load_config: ok") for t in ok_tips), ok_tips

                # follow the citation: the cited file opens beside the plan, at that line
                await cite.click()
                await page.locator("#viewer:not([hidden])").wait_for()
                title = await page.locator("#viewer-title").text_content()
                assert title == "src/legacy/config.py:2"
                cited = page.locator("#viewer-body .cm-cited")
                assert "def load_config(path, strict=False):" in await cited.text_content()
                await page.keyboard.press("Escape")
                await page.locator("#viewer").wait_for(state="hidden")

                # a completion as ghost text, accepted with Tab
                await content.click()
                await page.keyboard.press("Control+End")
                await page.keyboard.type("Wrap the client in RetryPo")
                ghost = page.locator(".cm-ghost")
                await ghost.wait_for()
                assert await ghost.text_content() == "licy"
                await page.keyboard.press("Tab")
                await content.get_by_text("Wrap the client in RetryPolicy").wait_for()
                assert await ghost.count() == 0

                # Ctrl+S saves through the files API; the file on disk is what the editor shows
                await page.keyboard.press("Control+s")
                await page.locator("#status", has_text="saved docs/plan.md").wait_for()
                saved = plan.read_text()
                assert "Settings come from `load_config`." in saved
                assert saved.endswith("Wrap the client in RetryPolicy")
                assert await page.locator("#dirty").is_hidden()

                # dark and light: the toggle switches, by keyboard
                before = await page.evaluate("document.documentElement.dataset.theme")
                await page.keyboard.press("Alt+t")
                after = await page.evaluate("document.documentElement.dataset.theme")
                assert {before, after} == {"dark", "light"}
            finally:
                await browser.close()
    assert problems == []
    assert hosts and set(hosts) == {origin}
