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
  inside that file;
- a `dep-version` mistake is corrected when the card names the installed version; a
  `not-a-dependency` one when the card says the project does not have that package.

Documents (the docs and history parts) are scored by their *claims*: one per finding a
question card carries (`metadata.findings` when the product sends it; until then one per item
of a card that lists several, else one per card), each with its kind and the name it is about.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..text import sentences
from .cases import Mistake, Plan, Removal, Suite

MISSING = re.compile(
    r"nothing (?:in the \w+ )?(?:match|define)|no match|not found|(?:does|do|did)(?: not|n't) exist|"
    r"defines? no\b|(?:has|have) no (?:definition|such)|"
    r"no such|missing|not defined|undefined|(?:can ?not|can't|could not|couldn't) find|"
    r"unknown|no definition|not (?:in|part of) (?:the |this )?(?:repo|tree|code|project)|"
    r"isn't (?:defined|there)|is not (?:defined|there)|never defined",
    re.IGNORECASE,
)
NOT_A_DEPENDENCY = re.compile(
    r"not (?:a |one of the )?(?:project'?s? )?dependenc|not installed|isn't installed|"
    r"(?:does not|doesn't) (?:have|depend on|install)|no such (?:package|module|crate)|"
    r"not (?:in|listed in) (?:the )?(?:project'?s? )?(?:dependencies|requirements|package\.json|"
    r"go\.mod|Cargo\.toml|pyproject)",
    re.IGNORECASE,
)
_SUGGESTION = re.compile(r"did you mean|closest|perhaps|maybe you meant", re.IGNORECASE)
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
            if m.kind == "not-a-dependency":
                corrected = bool(NOT_A_DEPENDENCY.search(part)) or mentions_any(part, m.correct)
            else:
                corrected = (
                    (not m.correct and m.cite is None) or cited or mentions_any(part, m.correct)
                )
            if (corrected, cited) > (res.corrected, res.cited) or not res.named:
                res.named, res.corrected, res.cited, res.card = True, corrected, cited, i
    return res


def claims_missing(text: str, name: str) -> bool:
    for sentence in (s for line in text.splitlines() for s in sentences(line)):
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


def check_data(suite: Suite, paths: dict[str, Path]) -> list[str]:
    """Mistakes in the expected answers themselves: a name the plan does not contain, a cited
    definition that is not where the case file says, a `dep-version` whose version is not the
    installed one, a removal the changelog line does not record, a known doc bug that is not
    in its doc. `paths`: the fetched trees and installed projects."""
    problems = []
    for plan in suite.plans:
        text = plan.path.read_text(encoding="utf-8")
        where = f"{plan.tree}/{plan.path.name}"
        project = suite.projects.get(plan.tree)
        for m in plan.mistakes:
            if not any(n in text for n in m.names):
                problems.append(f"{where}: {m.id}: none of {list(m.names)} is in the plan")
            if m.cite and not _cites_definition(m, paths[plan.tree]):
                problems.append(f"{where}: {m.id}: {m.cite} is not a line defining the correction")
            if m.kind.startswith("dep-") or m.kind == "not-a-dependency":
                if project is None:
                    problems.append(f"{where}: {m.id}: a {m.kind} mistake needs a project")
            if m.kind == "dep-version":
                pins = " ".join(project.packages) if project else ""
                if not any(c in pins for c in m.correct):
                    problems.append(
                        f"{where}: {m.id}: `correct` must name the installed version (a pin)"
                    )
        for k in plan.keep:
            if k.name not in text:
                problems.append(f"{where}: keep-name {k.name!r} is not in the plan")
            if k.why == "dependency" and project is None:
                problems.append(f"{where}: keep-name {k.name!r}: why = dependency needs a project")
        for o in plan.open:
            if o not in text:
                problems.append(f"{where}: open phrase {o!r} is not in the plan")
    for h in suite.history:
        log = paths[h.new] / h.changelog
        try:
            lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            problems.append(f"history {h.name}: no {h.changelog} in {h.new}")
            continue
        for r in h.removals:
            line = lines[r.line - 1] if 1 <= r.line <= len(lines) else ""
            last = {re.split(r"\.|::", n)[-1] for n in r.names}
            if not any(n in line for n in last):
                problems.append(
                    f"history {h.name}: {h.changelog}:{r.line} does not record {r.names[0]}"
                )
    for b in suite.known_bugs:
        doc = paths[b.tree] / b.doc if b.tree in paths else None
        if doc is None:
            continue
        if not doc.is_file():
            problems.append(f"known bug {b.tree}/{b.doc}: no such document")
        elif not mentions(doc.read_text(encoding="utf-8", errors="replace"), b.name):
            problems.append(f"known bug {b.tree}/{b.doc}: {b.name!r} is not in it")
    return problems


