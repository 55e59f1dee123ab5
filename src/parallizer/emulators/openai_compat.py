"""An OpenAI-compatible `POST /v1/chat/completions` on loopback.

It honours `response_format` (`json_schema`: content is JSON valid for the schema, filled
from the prompt's vocabulary; `json_object`: a JSON object), or, with no response format, a
schema given in the prompt as a fenced JSON block; otherwise it answers a short line of prose.
`llm_format` makes it misbehave the ways real endpoints do, to exercise client fallbacks:

| llm_format | behaviour |
|---|---|
| `schema`  | honour `response_format` (default) |
| `reject`  | 400 for any `response_format`; without one, JSON in a fence |
| `fenced`  | ignore `response_format`; JSON in a Markdown fence after a preamble |
| `list`    | ignore it; a numbered list of the strings the JSON would hold |
| `prose`   | ignore it; prose with no structure at all (garbage for a parser) |
| `refuse`  | `message.refusal` set, `content` null |
| `empty`   | `content` is the empty string |
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from aiohttp import web

from .fake import SchemaFaker, Vocabulary, flatten_strings, stable
from .server import Emulator, error_body, request_text

_FENCED = re.compile(r"```(?:json)?\s*\n(.*?)```", re.DOTALL)


def _all_text(body: dict[str, Any]) -> str:
    parts = []
    for msg in body.get("messages") or []:
        if isinstance(msg, dict):
            c = msg.get("content")
            if isinstance(c, list):
                c = " ".join(p.get("text", "") for p in c if isinstance(p, dict))
            parts.append(str(c or ""))
    return "\n".join(parts)


def _schema_from_request(body: dict[str, Any]) -> dict[str, Any] | None:
    rf = body.get("response_format")
    if isinstance(rf, dict) and rf.get("type") == "json_schema":
        js = rf.get("json_schema") or {}
        schema = js.get("schema") if isinstance(js, dict) else None
        if isinstance(schema, dict):
            return schema
    for block in _FENCED.findall(_all_text(body)):  # a schema written into the prompt
        try:
            obj = json.loads(block)
        except ValueError:
            continue
        if isinstance(obj, dict) and ("properties" in obj or obj.get("type") == "object"):
            return obj
    return None


def _completion(model: str, content: str | None, refusal: str | None = None) -> dict[str, Any]:
    n = len((content or refusal or "").split())
    return {
        "id": f"chatcmpl-emu-{stable(content, refusal) % 10**10:010d}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": n, "total_tokens": 100 + n},
    }


def reply_for(body: dict[str, Any], mode: str, seed: int = 0) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) for a chat request under the given `llm_format`."""
    model = str(body.get("model") or "emulated-model")
    rf = body.get("response_format")
    if mode == "reject" and rf:
        return 400, error_body(
            "response_format is not supported by this model",
            "invalid_request_error",
            "unsupported_parameter",
        )
    if mode == "refuse":
        return 200, _completion(model, None, "I'm sorry, but I can't help with that request.")
    if mode == "empty":
        return 200, _completion(model, "")
    if mode == "prose":
        return 200, _completion(
            model, "This plan reads well overall. I would think carefully about it and revisit."
        )

    user = request_text(body)
    text = user or _all_text(body)
    quoted = re.search(r"<<<\n(.*?)\n>>>", text, re.DOTALL)  # the plan excerpt, if marked
    vocab = Vocabulary(text, seed, focus=quoted.group(1) if quoted else None)
    schema = _schema_from_request(body)
    if schema is None:
        if isinstance(rf, dict) and rf.get("type") == "json_object":
            value: Any = {"items": [vocab.phrase(2) for _ in range(3)]}
        else:
            return 200, _completion(model, " " + vocab.phrase(3))
    else:
        value = SchemaFaker(vocab).value(schema)
    as_json = json.dumps(value, ensure_ascii=False)

    if mode == "schema":
        content = as_json
    elif mode in ("fenced", "reject"):
        content = f"Sure! Here is the result:\n\n```json\n{json.dumps(value, indent=2)}\n```\n"
    elif mode == "list":
        items = flatten_strings(value)
        content = "Here are my suggestions:\n\n" + "\n".join(
            f"{i}. {s}" for i, s in enumerate(items, 1)
        )
    else:  # pragma: no cover - modes are validated by the config
        content = as_json
    return 200, _completion(model, content)


async def _chat(request: web.Request, body: dict[str, Any], emu: Emulator) -> web.Response:
    if not body.get("model") or not isinstance(body.get("messages"), list):
        return web.json_response(
            error_body("you must provide a model and messages", "invalid_request_error", None),
            status=400,
        )
    if emu.config.canned:
        content = emu.config.canned.pop(0)
        return web.json_response(_completion(str(body["model"]), content))
    status, payload = reply_for(body, emu.config.llm_format, emu.config.seed)
    return web.json_response(payload, status=status)


async def _models(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "object": "list",
            "data": [{"id": "emulated-model", "object": "model", "owned_by": "parallizer"}],
        }
    )


def routes(emu: Emulator) -> web.Application:
    app = web.Application()
    for prefix in ("/v1", ""):
        app.router.add_post(f"{prefix}/chat/completions", emu.endpoint(_chat))
        app.router.add_get(f"{prefix}/models", _models)
    return app
