"""Ambiguities: clarifying questions about the plan, grounded in what ripgrep found or did not.

Three steps, each replaceable on its own:

* `plan(ctx)`: the offline planner's ranked queries, the file paths the plan names and the
  spots it leaves open;
* `search(ctx, plan)`: stage 1 runs every planned query, plus the file list when the plan
  names paths, in one concurrent `ctx.run`; stage 2, only for names nothing matched, looks up
  the repository's vocabulary (identifiers sharing a part of the name) in a second one;
* `write(ctx, plan, evidence)`: question cards, ranked by usefulness and capped.

With an LLM configured, the LLM plans its own searches while the offline ones already run
(stage 1), its searches run beside the vocabulary look-ups (stage 2), and it writes the
questions from all the evidence. Any LLM failure (error, refusal, nothing grounded) falls back
to the offline questions; the failed call shows in the timings.

Question kinds: a name nothing matches (did you mean ...?), a file that does not exist,
a name defined in several places (which one?), and a spot the plan leaves open (TBD, an
open question, maybe, etc., and/or, either/or, a vague amount). A failed search is never
read as "nothing matches": no question is built on it.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rapidfuzz import fuzz, process

from .. import codefacts
from ..backends.base import Availability, CodeQuery, CodeSearchResult
from ..context import FulfillerContext
from ..document import read
from ..document.words import STOP_WORDS
from ..fanout import Call
from ..models import Card, CardType
from ..planner import OpenSpot, Plan, PlannedQuery, Term
from ..planner import llm as llm_planner
from ..planner.offline import exclude_globs
from .base import with_ripgrep
from .evidence import Found, one_line, planned

log = logging.getLogger("parallizer.fulfillers.ambiguities")

SUGGESTIONS = 3
SUGGEST_CUTOFF = 60.0  # rapidfuzz ratio of normalised names below which nothing is suggested
NEAR_TYPO = 85.0  # at or above this a name is suggested even where it is only used
VOCAB_RESULTS = 300
MAX_PATH_CHECKS = 10  # paths named by the plan checked against the file list, nearest first

# usefulness of each kind of question, scaled by `_nearness` of its plan line to the cursor
USEFULNESS: dict[str, float] = {
    "missing": 1.0,
    "missing_path": 0.95,
    "todo": 0.95,
    "question": 0.9,
    "several": 0.85,
    "either_or": 0.8,
    "and_or": 0.75,
    "maybe": 0.7,
    "missing_new": 0.6,
    "etc": 0.65,
    "vague": 0.55,
}
NEAR_FLOOR = 0.5
SAME_KIND_FACTOR = 0.7  # each question already picked of the same family lowers the next one

_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_NORM = re.compile(r"[\W_]+")

_OPEN_WORDING: dict[str, tuple[str, str]] = {
    "todo": ("Still to be decided", "The plan leaves this for later: decide it now, or say who decides?"),
    "question": ("Open question in the plan", "The plan asks this but does not answer it yet: what is the answer?"),
    "either_or": ("Which of the two?", "Pick one, or say when each applies."),
    "and_or": ("Both, or only one?", "“and/or” leaves the choice to the implementer: both, or which one?"),
    "maybe": ("In or out?", "“{cue}” leaves it to the implementer: is it part of this change or not?"),
    "etc": ("What does “etc.” cover?", "List the rest: an implementer cannot guess what “{cue}” includes."),
    "vague": ("How {cue}, exactly?", "“{cue}” has no number: give a target (a count, a size, a time) that can be checked."),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Candidate:
    """An existing name close to one the plan uses."""

    name: str
    citation: str
    score: float


@dataclass
class Evidence:
    found: dict[PlannedQuery, Found] = field(default_factory=dict)
    files: list[str] | None = None
    """Every file under the scope; None when not asked or when listing failed."""
    vocabulary: dict[str, list[Candidate]] = field(default_factory=dict)
    """Per unmatched term: existing names ranked by closeness. Absent when the look-up
    was not made or failed."""
    exists: dict[str, bool] = field(default_factory=dict)
    """Per unmatched dotted term: does its last part exist as a name on its own? Absent
    when the look-up failed."""
    llm_results: list[CodeSearchResult] = field(default_factory=list)
    """What the LLM's own searches found (LLM mode only; failed searches left out)."""

    def results(self) -> list[CodeSearchResult]:
        """Every successful search, planned and the LLM's, as ripgrep reported it."""
        planned = [
            CodeSearchResult(query=f.planned.query, matches=f.matches, truncated=f.truncated)
            for f in self.found.values()
            if f.ok
        ]
        return planned + self.llm_results


