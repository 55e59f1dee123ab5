"""`parallizer check --hook claude`: Claude Code's PreToolUse hook on `ExitPlanMode`.

Claude Code runs the hook with one JSON object on stdin (`session_id`, `transcript_path`,
`cwd`, `permission_mode`, `hook_event_name: "PreToolUse"`, `tool_name`, `tool_input`,
`tool_use_id`); for `ExitPlanMode`, `tool_input.plan` is the plan it asks the user to
approve. The answer goes to stdout, exit code 0:

* findings at or above `--fail-on`: `{"hookSpecificOutput": {"hookEventName": "PreToolUse",
  "permissionDecision": "deny", "permissionDecisionReason": "…"}}`; Claude Code shows the
  reason (the findings, one per line) to Claude, which revises the plan;
* otherwise nothing blocks: the hook steps aside (the user's own approval prompt still
  comes); findings below the threshold ride along as `additionalContext` for Claude.

Anything but a PreToolUse call of ExitPlanMode with a plan is not ours: the hook steps aside.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ...models import Finding
from .formats import human_position

TOOL = "ExitPlanMode"
EVENT = "PreToolUse"
MAX_REASON_FINDINGS = 20


@dataclass(frozen=True)
class HookCall:
    plan: str
    cwd: str | None


def parse(raw: str) -> HookCall | None:
    """The plan to check, or None when the call is not a PreToolUse of ExitPlanMode with a
    plan. Raises ValueError when stdin is not a JSON object."""
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("the hook input is not a JSON object")
    if data.get("hook_event_name", EVENT) != EVENT or data.get("tool_name") != TOOL:
        return None
    tool_input = data.get("tool_input")
    plan = tool_input.get("plan") if isinstance(tool_input, dict) else None
    if not isinstance(plan, str) or not plan.strip():
        return None
    cwd = data.get("cwd")
    return HookCall(plan=plan, cwd=cwd if isinstance(cwd, str) and cwd else None)


def _lines(text: str, findings: list[Finding]) -> list[str]:
    out = []
    for f in findings[:MAX_REASON_FINDINGS]:
        line, col = human_position(text, *f.range[0])
        fix = f" (write `{f.fix}`)" if f.fix else ""
        out.append(f"- plan line {line}:{col} [{f.severity} {f.kind}] `{f.name}`: {f.message}{fix}")
    if len(findings) > MAX_REASON_FINDINGS:
        out.append(f"- … and {len(findings) - MAX_REASON_FINDINGS} more")
    return out


def answer(text: str, blocking: list[Finding], other: list[Finding]) -> dict[str, Any] | None:
    """Claude Code's hook output: deny with the findings, or None (step aside)."""
    if blocking:
        reason = "\n".join(
            [
                f"Parallizer checked the plan against the code: {len(blocking)} "
                f"problem{'s' if len(blocking) != 1 else ''} to fix before it is approved.",
                *_lines(text, blocking),
                "Revise the plan (use the names and paths the code has, or say a name is new), "
                "then present it again.",
            ]
        )
        return {
            "hookSpecificOutput": {
                "hookEventName": EVENT,
                "permissionDecision": "deny",
                "permissionDecisionReason": reason,
            }
        }
    if other:
        note = "\n".join(["Parallizer notes on the plan (not blocking):", *_lines(text, other)])
        return {"hookSpecificOutput": {"hookEventName": EVENT, "additionalContext": note}}
    return None
