"""The page at /app in real Chromium (Debian's `chromium`, driven by Playwright; never a
downloaded browser) against a real `parallizer serve` with the real fulfillers and rg:
open a plan from the URL, type, see cards stream in, follow a citation to the cited file,
accept a completion with Tab, save with Ctrl+S and find the file on disk. No console error,
and no request leaves the service. Then the findings, underlined on their words (an emoji
before one), the question on hover, the quick fixes; and the page behind an API token."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest
import pytest_asyncio

from ..conftest import eventually, write
from ..service.kit import serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]  # fmt: skip

pytestmark = [
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian's chromium is not installed (.ci/run installs it)",
    ),
    # one browser for the module (below): its tests run in the loop it was started in
    pytest.mark.asyncio(loop_scope="module"),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser():
    """One Chromium for the module; each test works in a browser context of its own (a fresh
    profile: its own storage, routes and clock), closed when the test ends."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        await browser.close()


PLAN = "# Plan: uploads\n\nUploads are retried with `RetryPolicy`.\n"


async def test_the_page_end_to_end(tmp_path: Path, code_tree: Path, browser):
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
        context = await browser.new_context(viewport={"width": 1500, "height": 950})
        try:

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
            await page.goto(f"{server.base}/app?scope={quote(str(code_tree))}&plan=docs/plan.md")
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
            cite = question.first.locator('footer button.cite[data-cite="src/legacy/config.py:2"]')
            await cite.wait_for()
            assert await question.first.get_attribute("class") == "card fresh"
            # the timing picture of that request: a bar per fulfiller and per query
            bars = page.locator("#timing rect.bar")
            assert await bars.count() >= 6
            failed = page.locator("#timing rect.bar.fail")
            assert await failed.count() >= 1  # the web searches, in red
            tips = await page.locator("#timing rect.bar.fail title").all_text_contents()
            assert all("perplexity" in t or "web_context" in t for t in tips), tips
            ok_tips = await page.locator("#timing rect.bar:not(.fail) title").all_text_contents()
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
            await context.close()
    assert problems == []
    assert hosts and set(hosts) == {origin}


# --- findings where the words are ------------------------------------------------------------

# an emoji (two UTF-16 code units) before a misspelled name on line 3, the name again on line 4,
# an ambiguous name (two definitions of load_config in the code tree)
FINDINGS_PLAN = (
    "# Plan: uploads 🚀\n"
    "\n"
    "🎉 Uploads are retried with `RetryPolicies`.\n"
    "The `RetryPolicies` backoff doubles; settings come from `load_config`.\n"
)


def _watch(page, problems: list[str]) -> None:
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: problems.append(f"a JavaScript {d.type}: {d.message}"))


async def _above(page, selector: str, attr: str, n: int) -> None:
    """Until the number in `attr` of `selector` is over `n` (polled: the page's CSP forbids
    the eval `wait_for_function` needs)."""

    async def above() -> bool:
        value = await page.locator(selector).get_attribute(attr)
        return value is not None and int(value) > n

    await eventually(above, within=30, what=f"{selector} {attr} over {n}")


async def _reviewed(page) -> int:
    """The number of review answers the page has applied, once none is in flight."""
    await page.locator('#findings[data-reviewing="0"][data-review]').wait_for()
    return int(await page.locator("#findings").get_attribute("data-review"))