# --- claims about a document (the docs and history parts) -----------------------------------

CLAIM_KINDS = (
    "wrong-name", "wrong-owner", "arity", "missing-file", "missing", "ambiguous", "open-spot",
    "other",
)  # fmt: skip
_CODE = re.compile(r"`([^`\n]+)`")
_OPEN_HEADERS = re.compile(
    r"^(?:Still to be decided|Open question in the plan|Which of the two\?|Both, or only one\?|"
    r"In or out\?|What does “etc\.” cover\?|How .+, exactly\?)"
)
_GROUPS = {
    "names the code does not define": "wrong-name",
    "methods on the wrong class": "wrong-owner",
    "calls with the wrong number of arguments": "arity",
    "files that do not exist": "missing-file",
    "names nothing defines": "missing",
    "names defined in several places": "ambiguous",
    "more things to check": "",  # mixed: each item says its kind
}
_GROUP_HEADER = re.compile(r"^\d+ (" + "|".join(re.escape(g) for g in _GROUPS) + r")")
_SINGLE = (
    (re.compile(r"^`[^`]+`: did you mean"), "wrong-name"),
    (re.compile(r"^`[^`]+` is not on `"), "wrong-owner"),
    (re.compile(r"^`[^`]+` takes .*, the plan passes"), "arity"),
    (re.compile(r"^No file `"), "missing-file"),
    (re.compile(r"^Nothing defines `"), "missing"),
    (re.compile(r"^Which `"), "ambiguous"),
)
_ITEM = (
    (re.compile(r"did you mean `[^`]+` \(`"), "wrong-name"),
    (re.compile(r"\): `[^`]+` is on `"), "wrong-owner"),
    (re.compile(r" given, but "), "arity"),
    (re.compile(r"not defined anywhere"), "missing"),
    (re.compile(r"^`[^`]+` \(`[^`]+`\)(?:: did you mean `[^`]+`\?)?$"), "missing-file"),
    (re.compile(r"^`[^`]+` \(`[^`]+`\): `[^`]+:\d+`(?:, `[^`]+:\d+`)*$"), "ambiguous"),
)


@dataclass(frozen=True, slots=True)
class Claim:
    """One thing the product asserts or asks about a document."""

    kind: str  # one of CLAIM_KINDS, or the kind a finding names
    name: str  # the name or path it is about ("" for an open spot without one)
    text: str  # its wording: the card's header, or its line in a card listing several
    card: int  # the question card's index in the response
    body: str = ""  # the rest of what the card says about it (a single card's text)

    @property
    def said(self) -> str:
        """All the card says about this claim (what a correction is looked for in)."""
        return f"{self.text}\n{self.body}"


def _first_code(text: str) -> str:
    m = _CODE.search(text)
    return m.group(1) if m else ""


def _single_kind(header: str) -> str:
    for rx, kind in _SINGLE:
        if rx.search(header):
            return kind
    return "open-spot" if _OPEN_HEADERS.search(header) else "other"


