"""Ambiguities: the questions a reviewer would ask about the plan, each citing real code.

Three steps:

* `facts(ctx)`: the names and paths the plan uses, the names it introduces, its open spots;
* `check(ctx, facts)`: every name resolved against the scope's code index (in-memory, in a
  worker thread: `resolve`), then one ripgrep pass confirming that each name the index lacks
  is not a word anywhere in the tree either (a config key, a language the index does not
  parse: not missing; a failed search: no claim at all);
* `write(ctx, facts, checked)`: question cards, certain mistakes first.

Question kinds, in the order they rank: a wrong name (did you mean `X` at `path:line`?), a
method on the wrong class (name the class that has it), a call whose argument count no
definition accepts, a path that does not exist (with the closest real ones), a name nothing
defines, a qualified name defined in several source files (which one?), then at most one of
the plan's own open spots (TBD, an open question, maybe, and/or ...). When the plan holds
more mistakes than there are question slots, mistakes of one kind share a card (one line
each, with its correction and citation) rather than being dropped.

With an LLM configured, the request's one planning call (`planning.plan_call`, shared with
WebContext) proposes code searches beside the offline ones, and the LLM gets the same facts (which names exist where, which do not,
their near names) and the ripgrep evidence, and writes questions; every citation it writes
is checked against the index and the file (`evidence.CitationChecker`) and fixed or dropped.
What the index and ripgrep established is asked as offline (it is certain); the LLM's own
questions take one slot, about something those do not already name. Any LLM failure falls
back to the offline questions.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from .. import lanes
from ..backends.base import Availability, CodeQuery
from ..context import FulfillerContext
from ..document.words import STOP_WORDS
from ..fanout import Call
from ..models import Card, CardType
from ..planner import OpenSpot
from ..planner import llm as llm_planner
from ..planner.llm import SearchPlan
from ..planner.offline import exclude_globs
from ..resolve import Resolution, Resolver, Verdict
from .base import with_ripgrep
from .evidence import CitationChecker, NameFacts, plan_facts, planned, read_bodies
from .planning import plan_call

if TYPE_CHECKING:
    from ..index import CodeIndex, Definition
    from ..runtime import Runtime

log = logging.getLogger("parallizer.fulfillers.ambiguities")

MAX_TEXT_CHECKS = 24  # names the index lacks, nearest the cursor first, confirmed by one rg pass
TEXT_CHECK_RESULTS = 2000
TEXT_CHECK_PER_FILE = 50
TEXT_CHECK_ROUNDS = 3
TEXT_CHECK_CHARS = 900  # the alternation of escaped words in one rg pattern (a query holds 1000)
# files whose words do not make a name real: prose, not code
NOT_CODE_GLOBS = ("!*.md", "!*.markdown", "!*.rst", "!*.txt", "!*.adoc", "!CHANGELOG*", "!*.html")
MAX_OPEN_QUESTIONS = 1  # at most one card restates the plan's own open spots
LLM_SLOTS = 1  # LLM mode: cards for the LLM's own questions (the rest: established facts)

# certainty of each kind: mistakes rank above any ambiguity, which ranks above open spots;
# nearness to the cursor orders within a tier
TIER: dict[str, float] = {
    "wrong_name": 4.0,
    "wrong_owner": 4.0,
    "arity": 3.9,
    "missing_path": 3.8,
    "missing": 3.6,
    "ambiguous": 2.0,
    "todo": 1.0,
    "question": 1.0,
    "either_or": 0.9,
    "and_or": 0.9,
    "maybe": 0.8,
    "etc": 0.7,
    "vague": 0.6,
}
NEAR_FLOOR = 0.5
MISTAKE_KINDS = frozenset({"wrong_name", "wrong_owner", "arity", "missing_path", "missing"})

_GROUP_HEADER = {
    "wrong_name": "{n} names the code does not define: did you mean …?",
    "wrong_owner": "{n} methods on the wrong class",
    "arity": "{n} calls with the wrong number of arguments",
    "missing_path": "{n} files that do not exist",
    "missing": "{n} names nothing defines",
    "ambiguous": "{n} names defined in several places",
}

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
class Question:
    kind: str
    score: float
    line: int
    """The plan line it is about (ties go to the earlier line)."""
    header: str
    text: str
    cites: tuple[str, ...]
    item: str = ""
    """This question as one line of a card that lists several of its kind."""
    about: str = ""
    """The name or path it is about (LLM mode: its question is not asked twice)."""

    @property
    def mistake(self) -> bool:
        return self.kind in MISTAKE_KINDS


@dataclass
class Checked:
    """What resolution and the text check established."""

    resolutions: list[Resolution] = field(default_factory=list)
    words: dict[str, bool] = field(default_factory=dict)
    """Per name the index lacks: is it a word in the tree's code (outside the plan)? Absent
    when not checked or the search failed (then no claim is made about it)."""
    bodies: dict[str, list[str]] = field(default_factory=dict)
    """wrong_owner: the body of the class the plan names (each definition of it), to see
    its bases and the attributes it assigns."""
    index: CodeIndex | None = None
    error: str | None = None


def _how(cue: str) -> str:
    """For the header "How fast, exactly?": "how many" for some/several/lots of."""
    word = " ".join(cue.lower().split())
    return "many" if word in ("some", "several", "lots of", "a lot") else word


def _or_list(items: Sequence[str], word: str = "or") -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {word} " + items[-1]


def _params(p: tuple[int, int | None] | None) -> str:
    if p is None:
        return "an unknown number of arguments"
    lo, hi = p
    if hi is None:
        return f"at least {lo} argument{'s' * (lo != 1)}"
    if lo == hi:
        return f"{lo} argument{'s' * (lo != 1)}"
    return f"{lo} to {hi} arguments"


def _takes(defs: Sequence[Definition]) -> str:
    """"`f` (`a.py:3`) takes 1 argument", each definition with its own count (the same
    count said once)."""
    if len({d.params for d in defs}) == 1:
        who = _or_list([f"{d.kind} `{d.qualname}` (`{d.citation}`)" for d in defs], "and")
        return f"{who} take{'s' * (len(defs) == 1)} {_params(defs[0].params)}"
    return ", ".join(f"`{d.qualname}` (`{d.citation}`) takes {_params(d.params)}" for d in defs)


def _def_label(d: Definition) -> str:
    return f"{d.kind} `{d.qualname}` at `{d.citation}`"


class Ambiguities:
    name: ClassVar[str] = "ambiguities"
    card_type: ClassVar[CardType] = CardType.question

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def availability(self) -> Availability:
        if self.runtime.llm is not None:
            how = "LLM: questions written from the code index and ripgrep (offline fallback)"
        else:
            how = "offline: questions from the plan, the code index and ripgrep"
        return with_ripgrep(self.runtime, how)

    async def fulfill(self, ctx: FulfillerContext) -> list[Card]:
        facts = plan_facts(ctx)
        llm = self.runtime.llm
        if llm is None or ctx.job.scope_root is None:
            checked = await self.check(ctx, facts)
            return self.cards(self.write(ctx, facts, checked), ctx.settings.max_questions)
        return await self._with_llm(ctx, facts)

    # --- 1. check ---------------------------------------------------------------------------

    async def check(self, ctx: FulfillerContext, facts: NameFacts) -> Checked:
        checked = Checked()
        root = ctx.job.scope_root
        if root is None:
            log.info("no scope_root: only the plan's open spots can be asked about")
            return checked
        try:
            index = await self.runtime.index.get(root)
        except Exception as exc:
            log.warning("code index unavailable for %s: %s", root, exc)
            checked.error = str(exc)
            return checked
        if not index.files():
            log.info("the code index of %s holds no file: no claim about names", root)
            checked.error = "empty index"
            return checked
        checked.index = index
        doc = ctx.document
        uses = sorted(  # nearest the cursor first: they get the bounded work
            facts.uses, key=lambda u: (-doc.proximity(u.line), abs(u.line - doc.cursor[0]))
        )
        checked.resolutions = await lanes.in_thread(  # the plan's lane, by its size
            len(doc.text),
            lambda: Resolver(index, facts.introduced, proposed=facts.proposed).resolve_all(uses),
        )
        pending = self._pending(ctx, checked.resolutions)
        wrong_owner = [r for r in checked.resolutions if r.verdict is Verdict.wrong_owner]
        if not pending and not wrong_owner:
            return checked
        want = {(d.path, d.line) for r in wrong_owner for d in r.owners[:2]}
        async with asyncio.TaskGroup() as tg:  # class bodies read while rg checks the words
            reading = tg.create_task(asyncio.to_thread(read_bodies, root, want))
            await self._text_check(ctx, pending, checked.words)
        bodies = reading.result()
        for r in wrong_owner:
            checked.bodies[r.text] = [
                bodies[(d.path, d.line)] for d in r.owners[:2] if (d.path, d.line) in bodies
            ]
        return checked

    async def _text_check(
        self, ctx: FulfillerContext, words: list[str], found: dict[str, bool]
    ) -> None:
        """Which of `words` occur as words in the tree's code: one rg pass for all of them;
        when a frequent word filled the caps (so a rarer one may hide behind it), another pass
        for the words not seen yet, at most TEXT_CHECK_ROUNDS. A failed pass settles nothing."""
        left = list(words)
        for _ in range(TEXT_CHECK_ROUNDS):
            if not left:
                return
            query = self._words_query(left, ctx.job.plan_relpath)
            label = f"are they in the code: {' '.join(left)}"[:120]
            [out] = await ctx.run([ctx.code_call(query, label)], what="text checks")
            if not out.ok or out.value is None:
                return
            res = out.value
            seen = {s for m in res.matches for s in m.submatches}
            per_file: dict[str, int] = defaultdict(int)
            for m in res.matches:
                per_file[m.path] += 1
            capped = res.truncated or any(n >= TEXT_CHECK_PER_FILE for n in per_file.values())
            for w in left:
                if w in seen:
                    found[w] = True
                elif not capped:
                    found[w] = False
            left = [w for w in left if w not in seen]
            if not capped:
                return

    def _pending(self, ctx: FulfillerContext, resolutions: Iterable[Resolution]) -> list[str]:
        doc = ctx.document
        todo = [r for r in resolutions if r.needs_text]
        todo.sort(key=lambda r: -max(doc.proximity(i) for i in r.lines))
        words: list[str] = []
        size = 0
        for w in dict.fromkeys(w for r in todo for w in r.needs_text):
            size += len(re.escape(w)) + 1
            if len(words) >= MAX_TEXT_CHECKS or size > TEXT_CHECK_CHARS:
                break  # the rest is not checked, so no claim is made about it
            words.append(w)
        return words

    @staticmethod
    def _words_query(names: Sequence[str], exclude: str | None) -> CodeQuery:
        alts = "|".join(re.escape(n) for n in names)
        return CodeQuery(
            pattern=rf"\b(?:{alts})\b",
            mode="regex",
            context=0,
            max_results=TEXT_CHECK_RESULTS,
            max_per_file=TEXT_CHECK_PER_FILE,
            globs=(*NOT_CODE_GLOBS, *exclude_globs(exclude)),
        )

    # --- 2. write ---------------------------------------------------------------------------

    def write(self, ctx: FulfillerContext, facts: NameFacts, checked: Checked) -> list[Question]:
        questions: list[Question] = []
        for r in checked.resolutions:
            if (q := self._about(ctx, r, checked)) is not None:
                questions.append(q)
        opens = sorted(
            (self._open_spot(ctx, s, checked) for s in facts.open_spots),
            key=lambda q: (-q.score, q.line),
        )
        return questions + opens[:MAX_OPEN_QUESTIONS]

    def cards(self, questions: list[Question], cap: int) -> list[Card]:
        return [self._card(group) for group in self.pick(questions, cap)]

    @staticmethod
    def pick(questions: list[Question], cap: int) -> list[list[Question]]:
        """Best first. When there are more facts to ask about (mistakes, then ambiguities)
        than slots, those of one kind share a card so that `cap` cards carry all of them: one
        card per kind, the most certain kinds first, the last card holding whatever kinds are
        left; spare slots go to the next questions."""
        ranked = sorted(questions, key=lambda q: (-q.score, q.line))
        if cap <= 0:
            return []
        mistakes = [q for q in ranked if q.mistake or q.kind == "ambiguous"]
        if len(mistakes) <= cap:
            return [[q] for q in ranked[:cap]]
        kinds: dict[str, list[Question]] = {}
        for q in mistakes:
            kinds.setdefault(q.kind, []).append(q)
        groups = list(kinds.values())
        if len(groups) > cap:
            groups = [*groups[: cap - 1], [q for g in groups[cap - 1 :] for q in g]]
        while len(groups) < cap:  # a spare slot: the largest group's best stands alone
            big = max(groups, key=len)
            if len(big) < 2:
                break
            groups.insert(groups.index(big), [big[0]])
            big.pop(0)
        rest = [q for q in ranked if q not in mistakes]
        if rest and len(groups[-1]) > 1:  # a list already: the best open spot joins it
            groups[-1].append(rest[0])
        return groups

    def _card(self, group: list[Question]) -> Card:
        if len(group) == 1:
            q = group[0]
            header, text, cites = q.header, q.text, list(q.cites)
        else:
            kinds = {q.kind for q in group}
            if len(kinds) == 1:
                header = _GROUP_HEADER[group[0].kind].format(n=len(group))
            else:
                header = f"{len(group)} more things to check"
            text = "\n".join(f"- {q.item or q.text}" for q in group)
            cites = [c for q in group for c in q.cites]
        return Card.make(
            type=CardType.question,
            header=header,
            text=text,
            source=self.name,
            citations=list(dict.fromkeys(cites)),
        )

    def _nearness(self, ctx: FulfillerContext, lines: Iterable[int]) -> tuple[int, float]:
        doc = ctx.document
        line = max(lines, key=lambda i: (doc.proximity(i), -abs(i - doc.cursor[0])))
        return line, NEAR_FLOOR + (1.0 - NEAR_FLOOR) * doc.proximity(line)

    def _about(self, ctx: FulfillerContext, r: Resolution, checked: Checked) -> Question | None:
        v = r.verdict
        if not r.holds(checked.words):
            return None  # a word in the code after all, or not checked: no claim
        if v is Verdict.wrong_owner and self._owner_may_have(r, checked):
            return None
        if r.kind != "path" and r.name.lower() in STOP_WORDS:
            return None
        line, near = self._nearness(ctx, r.lines)
        plan = ctx.job.plan_citation(line)
        t = r.text
        if v is Verdict.wrong_name:
            s = r.suggestions
            named = [f"`{d.qualname}` ({d.kind}, `{d.citation}`)" for d in s]
            header = f"`{t}`: did you mean `{s[0].qualname}`?"
            text = (
                f"The plan names `{t}` (`{plan}`), but the code defines no `{r.name}`. "
                f"Did you mean {_or_list(named)}? Or is `{t}` new, and where should it live?"
            )
            item = f"`{t}` (`{plan}`): did you mean `{s[0].qualname}` (`{s[0].citation}`)?"
            cites = [plan, *(d.citation for d in s)]
        elif v is Verdict.wrong_owner:
            defs = r.definitions
            owner = r.owners[0] if r.owners else None
            where = f" (`{owner.citation}`)" if owner else ""
            header = f"`{r.name}` is not on `{r.owner}`: `{defs[0].qualname}`?"
            text = (
                f"The plan uses `{t}` (`{plan}`), but `{r.owner}`{where} has no `{r.name}`; "
                f"it is defined on {_or_list([f'`{d.owner}` (`{d.citation}`)' for d in defs])}. "
                f"Did you mean `{defs[0].qualname}`?"
            )
            item = f"`{t}` (`{plan}`): `{r.name}` is on `{defs[0].owner}` (`{defs[0].citation}`)"
            cites = [plan, *(d.citation for d in defs), *([owner.citation] if owner else [])]
        elif v is Verdict.arity:
            d = r.definitions[0]
            n = r.args or 0
            takes = _takes(r.definitions)
            header = f"`{r.name}` takes {_params(d.params)}, the plan passes {n}"
            text = (
                f"The plan calls `{t}` with {n} argument{'s' * (n != 1)} (`{plan}`), but "
                f"{takes}. Which is right: a new signature, or a different call?"
            )
            item = f"`{t}` (`{plan}`): {n} given, but {takes}"
            cites = [plan, *(x.citation for x in r.definitions)]
        elif v is Verdict.missing_path:
            close = [f"`{p}`" for p in r.near_paths]
            ask = (
                f"Did you mean {_or_list(close)}, or is it a new file?"
                if close
                else "Is it a new file?"
            )
            header = f"No file `{r.name}`"
            text = f"The plan refers to `{r.name}` (`{plan}`), but no such file exists under the scope. {ask}"
            item = f"`{r.name}` (`{plan}`)" + (f": did you mean {close[0]}?" if close else "")
            cites = [plan]
        elif v is Verdict.missing:
            header = f"Nothing defines `{t}`"
            rel = r.suggestions[0] if r.suggestions else None
            has = (
                f" The tree has {rel.kind} `{rel.qualname}` (`{rel.citation}`): is that what "
                f"the plan means, or should `{t}` build on it?"
                if rel
                else ""
            )
            text = (
                f"The plan uses `{t}` (`{plan}`) as if it existed, but nothing in the tree "
                f"defines or mentions `{r.name}`, and the plan does not say it is new.{has} "
                "Is it new (then where should it live), or is it called something else?"
            )
            item = f"`{t}` (`{plan}`): not defined anywhere, and not introduced as new" + (
                f"; the tree has `{rel.qualname}` (`{rel.citation}`)" if rel else ""
            )
            cites = [plan, *([rel.citation] if rel else [])]
        elif v is Verdict.ambiguous:
            defs = r.definitions
            listing = "\n".join(f"- {_def_label(d)}" for d in defs[:4])
            more = f"\n- … and {len(defs) - 4} more" if len(defs) > 4 else ""
            header = f"Which `{t}`?"
            text = (
                f"The plan names `{t}` (`{plan}`), and the code defines `{defs[0].qualname}` "
                f"in {len(defs)} source files:\n\n{listing}{more}\n\nWhich one does the plan mean?"
            )
            item = f"`{t}` (`{plan}`): " + ", ".join(f"`{d.citation}`" for d in defs[:4])
            cites = [plan, *(d.citation for d in defs[:4])]
        else:
            return None
        score = TIER[v.value] + near
        return Question(v.value, score, line, header, text, tuple(cites), item, r.text)

    @staticmethod
    def _owner_may_have(r: Resolution, checked: Checked) -> bool:
        """Might the class the plan names have the member after all? It does when its
        definition names a class that has it (`class AsyncClient(BaseClient)`, `extends`,
        `impl X for`: inherited), or its body assigns it (`self.peak = 0`, `this.peak =`,
        `peak: int`). An unread body leaves no claim."""
        bodies = checked.bodies.get(r.text)
        if not bodies:
            return True
        name = re.escape(r.name)
        assigned = re.compile(
            rf"(?:\b(?:self|this|cls|Self)\s*\.\s*{name}\b|^\s*(?:pub\s+)?{name}\s*[:=(])", re.M
        )
        for body in bodies:
            head = "\n".join(body.split("\n")[:3])
            if any(
                d.owner and re.search(rf"\b{re.escape(d.owner)}\b", head) for d in r.definitions
            ):
                return True
            if assigned.search(body):
                return True
        return False

    def _open_spot(self, ctx: FulfillerContext, spot: OpenSpot, checked: Checked) -> Question:
        plan = ctx.job.plan_citation(spot.line)
        header, ask = _OPEN_WORDING[spot.kind]
        header, ask = header.format(cue=_how(spot.cue)), ask.format(cue=spot.cue)
        cites = [plan]
        concerns: list[str] = []
        sentence = spot.sentence.lower()
        for r in checked.resolutions:
            if r.verdict is not Verdict.found or len(concerns) >= 2:
                continue
            if not set(r.lines) & set(spot.lines) or r.text.lower() not in sentence:
                continue
            d = r.definitions[0]
            if r.owner and r.owner[:1].isupper() and d.owner != r.owner:
                continue  # found by its last part on another class: not what it concerns
            concerns.append(f"`{r.text}` (`{d.citation}`)")
            cites.append(d.citation)
        about = f" It concerns {' and '.join(concerns)}." if concerns else ""
        text = f"> {spot.sentence}\n\n`{plan}`: {ask}{about}"
        _, near = self._nearness(ctx, [spot.line])
        grounded = 0.05 if len(cites) > 1 else 0.0
        item = f"{header} (`{plan}`): {ask}"
        return Question(spot.kind, TIER[spot.kind] * near + grounded, spot.line, header, text,
                        tuple(cites), item, spot.cue)  # fmt: skip

    # --- LLM mode ---------------------------------------------------------------------------

    async def _with_llm(self, ctx: FulfillerContext, facts: NameFacts) -> list[Card]:
        llm = self.runtime.llm
        assert llm is not None
        plan = planned(ctx)
        planning = plan_call(ctx)  # the request's one planning call, shared with WebContext
        calls: list[Call[Any]] = [ctx.code_call(q.query, q.label) for q in plan.queries]
        async with asyncio.TaskGroup() as tg:  # resolution beside the searches and planning
            checking = tg.create_task(self.check(ctx, facts))
            outcomes = await ctx.run([*calls, planning])
        checked = checking.result()
        results = [o.value for o in outcomes[:-1] if o.ok and o.value is not None]
        extra: list[CodeQuery] = []
        searches = outcomes[-1].value
        if outcomes[-1].ok and isinstance(searches, SearchPlan):
            known = {(q.query.pattern, q.query.mode, q.query.ignore_case) for q in plan.queries}
            skip = exclude_globs(ctx.job.plan_relpath)
            extra = [
                q.model_copy(update={"globs": (*q.globs, *skip)})
                for q in searches.code
                if (q.pattern, q.mode, q.ignore_case) not in known
            ]
        if extra:
            more = await ctx.run([ctx.code_call(q) for q in extra], what="LLM searches")
            results += [o.value for o in more if o.ok and o.value is not None]
        offline = self.write(ctx, facts, checked)
        cap = ctx.settings.max_questions
        facts_text = llm_planner.resolution_facts(checked.resolutions, checked.words)
        checker = CitationChecker(ctx.job.scope_root, checked.index) if checked.index else None
        [written] = await ctx.run(
            [
                llm.call(
                    "write questions",
                    lambda: llm_planner.clarifying_questions(
                        llm,
                        ctx.document,
                        results,
                        max_questions=cap,
                        plan_citation=ctx.job.plan_citation,
                        facts=facts_text,
                        checker=checker,
                    ),
                )
            ],
            what="LLM calls",
        )
        if not (written.ok and written.value):
            log.info("LLM questions unavailable (%s): offline questions instead", written.error)
            return self.cards(offline, cap)
        ctx.mode = "llm"
        # what the index and ripgrep established is asked as offline; the LLM's judgement
        # takes LLM_SLOTS of the slots, on something those questions do not already name
        said = [re.compile(rf"(?<![\w.]){re.escape(q.about)}(?!\w)") for q in offline if q.about]
        fresh = [c for c in written.value if not any(rx.search(c.text) for rx in said)]
        llm_cards = fresh[: min(LLM_SLOTS, cap)]
        return self.cards(offline, cap - len(llm_cards)) + llm_cards