async def test_findings_are_underlined_on_their_words_with_the_question_and_quick_fixes(
    tmp_path: Path, code_tree: Path, browser
):
    write(code_tree, "docs/plan.md", FINDINGS_PLAN)
    env = {"PARALLIZER_ALLOWED_ROOTS": str(tmp_path)}
    problems: list[str] = []
    async with serve(factory="tests.clients.page_kit:app", **env) as server:
        page = await browser.new_page(viewport={"width": 1500, "height": 900})
        try:
            _watch(page, problems)
            await page.goto(f"{server.base}/app?scope={quote(str(code_tree))}&plan=docs/plan.md")
            content = page.locator("#editor .cm-content")
            errors = content.locator(".cm-lintRange-error")
            warnings = content.locator(".cm-lintRange-warning")
            infos = content.locator(".cm-lintRange-info")
            # every range of the misspelled name, exactly on it (after the emoji too)
            await errors.nth(1).wait_for()
            await warnings.first.wait_for()
            await infos.first.wait_for()  # the question card's own finding
            assert await errors.all_text_contents() == ["RetryPolicies", "RetryPolicies"]
            assert await warnings.all_text_contents() == ["load_config"]
            assert await infos.all_text_contents() == ["uploads"]
            lines = await content.locator(".cm-line").all()
            assert await lines[2].locator(".cm-lintRange-error").count() == 1
            assert await lines[3].locator(".cm-lintRange-error").count() == 1
            before = await _reviewed(page)

            # hovering shows the question, and the quick fixes
            await errors.first.hover()
            tip = page.locator(".cm-tooltip-lint")
            await tip.wait_for()
            text = await tip.locator(".cm-diagnosticText").first.text_content()
            assert text.startswith("The code defines no RetryPolicies: did you mean RetryPolicy")
            assert await tip.locator("code", has_text="RetryPolicies").count() == 1
            await tip.locator('button.cite[data-cite="src/app/retry.py:5"]').wait_for()
            actions = await tip.locator(".cm-diagnosticAction").all_text_contents()
            assert actions == ["Replace with RetryPolicy", "Mark as new"]

            # the quick fix replaces the word; the next review leaves only the other one
            await tip.locator(".cm-diagnosticAction", has_text="Replace with").click()
            await content.get_by_text("🎉 Uploads are retried with `RetryPolicy`.").wait_for()
            await _above(page, "#findings", "data-review", before)
            after = await _reviewed(page)
            assert await errors.all_text_contents() == ["RetryPolicies"]
            assert await lines[2].locator(".cm-lintRange").count() == 0
            assert await lines[3].locator(".cm-lintRange-error").count() == 1
            assert await warnings.all_text_contents() == ["load_config"]

            # "mark as new" writes (new) after the name: the next review has nothing on it
            await page.mouse.move(0, 0)
            await tip.wait_for(state="detached")
            await errors.first.hover()
            await tip.locator(".cm-diagnosticAction", has_text="Mark as new").click()
            await content.get_by_text("The `RetryPolicies` (new) backoff doubles").wait_for()
            await _above(page, "#findings", "data-review", after)
            await _reviewed(page)
            await errors.first.wait_for(state="detached")
            assert await warnings.all_text_contents() == ["load_config"]

            # the improved card (same metadata.id, a new header) took the old one's place
            revised = page.locator('.card[data-type="question"]', has_text="Revision")
            await _above(page, "#status", "data-done", 2)
            assert await revised.count() == 1
            header = await revised.locator("h3").text_content()
            assert int(header.split()[-1]) >= 3
        finally:
            await page.context.close()
    assert problems == []


# --- with PARALLIZER_API_TOKEN ---------------------------------------------------------------

TOKEN = "page-token-7f3a9c"
NO_401_NOISE = "the server responded with a status of 401"  # Chromium's line for each 401


async def test_with_a_token_the_page_loads_asks_for_it_once_and_then_works(
    tmp_path: Path, code_tree: Path, browser
):
    """The page and its assets load without the token; the API's 401 brings up the page's own
    form (no `prompt()`); a wrong token is asked for again, each waiting request sent once
    more and no more (no loop); the right one is kept for the tab's session."""

    write(code_tree, "docs/plan.md", FINDINGS_PLAN)
    env = {"PARALLIZER_ALLOWED_ROOTS": str(tmp_path), "PARALLIZER_API_TOKEN": TOKEN}
    async with serve(factory=None, **env) as server:
        async with httpx.AsyncClient(base_url=server.base) as http:
            assert (await http.get("/app")).status_code == 200
            assert (await http.get("/app/static/app.js")).status_code == 200
            assert (await http.get("/health")).status_code == 200
            assert (await http.get(f"/files/tree?scope_root={code_tree}")).status_code == 401

        api: list[tuple[str, str, str | None, int]] = []  # method, path, authorization, status
        problems: list[str] = []

        def seen(resp) -> None:
            path = urlsplit(resp.url).path
            if path != "/app" and not path.startswith("/app/static/"):
                auth = resp.request.headers.get("authorization")
                api.append((resp.request.method, path, auth, resp.status))

        page = await browser.new_page(viewport={"width": 1400, "height": 850})
        try:
            _watch(page, problems)
            page.on("response", seen)
            await page.goto(f"{server.base}/app?scope={quote(str(code_tree))}&plan=docs/plan.md")
            dialog = page.locator("#token-dialog[open]")
            await dialog.wait_for()
            assert "needs its API token" in await page.locator("#token-why").text_content()
            # the page asks for the tree and the plan at once; the form opens at the first 401,
            # and on a busy machine the other may still be on its way
            for _ in range(100):
                asked = list(api)
                if {p for _, p, _, _ in asked} >= {"/files/tree", "/files/content"}:
                    break
                await asyncio.sleep(0.05)
            assert asked and all(a[2] is None and a[3] == 401 for a in asked)
            assert len({(m, p) for m, p, _, _ in asked}) == len(asked)  # each sent once

            # a wrong token: refused, asked again; each waiting request was sent once more
            await page.locator("#token-input").fill("not-the-token")
            await page.keyboard.press("Enter")
            await dialog.locator("#token-why", has_text="refused").wait_for()
            for _ in range(100):  # the refusal shows at the first 401; the others may trail
                wrong = [a for a in api if a[2] == "Bearer not-the-token"]
                if len(wrong) >= len(asked):
                    break
                await asyncio.sleep(0.05)
            assert wrong and all(status == 401 for *_, status in wrong)
            assert sorted((m, p) for m, p, _, _ in wrong) == sorted((m, p) for m, p, _, _ in asked)
            assert await page.evaluate("sessionStorage.getItem('parallizer-token')") is None

            # the right one: the plan opens, reviews and cards come, the token is kept
            await page.locator("#token-input").fill(TOKEN)
            await page.locator("#token-submit").click()
            await dialog.wait_for(state="detached")
            errors = page.locator("#editor .cm-content .cm-lintRange-error")
            await errors.nth(1).wait_for()
            assert await errors.all_text_contents() == ["RetryPolicies", "RetryPolicies"]
            await page.locator(".card[data-type=question]").first.wait_for()
            await _above(page, "#status", "data-done", 0)
            # the underlines may come from the question cards before the review's answer
            await _above(page, "#findings", "data-review", 0)
            assert await page.locator("#plan-name").text_content() == "docs/plan.md"
            stored = await page.evaluate("sessionStorage.getItem('parallizer-token')")
            assert stored == TOKEN
            later = api[len(asked) + len(wrong) :]
            assert {p for _, p, _, _ in later} >= {
                "/files/tree", "/files/content", "/review", "/fulfill/stream"
            }  # fmt: skip
            assert all(a[2] == f"Bearer {TOKEN}" and a[3] == 200 for a in later), later
            # no request went on with the wrong token after it was refused (no loop)
            assert [a for a in api if a[2] == "Bearer not-the-token"] == wrong

            # a reload in the same tab: the token is still there, nothing is asked
            n = len(api)
            await page.reload()
            await errors.nth(1).wait_for()
            assert await page.locator("#token-dialog").get_attribute("open") is None
            assert all(a[2] == f"Bearer {TOKEN}" and a[3] == 200 for a in api[n:])
        finally:
            await page.context.close()
    assert [p for p in problems if NO_401_NOISE not in p] == []