@dataclass(frozen=True, slots=True)
class Question:
    kind: str
    score: float
    line: int
    """The plan line it is about (ties go to the earlier line)."""
    card: Card

    @property
    def family(self) -> str:
        if self.kind.startswith("missing"):
            return "missing"
        return "several" if self.kind == "several" else "open"


def name_parts(name: str) -> list[str]:
    """Search stems of a name's parts: `RetryPolicy` → retry, polic (5-letter prefixes,
    so a misspelt tail still finds the real name)."""
    words = [w.lower() for chunk in re.split(r"[._\-]+", name) for w in _PARTS.findall(chunk)]
    stems = [w[:5] for w in words if len(w) >= 3 and w not in STOP_WORDS]
    return list(dict.fromkeys(stems))


def _norm(text: str) -> str:
    return _NORM.sub("", text.lower())


def vocabulary_query(name: str, exclude: str | None = None) -> CodeQuery | None:
    """Identifiers sharing a stem with `name`, case-insensitively (a regex built from the
    escaped stems), for "did you mean" suggestions."""
    stems = name_parts(name)
    if not stems:
        return None
    alts = "|".join(re.escape(s) for s in stems)
    return CodeQuery(
        pattern=rf"\w*(?:{alts})\w*",
        mode="regex",
        ignore_case=True,
        context=0,
        max_results=VOCAB_RESULTS,
        max_per_file=20,
        globs=exclude_globs(exclude),
    )


def exists_query(name: str, exclude: str | None = None) -> CodeQuery:
    """Is `name` anywhere at all, as a whole word? One match answers it."""
    return CodeQuery(
        pattern=name,
        mode="word",
        context=0,
        max_results=1,
        max_per_file=1,
        globs=exclude_globs(exclude),
    )


def rank_candidates(name: str, result: CodeSearchResult) -> list[Candidate]:
    """Existing names close to `name`, best first.

    A candidate is a name the code defines (a class, function, field ...) or a near-typo of
    `name`; plain words that merely occur (`response`, `cache`) are not worth suggesting.
    Closeness is rapidfuzz's edit similarity of the normalised names (case, `_` and `.`
    ignored). Each cites its definition, source files before tests."""
    where: dict[str, tuple[int, str]] = {}  # name -> (rank of the citation, citation)
    for m in result.matches:
        for sub in dict.fromkeys(m.submatches):
            rank = (0 if codefacts.defines(m.path, m.text, sub) else 2) + int(
                codefacts.is_test_path(m.path)
            )
            if sub not in where or rank < where[sub][0]:
                where[sub] = (rank, m.citation)
    target = _norm(name)
    scored = []
    for cand, (rank, cite) in where.items():
        if cand == name or len(cand) < 3:
            continue
        score = fuzz.ratio(target, _norm(cand))
        if score >= SUGGEST_CUTOFF and (rank < 2 or score >= NEAR_TYPO):
            scored.append(Candidate(cand, cite, score - 2.0 * rank))
    scored.sort(key=lambda c: (-c.score, c.name))
    picked: list[Candidate] = []
    for c in scored:  # one spelling per name: `Limiter` or `limiter`, the better cited
        if all(_norm(c.name) != _norm(p.name) for p in picked):
            picked.append(c)
    return picked[:SUGGESTIONS]


class FileIndex:
    """The scope's file list, indexed once per request for the path questions: existence by
    basename, directories as a set, and "did you mean" by a C-level shortlist of close
    basenames (rapidfuzz.process) before the finer score, never a Python loop per file."""

    SHORTLIST = 25

    def __init__(self, files: list[str]) -> None:
        self.by_base: dict[str, list[str]] = {}
        self.dirs: set[str] = set()
        for f in files:
            head, _, base = f.rpartition("/")
            self.by_base.setdefault(base, []).append(f)
            while head and head not in self.dirs:
                self.dirs.add(head)
                head = head.rpartition("/")[0]

    def exists(self, path: str) -> bool:
        base = path.rpartition("/")[2]
        return any(f == path or f.endswith("/" + path) for f in self.by_base.get(base, ()))

    def has_dir(self, path: str) -> bool:
        return path in self.dirs or any(d.endswith("/" + path) for d in self.dirs)

    def closest(self, path: str, n: int) -> list[str]:
        """Up to n files whose name is close, in a directory that is close."""
        base = path.rpartition("/")[2]
        near = process.extract(
            base, list(self.by_base), scorer=fuzz.ratio, limit=self.SHORTLIST,
            score_cutoff=SUGGEST_CUTOFF / 2,
        )  # fmt: skip
        scored = sorted(
            (
                (0.6 * score + 0.4 * fuzz.WRatio(path, f), f)
                for name, score, _ in near
                for f in self.by_base[name]
            ),
            key=lambda x: (-x[0], x[1]),
        )
        return [f for s, f in scored[:n] if s >= SUGGEST_CUTOFF]


