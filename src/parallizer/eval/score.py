"""Scoring one response (the wire JSON of `POST /fulfill`) against a plan's expected answers.

Pure functions over card dicts, a tree and the plan: no network, no product code.
- a mistake is *named* when a question card's header or text mentions how the plan wrote it
  (a dotted `Foo.bar` also counts when both parts appear in the card), and *corrected* when that
  card also mentions the correction (or cites the real definition's `path:line`) — in a card
  listing several things, the list item naming the mistake must hold its correction; a mistake
  with no correction (a vague word, an invented name) counts as corrected when named;
- a *false missing* is a question sentence that mentions a name the plan introduces (or a
  standard-library name) and says it is missing / does not exist (text after "did you mean" is a
  suggestion, not a claim);
- *noise* is a question that names no planted mistake and no real open decision of the plan;
- a citation *resolves* when its path is a file of the tree (or the plan) and its line lies
  inside that file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cases import Mistake, Plan

MISSING = re.compile(
    r"nothing (?:in the \w+ )?(?:match|define)|no match|not found|(?:does|do|did)(?: not|n't) exist|"
    r"defines? no\b|(?:has|have) no (?:definition|such)|"
    r"no such|missing|not defined|undefined|(?:can ?not|can't|could not|couldn't) find|"
    r"unknown|no definition|not (?:in|part of) (?:the |this )?(?:repo|tree|code|project)|"
    r"isn't (?:defined|there)|is not (?:defined|there)|never defined",
    re.IGNORECASE,
)
_SUGGESTION = re.compile(r"did you mean|closest|perhaps|maybe you meant", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.?!])\s+|\n+")
_CITATION = re.compile(r"^(?P<path>.+?):(?P<line>\d+)(?:[-:]\d+)?$")


def mentions(text: str, name: str) -> bool:
    """`name` appears in `text` as a whole token (not inside a longer identifier)."""
    if not name:
        return False
    pattern = re.escape(name)
    if name[0].isalnum() or name[0] == "_":
        pattern = r"(?<![\w])" + pattern
    if name[-1].isalnum() or name[-1] == "_":
        pattern += r"(?![\w])"
    return re.search(pattern, text) is not None


def mentions_any(text: str, names: tuple[str, ...] | list[str]) -> bool:
    for name in names:
        if mentions(text, name):
            return True
        parts = [p for p in re.split(r"\.|::", name) if p]
        if len(parts) > 1 and "/" not in name and all(mentions(text, p) for p in parts):
            return True
    return False


def card_text(card: dict[str, Any]) -> str:
    return f"{card.get('header', '')}\n{card.get('text', '')}"


def citations(card: dict[str, Any]) -> list[str]:
    meta = card.get("metadata") or {}
    cites = meta.get("citations") or []
    return [c for c in cites if isinstance(c, str)]


def questions(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in cards if c.get("type") == "question"]


@dataclass
class MistakeResult:
    id: str
    kind: str
    named: bool = False
    corrected: bool = False
    cited: bool = False  # the expected `path:line` is among the card's citations
    card: int | None = None  # index of the question card that named it (in the response)


@dataclass
class CitationCheck:
    citation: str
    ok: bool
    reason: str = ""


@dataclass
class PlanScore:
    mistakes: list[MistakeResult] = field(default_factory=list)
    false_missing: list[str] = field(default_factory=list)  # keep-names claimed missing
    noise: list[str] = field(default_factory=list)  # headers of questions about nothing real
    open_hits: int = 0  # questions about a real open decision
    citations: list[CitationCheck] = field(default_factory=list)
    cards: int = 0
    questions: int = 0

    @property
    def unresolved(self) -> list[CitationCheck]:
        return [c for c in self.citations if not c.ok]


def _about(card: dict[str, Any], names: tuple[str, ...]) -> list[str]:
    """The parts of a card that speak about one of `names`: the whole card when its header
    names it or it is not a list; else each list item naming it (a card grouping several
    mistakes must give each its own correction)."""
    text = card_text(card)
    items = [ln for ln in text.splitlines() if ln.lstrip().startswith(("- ", "* "))]
    if len(items) < 2 or mentions_any(card.get("header", ""), names):
        return [text] if mentions_any(text, names) else []
    return [ln for ln in items if mentions_any(ln, names)]


def _match_mistake(m: Mistake, qs: list[tuple[int, dict[str, Any]]]) -> MistakeResult:
    res = MistakeResult(id=m.id, kind=m.kind)
    for i, card in qs:
        parts = _about(card, m.names)
        if not parts:
            continue
        whole = len(parts) == 1 and parts[0] == card_text(card)
        for part in parts:
            cited = m.cite is not None and (m.cite in part or (whole and m.cite in citations(card)))
            corrected = (not m.correct and m.cite is None) or cited or mentions_any(part, m.correct)
            if (corrected, cited) > (res.corrected, res.cited) or not res.named:
                res.named, res.corrected, res.cited, res.card = True, corrected, cited, i
    return res


def claims_missing(text: str, name: str) -> bool:
    for sentence in _SENTENCE.split(text):
        claim = _SUGGESTION.split(sentence, maxsplit=1)[0]
        if mentions(claim, name) and MISSING.search(claim):
            return True
    return False


def check_citation(citation: str, tree: Path, plan: Path) -> CitationCheck:
    if citation.startswith(("http://", "https://")):
        return CitationCheck(citation, True, "url")
    m = _CITATION.match(citation)
    path_text, line = (m.group("path"), int(m.group("line"))) if m else (citation, None)
    candidates = []
    if path_text in (plan.name, str(plan)) or Path(path_text) == plan:
        candidates.append(plan)
    else:
        p = Path(path_text)
        target = (p if p.is_absolute() else tree / p).resolve()
        if target.is_relative_to(tree.resolve()):
            candidates.append(target)
    for target in candidates:
        if not target.is_file():
            continue
        if line is None:
            return CitationCheck(citation, True)
        with target.open("rb") as f:
            count = sum(1 for _ in f)
        if 1 <= line <= count:
            return CitationCheck(citation, True)
        return CitationCheck(citation, False, f"line {line} outside 1..{count}")
    return CitationCheck(citation, False, "no such file in the tree")


def score_plan(plan: Plan, cards: list[dict[str, Any]], tree: Path) -> PlanScore:
    qs = [(i, c) for i, c in enumerate(cards) if c.get("type") == "question"]
    out = PlanScore(cards=len(cards), questions=len(qs))
    out.mistakes = [_match_mistake(m, qs) for m in plan.mistakes]
    named_cards = {r.card for r in out.mistakes if r.named}
    for i, card in qs:
        text = card_text(card)
        about_mistake = i in named_cards or any(mentions_any(text, m.names) for m in plan.mistakes)
        about_open = any(o.lower() in text.lower() for o in plan.open)
        out.open_hits += about_open
        if not about_mistake and not about_open:
            out.noise.append(card.get("header", ""))
    for keep in plan.keep:
        if any(claims_missing(card_text(c), keep.name) for _, c in qs):
            out.false_missing.append(keep.name)
    for card in cards:
        out.citations += [check_citation(c, tree, plan.path) for c in citations(card)]
    return out


def _cites_definition(m: Mistake, tree: Path) -> bool:
    """The cited line exists and names the correction (or, for arity and ambiguity, the name)."""
    assert m.cite is not None
    found = _CITATION.match(m.cite)
    path = (tree / found.group("path")).resolve() if found else None
    if found is None or path is None or not path.is_relative_to(tree.resolve()):
        return False
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return False
    line = int(found.group("line"))
    if not 1 <= line <= len(lines):
        return False
    names = [n for n in (*m.correct, *m.names) if not _CITATION.match(n) and "/" not in n]
    return any(re.split(r"\.|::", n)[-1] in lines[line - 1] for n in names)


def check_data(plans: list[Plan], trees: dict[str, Path]) -> list[str]:
    """Mistakes in the expected answers themselves: a name the plan does not contain, a cited
    definition that is not where the case file says."""
    problems = []
    for plan in plans:
        text = plan.path.read_text(encoding="utf-8")
        where = f"{plan.tree}/{plan.path.name}"
        for m in plan.mistakes:
            if not any(n in text for n in m.names):
                problems.append(f"{where}: {m.id}: none of {list(m.names)} is in the plan")
            if m.cite and not _cites_definition(m, trees[plan.tree]):
                problems.append(f"{where}: {m.id}: {m.cite} is not a line defining the correction")
        for k in plan.keep:
            if k.name not in text:
                problems.append(f"{where}: keep-name {k.name!r} is not in the plan")
        for o in plan.open:
            if o not in text:
                problems.append(f"{where}: open phrase {o!r} is not in the plan")
    return problems