def _item_kind(item: str) -> str:
    for rx, kind in _ITEM:
        if rx.search(item):
            return kind
    return "open-spot" if _OPEN_HEADERS.search(item) else "other"


def card_claims(card: dict[str, Any], index: int) -> list[Claim]:
    """The claims of one card: none for a card that is not a question; one per finding when
    the card lists its findings (`metadata.findings`); else one per item of a card listing
    several (the fulfiller's grouped cards), else one."""
    if card.get("type") != "question":
        return []
    header = str(card.get("header", ""))
    findings = (card.get("metadata") or {}).get("findings")
    if isinstance(findings, list):
        return [
            Claim(
                kind=str(f.get("kind") or "other"),
                name=str(f.get("name") or ""),
                text=str(f.get("fix") or header),
                card=index,
                body=f"{header}\n{card.get('text', '')}",
            )
            for f in findings
            if isinstance(f, dict)
        ]
    group = _GROUP_HEADER.match(header)
    items = [ln.strip()[2:] for ln in str(card.get("text", "")).splitlines() if ln.startswith("- ")]
    if group and len(items) >= 2:
        out = []
        for it in items:
            kind = _GROUPS[group.group(1)] or _item_kind(it)
            name = it.split(" (`", 1)[0] if kind == "open-spot" else _first_code(it)
            out.append(Claim(kind, name, it, index))
        return out
    kind = _single_kind(header)
    name = header if kind == "open-spot" else _first_code(header)
    if kind == "wrong-owner":
        codes = _CODE.findall(header)
        name = f"{codes[1]}.{codes[0]}" if len(codes) >= 2 else name
    return [Claim(kind, name, header, index, str(card.get("text", "")))]


def claims_in_cards(cards: list[dict[str, Any]]) -> list[Claim]:
    return [c for i, card in enumerate(cards) for c in card_claims(card, i)]


def about(claim: Claim, names: tuple[str, ...] | list[str]) -> bool:
    """The claim is about one of `names` (its name, or its wording mentions one)."""
    return claim.name in names or mentions_any(claim.said, names)


def doc_mentions(text: str, names: tuple[str, ...]) -> bool:
    """The document uses one of `names` exactly as written (a dotted name as a whole)."""
    return any(mentions(text, n) for n in names)


@dataclass
class ExpectedFinding:
    """A finding the document should get: a name it uses that the newer release removed or
    renamed (the history part)."""

    names: tuple[str, ...]
    correct: tuple[str, ...]
    line: int  # the changelog line recording it
    named: bool = False
    corrected: bool = False
    claim: str = ""  # the claim that named it


@dataclass
class DocScore:
    expected: list[ExpectedFinding] = field(default_factory=list)
    known: list[Claim] = field(default_factory=list)  # about a reviewed real bug of the doc
    true: list[Claim] = field(default_factory=list)  # about a removed or renamed name
    against: list[Claim] = field(default_factory=list)  # every other claim


def score_doc(
    text: str, claims: list[Claim], removals: tuple[Removal, ...], bugs: tuple[str, ...]
) -> DocScore:
    """Each claim is about a known real bug (`bugs`: names), about a removal the document uses,
    or held against the product; each removal the document uses is expected, named when a
    claim is about it and corrected when that claim also gives the new name."""
    out = DocScore()
    used = [r for r in removals if doc_mentions(text, r.names)]
    out.expected = [ExpectedFinding(r.names, r.correct, r.line) for r in used]
    for claim in claims:
        hits = [f for f in out.expected if about(claim, f.names)]
        if hits:
            out.true.append(claim)
            for f in hits:
                corrected = not f.correct or mentions_any(claim.said, f.correct)
                if (f.named, f.corrected) < (True, corrected):
                    f.named, f.corrected, f.claim = True, corrected, claim.text
        elif bugs and about(claim, bugs):
            out.known.append(claim)
        else:
            out.against.append(claim)
    return out