async def test_an_answer_that_comes_after_an_edit_lands_on_its_words(
    tmp_path: Path, code_tree: Path, browser
):
    """The writer types before a misspelled name while its review is on the way: the answer
    (about the document as it was sent) is carried through the edit onto the same words. The
    review is held at the network until the edit is made, and the page's clock is paused so
    the edit's own (debounced) review cannot come first."""
    import datetime

    write(code_tree, "docs/plan.md", FINDINGS_PLAN)
    held: list = []
    release = asyncio.Event()

    async def hold(route) -> None:
        held.append(route)
        await release.wait()
        with contextlib.suppress(Exception):  # one the page gave up on meanwhile
            await route.continue_()

    problems: list[str] = []
    async with serve(factory=None, PARALLIZER_ALLOWED_ROOTS=str(tmp_path)) as server:
        page = await browser.new_page(viewport={"width": 1400, "height": 850})
        try:
            _watch(page, problems)
            await page.clock.install()
            await page.route("**/review", hold)
            await page.route("**/fulfill/stream", hold)
            await page.goto(f"{server.base}/app?scope={quote(str(code_tree))}&plan=docs/plan.md")
            content = page.locator("#editor .cm-content")
            await content.get_by_text("Uploads are retried").wait_for()
            await eventually(lambda: len(held) == 2, what="the review and the stream sent")
            # from now on no timer fires: the edit's debounced review waits
            await page.clock.pause_at(datetime.datetime.now() + datetime.timedelta(hours=1))
            await content.locator(".cm-line").nth(2).click()
            await page.keyboard.press("Home")
            await page.keyboard.type("Now 👉 ")
            await content.get_by_text("Now 👉 🎉 Uploads are retried with").wait_for()
            assert await content.locator(".cm-lintRange").count() == 0
            release.set()  # the answers about the document before the edit
            await page.locator('#findings[data-reviewing="0"][data-review="1"]').wait_for()
            errors = content.locator(".cm-lintRange-error")
            await errors.nth(1).wait_for()
            assert await errors.all_text_contents() == ["RetryPolicies", "RetryPolicies"]
            lines = await content.locator(".cm-line").all()
            assert await lines[2].locator(".cm-lintRange-error").count() == 1
            assert len(held) == 2  # the edit's own review was not sent yet
            await page.clock.resume()
            await eventually(lambda: len(held) > 2, what="the edit's review sent")
            await _above(page, "#findings", "data-review", 1)
            assert await errors.all_text_contents() == ["RetryPolicies", "RetryPolicies"]
        finally:
            await page.context.close()
    assert problems == []