def _nearness(ctx: FulfillerContext, line: int) -> float:
    """How much being near the cursor matters for a question: some (the writer is working
    there), but a wrong name anywhere in the plan is still worth asking about."""
    return NEAR_FLOOR + (1.0 - NEAR_FLOOR) * ctx.document.proximity(line)


def _how(cue: str) -> str:
    """For the header "How fast, exactly?": "how many" for some/several/lots of."""
    word = " ".join(cue.lower().split())
    return "many" if word in ("some", "several", "lots of", "a lot") else word


def _or_list(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


class Ambiguities:
    name: ClassVar[str] = "ambiguities"
    card_type: ClassVar[CardType] = CardType.question

    def __init__(self, runtime) -> None:
        self.runtime = runtime

    def availability(self) -> Availability:
        if self.runtime.llm is not None:
            how = "LLM: questions written from the plan and ripgrep results (offline fallback)"
        else:
            how = "offline: questions from the plan and ripgrep results"
        return with_ripgrep(self.runtime, how)

    async def fulfill(self, ctx: FulfillerContext) -> list[Card]:
        plan = self.plan(ctx)
        llm = self.runtime.llm
        if llm is None or ctx.job.scope_root is None:
            return self.write(ctx, plan, await self.search(ctx, plan))
        planning = llm.call(
            "plan code searches",
            lambda: llm_planner.code_queries(
                llm, ctx.document, max_queries=ctx.settings.max_queries
            ),
        )
        evidence = await self.search(ctx, plan, llm_planning=planning)
        [written] = await ctx.run(
            [
                llm.call(
                    "write questions",
                    lambda: llm_planner.clarifying_questions(
                        llm,
                        ctx.document,
                        evidence.results(),
                        max_questions=ctx.settings.max_questions,
                        plan_citation=ctx.job.plan_citation,
                    ),
                )
            ],
            what="LLM calls",
        )
        if written.ok and written.value:
            ctx.mode = "llm"
            return written.value
        log.info("LLM questions unavailable (%s): offline questions instead", written.error)
        return self.write(ctx, plan, evidence)

    # --- 1. plan ---------------------------------------------------------------------------

    def plan(self, ctx: FulfillerContext) -> Plan:
        return planned(ctx)

    # --- 2. search -------------------------------------------------------------------------

    async def search(
        self,
        ctx: FulfillerContext,
        plan: Plan,
        *,
        llm_planning: Call[list[CodeQuery]] | None = None,
    ) -> Evidence:
        """`llm_planning`, when given, runs beside stage 1; the searches it plans run beside
        stage 2 and land in `evidence.llm_results`."""
        evidence = Evidence()
        if ctx.job.scope_root is None:
            log.info("no scope_root: only the plan's open spots can be asked about")
            return evidence
        calls: list[Call[Any]] = [ctx.code_call(q.query, q.label) for q in plan.queries]
        if plan.paths:
            calls.append(ctx.files_call())
        if llm_planning is not None:
            calls.append(llm_planning)
        outcomes = await ctx.run(calls)
        for q, o in zip(plan.queries, outcomes[: len(plan.queries)], strict=True):
            evidence.found[q] = Found.read(q, o)
        if plan.paths:
            files = outcomes[len(plan.queries)]
            evidence.files = list(files.value or []) if files.ok else None
        llm_queries: list[CodeQuery] = []
        if llm_planning is not None and outcomes[-1].ok:
            # the same search the planner already ran (same text, mode, case) is not repeated
            known = {(q.query.pattern, q.query.mode, q.query.ignore_case) for q in plan.queries}
            llm_queries = [
                q
                for q in outcomes[-1].value or []
                if (q.pattern, q.mode, q.ignore_case) not in known
            ]

        # stage 2, only for names nothing matched: the vocabulary around each, and for a
        # dotted name whether its last part exists at all
        exclude = ctx.job.plan_relpath
        unmatched = [
            f.planned.term for f in evidence.found.values() if f.empty and f.planned.term.is_name
        ]
        looks: list[tuple[str, str, Call[Any]]] = []
        for term in unmatched:
            if (vq := vocabulary_query(term.text, exclude)) is not None:
                looks.append(("vocab", term.text, ctx.code_call(vq, f"names like {term.text}")))
            if term.kind == "dotted":
                eq = exists_query(term.name, exclude)
                looks.append(("exists", term.text, ctx.code_call(eq, f"is there a {term.name}")))
        for q in llm_queries:  # the plan's own lines would match: leave it out, as planned ones do
            q = q.model_copy(update={"globs": (*q.globs, *exclude_globs(exclude))})
            looks.append(("llm", q.pattern, ctx.code_call(q)))
        if not looks:
            return evidence
        found = await ctx.run([call for *_, call in looks], what="follow-up searches")
        for (what, text, _), o in zip(looks, found, strict=True):
            if not o.ok or o.value is None:
                continue  # a failed look-up is no evidence either way
            if what == "vocab":
                evidence.vocabulary[text] = rank_candidates(text, o.value)
            elif what == "exists":
                evidence.exists[text] = bool(o.value.matches)
            else:
                evidence.llm_results.append(o.value)
        return evidence

    # --- 3. write --------------------------------------------------------------------------

    def write(self, ctx: FulfillerContext, plan: Plan, evidence: Evidence) -> list[Card]:
        questions: list[Question] = []
        for f in evidence.found.values():
            if q := self._missing_name(ctx, f, evidence):
                questions.append(q)
            elif q := self._several_definitions(ctx, f):
                questions.append(q)
        if evidence.files is not None and plan.paths:
            index = FileIndex(evidence.files)
            questions += [
                q for t in plan.paths[:MAX_PATH_CHECKS] if (q := self._missing_path(ctx, t, index))
            ]
        questions += [self._open_spot(ctx, s, evidence) for s in plan.open_spots]
        return [q.card for q in self._pick(questions, ctx.settings.max_questions)]

    @staticmethod
    def _pick(questions: list[Question], cap: int) -> list[Question]:
        """Best first, each pick discounting the rest of its family (missing names, several
        definitions, open spots): three different concerns beat three vague words."""
        left = sorted(questions, key=lambda q: (-q.score, q.line))
        picked: list[Question] = []
        while left and len(picked) < cap:
            seen = Counter(q.family for q in picked)
            best = max(left, key=lambda q: q.score * SAME_KIND_FACTOR ** seen[q.family])
            picked.append(best)
            left.remove(best)
        return picked

    def _question(
        self, kind: str, score: float, line: int, header: str, text: str, cites: list[str]
    ) -> Question:
        card = Card.make(
            type=CardType.question,
            header=header,
            text=text,
            source=self.name,
            citations=list(dict.fromkeys(cites)),
        )
        return Question(kind=kind, score=score, line=line, card=card)

    @staticmethod
    def _where(ctx: FulfillerContext, term: Term) -> tuple[int, float]:
        """The plan line of a term closest to the cursor, and its `_nearness`."""
        doc = ctx.document
        line = max(term.lines, key=lambda i: (doc.proximity(i), -abs(i - doc.cursor[0])))
        return line, _nearness(ctx, line)

    @staticmethod
    def _introduced(ctx: FulfillerContext, term: Term) -> bool:
        """Does the plan introduce it ("add a new `X`", "create `x.py`", "`X` (new)", its own
        code block)? The document reader decides (`PlanFacts.introduced`)."""
        return term.introduced or read(ctx.document).is_introduced(term.text)

    def _missing_name(self, ctx: FulfillerContext, f: Found, ev: Evidence) -> Question | None:
        term = f.planned.term
        if not (f.empty and term.is_name):
            return None
        if term.kind == "dotted" and ev.exists.get(term.text, True):
            return None  # its last part exists (or we could not check): written differently
        line, near = self._where(ctx, term)
        plan_cite = ctx.job.plan_citation(line)
        cands = ev.vocabulary.get(term.text, [])
        named = [f"`{c.name}` (`{c.citation}`)" for c in cands]
        cites = [plan_cite] + [c.citation for c in cands]
        if self._introduced(ctx, term):
            if not cands:
                return None  # new, and nothing like it exists: nothing to ask
            text = (
                f"The plan introduces `{term.text}` (`{plan_cite}`); nothing by that name "
                f"exists yet. Close existing names: {', '.join(named)}. Should `{term.text}` "
                "build on one of them, or is it separate?"
            )
            header = f"`{term.text}` is new: reuse something?"
            return self._question(
                "missing_new", USEFULNESS["missing_new"] * near, line, header, text, cites
            )
        also = ""
        if term.kind == "dotted":
            also = f" (nor does any `{term.name}`)"
        if cands:
            ask = f"Did you mean {_or_list(named)}? Or is `{term.text}` new, and where should it live?"
            header = f"`{term.text}`: did you mean `{cands[0].name}`?"
        else:
            ask = (
                f"Is `{term.text}` new (then where should it live), or is it called something else?"
            )
            header = f"Nothing matches `{term.text}`"
        text = (
            f"The plan names `{term.text}` (`{plan_cite}`), but nothing in the repository "
            f"matches it{also}. {ask}"
        )
        score = USEFULNESS["missing"] * near * (1.0 if cands else 0.85)
        return self._question("missing", score, line, header, text, cites)

    def _several_definitions(self, ctx: FulfillerContext, f: Found) -> Question | None:
        if not f.ok:
            return None
        term = f.planned.term
        defs = f.main_definitions()
        files = list(dict.fromkeys(m.path for m in defs))
        if len(files) < 2:
            return None
        line, near = self._where(ctx, term)
        plan_cite = ctx.job.plan_citation(line)
        shown = defs[:4]
        listing = "\n".join(f"- `{m.citation}`: `{one_line(m.text)}`" for m in shown)
        more = f"\n- … and {len(defs) - len(shown)} more" if len(defs) > len(shown) else ""
        text = (
            f"The plan names `{term.text}` (`{plan_cite}`), and the code defines it in "
            f"{len(files)} files:\n\n{listing}{more}\n\nWhich one does the plan mean?"
        )
        cites = [plan_cite] + [m.citation for m in shown]
        return self._question(
            "several", USEFULNESS["several"] * near, line, f"Which `{term.text}`?", text, cites
        )

    def _missing_path(self, ctx: FulfillerContext, term: Term, files: FileIndex) -> Question | None:
        path = term.text.lstrip("/")
        if files.exists(path):
            return None
        parent = path.rsplit("/", 1)[0] if "/" in path else ""
        parent_exists = not parent or files.has_dir(parent)
        if self._introduced(ctx, term) and parent_exists:
            return None  # a new file in an existing place: nothing to ask
        line, near = self._where(ctx, term)
        plan_cite = ctx.job.plan_citation(line)
        close = [f"`{f}`" for f in files.closest(path, SUGGESTIONS)]
        where = "" if parent_exists else f" (there is no `{parent}/` either)"
        ask = (
            f"Did you mean {_or_list(close)}, or is it a new file?"
            if close
            else "Is it a new file?"
        )
        text = (
            f"The plan refers to `{path}` (`{plan_cite}`), but no such file exists under the "
            f"scope{where}. {ask}"
        )
        score = USEFULNESS["missing_path"] * near
        header = f"No file `{path}`"
        return self._question("missing_path", score, line, header, text, [plan_cite])

    def _open_spot(self, ctx: FulfillerContext, spot: OpenSpot, ev: Evidence) -> Question:
        plan_cite = ctx.job.plan_citation(spot.line)
        header, ask = _OPEN_WORDING[spot.kind]
        header, ask = header.format(cue=_how(spot.cue)), ask.format(cue=spot.cue)
        cites = [plan_cite]
        concerns = []
        sentence = spot.sentence.lower()
        for f in ev.found.values():
            term = f.planned.term
            if not set(term.lines) & set(spot.lines) or term.text.lower() not in sentence:
                continue
            defs = f.main_definitions() if f.ok else []
            files = {m.path for m in defs}
            if not defs or len(concerns) >= 2:
                continue
            if len(files) == 1:
                concerns.append(f"`{term.text}` (`{defs[0].citation}`)")
                cites.append(defs[0].citation)
            else:  # no one definition to point at: that is the other question
                concerns.append(f"`{term.text}` (defined in {len(files)} files)")
        about = f" It concerns {' and '.join(concerns)}." if concerns else ""
        text = f"> {spot.sentence}\n\n`{plan_cite}`: {ask}{about}"
        grounded = 0.1 if len(cites) > 1 else 0.0  # it points at real code
        score = USEFULNESS[spot.kind] * _nearness(ctx, spot.line) + grounded
        return self._question(spot.kind, score, spot.line, header, text, cites)
