"""Perplexity's `POST /chat/completions` on loopback: an answer with `[n]` markers, its
`citations` (URLs) and `search_results` (title, url, date, snippet).

The cited URLs point back at this emulator (`GET /source/{slug}`), which serves a small page
for each, so the Markdown links in cards made from it work in a demo.
"""

from __future__ import annotations

import html
import time
from typing import Any

from aiohttp import web

from .fake import Vocabulary, slug, stable
from .server import Emulator, error_body, request_text

DOMAINS = ("docs", "engineering-blog", "handbook", "rfc-notes")


def answer_for(query: str, root: str, seed: int = 0) -> dict[str, Any]:
    """A deterministic Perplexity-shaped completion for `query` (served from `root`)."""
    v = Vocabulary(query, seed)
    topic = query.strip().rstrip("?").strip() or "this topic"
    kw = v.keywords
    a, b, c = kw[0], kw[min(1, len(kw) - 1)], kw[min(2, len(kw) - 1)]
    sentences = [
        f"For {topic}, the usual starting point is to make {a} explicit and observable [1].",
        f"Practitioners recommend bounding {b} and testing its failure paths early [2].",
        f"A third consideration is how {c} behaves under load, which is worth measuring before rollout [1][3].",
    ]
    n_src = 3
    base = slug(topic)
    citations, results = [], []
    for i in range(n_src):
        domain = DOMAINS[(stable(seed, topic, i)) % len(DOMAINS)]
        url = f"{root}/source/{base}-{i + 1}?site={domain}"
        citations.append(url)
        results.append(
            {
                "title": f"{topic.title()} — {domain.replace('-', ' ')} ({i + 1})",
                "url": url,
                "date": "2025-06-0" + str(i + 1),
                "last_updated": "2025-07-01",
                "snippet": sentences[i].split(" [")[0] + ".",
            }
        )
    content = " ".join(sentences)
    return {
        "id": f"emu-{stable(seed, query) % 10**12:012d}",
        "model": "sonar",
        "created": int(time.time()),
        "object": "chat.completion",
        "usage": {
            "prompt_tokens": len(query.split()),
            "completion_tokens": len(content.split()),
            "total_tokens": len(query.split()) + len(content.split()),
            "search_context_size": "low",
        },
        "citations": citations,
        "search_results": results,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content},
            }
        ],
    }


async def _chat(request: web.Request, body: dict[str, Any], emu: Emulator) -> web.Response:
    if not body.get("model") or not isinstance(body.get("messages"), list):
        return web.json_response(
            error_body("model and messages are required", "invalid_request_error", 400),
            status=400,
        )
    query = request_text(body)
    if not query.strip():
        return web.json_response(
            error_body("the last user message is empty", "invalid_request_error", 400),
            status=400,
        )
    return web.json_response(answer_for(query, emu.root, emu.config.seed))


async def _source(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    site = request.query.get("site", "docs")
    title = html.escape(name.replace("-", " ").title())
    page = (
        f"<!doctype html><html><head><title>{title}</title></head><body>"
        f"<h1>{title}</h1><p>An emulated {html.escape(site)} page, served by "
        "<code>parallizer emulate perplexity</code>.</p></body></html>"
    )
    return web.Response(text=page, content_type="text/html")


def routes(emu: Emulator) -> web.Application:
    app = web.Application()
    app.router.add_post("/chat/completions", emu.endpoint(_chat))
    app.router.add_get("/source/{name}", _source)
    return app
