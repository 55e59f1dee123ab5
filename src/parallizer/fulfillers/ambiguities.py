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
is checked against the code snapshot and the file (`Snapshot.correct`) and fixed or dropped.
What the index and ripgrep established is asked as offline (it is certain); the LLM's own
questions take one slot, about something those do not already name. Any LLM failure falls
back to the offline questions.
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from cachetools import TTLCache

from ..backends.base import Availability, CodeBackend, CodeQuery
from ..code import Definition, Resolution, Snapshot, Verdict, fold
from ..code.resolve_deps import class_bases
from ..document import Mention, PlanFacts, read
from ..document.mentions import locate
from ..fanout import Call
from ..limits import in_thread
from ..llm import LLM
from ..models import Card, CardType, Finding, severity_of, utf16_column
from ..planner import OpenSpot
from ..planner import llm as llm_planner
from ..planner.llm import SearchPlan
from ..planner.offline import exclude_globs
from ..text import STOP_WORDS, WELL_KNOWN_FILES, clip, single_line
from .base import Dependencies, FulfillerContext, Knowledge, code_call, with_ripgrep
from .planning import plan_call

log = logging.getLogger("parallizer.fulfillers.ambiguities")

MAX_TEXT_CHECKS = 24  # names the index lacks, nearest the cursor first, confirmed by one rg pass
TEXT_CHECK_RESULTS = 2000
TEXT_CHECK_PER_FILE = 50
TEXT_CHECK_ROUNDS = 3
TEXT_CHECK_CHARS = 900  # the alternation of escaped words in one rg pattern (a query holds 1000)
# what a text check settled, kept with the snapshot it was made against: a code file that
# changes makes a new snapshot (and asks again); a word in a file the index does not read
# (a YAML key) is seen again within this many seconds
TEXT_CHECK_TTL = 30.0
TEXT_CHECK_KEPT = 4096  # words kept per snapshot
# files whose words do not make a name real: prose, not code; nor do installed packages in
# the tree (node_modules/): the dependency pass checks those
NOT_CODE_GLOBS = (
    "!*.md", "!*.markdown", "!*.rst", "!*.txt", "!*.adoc", "!CHANGELOG*", "!*.html", "!node_modules",
)  # fmt: skip
MAX_OPEN_LISTED = 4  # the plan's own open spots one card lists at most
# an open decision is the plan's own: worth a question, never an error
OPEN_CONFIDENCE = {"todo": 0.75, "question": 0.65}
OPEN_DEFAULT = 0.6
LLM_SLOTS = 1  # LLM mode: cards for the LLM's own questions (the rest: established facts)

# certainty of each kind: mistakes rank above any ambiguity, which ranks above open spots;
# nearness to the cursor orders within a tier
TIER: dict[str, float] = {
    "wrong_name": 4.0,
    "wrong_owner": 4.0,
    "arity": 3.9,
    "missing_path": 3.8,
    "missing": 3.6,
    "undeclared": 3.7,
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
MISTAKE_KINDS = frozenset(
    {"wrong_name", "wrong_owner", "arity", "missing_path", "missing", "undeclared"}
)

_GROUP_HEADER = {
    "wrong_name": "{n} names the code does not define: did you mean …?",
    "wrong_owner": "{n} methods on the wrong class",
    "arity": "{n} calls with the wrong number of arguments",
    "missing_path": "{n} files that do not exist",
    "missing": "{n} names nothing defines",
    "ambiguous": "{n} names defined in several places",
    "undeclared": "{n} packages the project does not have",
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
    finding: Finding | None = None
    """The same, as the unit every client shares (range in the plan, severity, fix)."""

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
    index: Snapshot | None = None
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
    """ "`f` (`a.py:3`) takes 1 argument", each definition with its own count (the same
    count said once)."""
    if len({d.params for d in defs}) == 1:
        who = _or_list([f"{d.kind} `{d.qualname}` (`{d.citation}`)" for d in defs], "and")
        return f"{who} take{'s' * (len(defs) == 1)} {_params(defs[0].params)}"
    return ", ".join(f"`{d.qualname}` (`{d.citation}`) takes {_params(d.params)}" for d in defs)


def _def_label(d: Definition) -> str:
    return f"{d.kind} `{d.qualname}` at `{d.citation}`"


MISSING_CONFIDENCE = 0.6  # a backticked name nothing defines, the plan not saying it is new
QUESTION_CONFIDENCE = 0.6
"""Findings at least this sure become question cards (severity warning or error); the rest
are listed on request (`parallizer check --all`, `POST /review?all=true`)."""
TYPE_KINDS = frozenset({"class", "type", "interface", "trait", "enum", "struct"})


_PLAIN_WORD = re.compile(r"[a-z]+")


_SPAN = re.compile(r"`([^`\n]+)`")
_WORD = re.compile(r"\w+(?:\.\w+)*")
_PLAIN = re.compile(r"[a-z]+|[A-Z][a-z]+|[A-Z]+")  # an English word, an acronym
OPEN_REACH = 2  # lines around an open decision's sentence whose names it concerns


def _open_spot_of(text: str, spots: Sequence[OpenSpot], lines: Sequence[str]) -> OpenSpot | None:
    """The open decision a question is about: the first whose sentence, or the lines just
    around it, hold a name the question names (in a code span, or a word shaped like a
    name: `ConfigWatcher`, `max_retries`; `Cart.total` also by its last part)."""
    named = {s.strip().rstrip("()") for s in _SPAN.findall(text)}
    named |= {w for w in _WORD.findall(_SPAN.sub(" ", text)) if not _PLAIN.fullmatch(w)}
    named |= {n.rpartition(".")[2] for n in named}
    named = {n for n in named if len(n) > 2 and not n.isdigit()}
    for spot in spots:
        near = "\n".join(lines[max(0, min(spot.lines) - OPEN_REACH) : max(spot.lines) + 1 + OPEN_REACH])
        words = set(_WORD.findall(f"{spot.sentence}\n{near}"))
        if named & (words | {p for w in words for p in w.split(".")}):
            return spot
    return None


def _is_type_name(name: str) -> bool:
    return name[:1].isupper() and not name.isupper()


def _weigh(r: Resolution, confidence: float) -> float | None:
    """How sure a claim about `r` is, from what the plan says of the name (the reader's
    `what` and sentence contexts); None: no claim at all.

    A changelog's past release, a command, an acronym are never claims; a placeholder of
    an example or a name in the plan's own open question is never "missing"; a name the plan
    says exists ("the existing `X`") makes a stronger claim; a word of prose a weaker one."""
    contexts = r.contexts - {""}
    v = r.verdict
    if contexts and contexts <= {"history"}:
        return None  # what it was then, not what the code is now
    if contexts and contexts <= {"external", "setting"} and v is not Verdict.found:
        return None  # `[zod](https://github.com/…)`: another project's name; "the `X`
        # environment variable": the environment's
    if r.what in ("acronym", "command"):
        return None
    example = "example" in contexts or r.what == "example"
    if v in (Verdict.missing, Verdict.missing_path) and (
        example or contexts & {"asked", "declared", "external"}
    ):
        return None
    if v is Verdict.missing and r.what in ("term", "constant") and "existing" not in contexts:
        return None  # `Security`, `Pattern_White_Space`, `NO_COLOR`: a word, a setting
    if r.what == "term" and v is Verdict.wrong_name and r.suggestions:
        s = r.suggestions[0]
        if fold(s.name) != fold(r.name) and s.kind not in TYPE_KINDS:
            return None  # a capitalised word near a function's name is a word; `Memmo` is
            # a slip of the class `Memo`
    if "existing" in contexts and v in (Verdict.missing, Verdict.wrong_owner, Verdict.wrong_name):
        confidence += 0.2
    elif v is Verdict.missing:
        if _PLAIN_WORD.fullmatch(r.name):
            confidence -= 0.2  # `workers`, `logrotate`, `uvloop`: a word, a tool, a package
        if r.langs and "" not in r.langs:
            confidence -= 0.15  # only in the plan's own code: an example's own names
    if example:
        confidence -= 0.15
    if not r.coded:
        confidence -= 0.15
    return max(0.0, min(confidence, 0.99))


ANCESTRY = 4  # generations of base classes read to tell an inherited member


def _with_ancestors(index: Snapshot, want: set[tuple[str, int]]) -> dict[tuple[str, int], list[str]]:
    """For each class definition (path, line): its body, then those of the classes it
    derives from, up to ANCESTRY generations (`BalancedPool extends PoolBase`, whose head
    says `extends DispatcherBase`: a member of DispatcherBase is BalancedPool's too). Reads
    files: run it in a thread."""
    bodies = index.lines.bodies(want)
    out: dict[tuple[str, int], list[str]] = {}
    for key in want:
        chain = [bodies[key]] if key in bodies else []
        seen = {key}
        frontier = list(chain)
        for _ in range(ANCESTRY):
            parents: set[tuple[str, int]] = set()
            for body in frontier:
                for base in class_bases("\n".join(body.split("\n")[:3])):
                    for d in index.lookup(base):
                        if d.kind in TYPE_KINDS and (d.path, d.line) not in seen:
                            parents.add((d.path, d.line))
            if not parents:
                break
            seen |= parents
            read = index.lines.bodies(parents)
            frontier = [read[p] for p in sorted(parents) if p in read]
            chain += frontier
        out[key] = chain
    return out


# languages one tree's code answers for each other
_FAMILY = {"typescript": "javascript", "cpp": "c", "kotlin": "java", "scala": "java"}


def _in_tree_languages(facts: PlanFacts, tree: Sequence[str]) -> list[Mention]:
    """The uses the tree's code can answer for: a plan written about another language (its
    code blocks are all in languages the tree has none of: an Elixir guide beside a Rust
    tree) has only its paths checked; a name read from a code block of another language is
    not looked up."""
    have = {_FAMILY.get(lang, lang) for lang in tree}
    speaks = {_FAMILY.get(lang, lang) for lang in facts.code_languages}
    if speaks and not speaks & have:
        return [u for u in facts.uses if u.kind == "path"]
    return [u for u in facts.uses if not u.lang or _FAMILY.get(u.lang, u.lang) in have]


def _replace_last(text: str, name: str, new: str) -> str:
    """`text` with its last part `name` written as `new` (`HelpFormater.write_dl` keeps its
    method when the owner is what is wrong: the caller passes that part)."""
    return text[: -len(name)] + new if text.endswith(name) else new


def _finding(
    ctx: FulfillerContext,
    kind: str,
    name: str,
    spans: Sequence[tuple[int, int, int]],
    line: int,
    confidence: float,
    message: str,
    fix: str | None,
    cites: Sequence[str],
) -> Finding:
    """The finding of a question: its range is where the plan writes the name on `line` (the
    use nearest the cursor), else its first use, else the whole line; UTF-16 columns."""
    lines = ctx.document.lines

    def utf16(span: tuple[int, int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
        ln, a, b = span
        raw = lines[ln] if 0 <= ln < len(lines) else ""
        return (ln, utf16_column(raw, a)), (ln, utf16_column(raw, b))

    known = [sp for sp in spans if 0 <= sp[0] < len(lines)]
    if not known:
        raw = lines[line] if 0 <= line < len(lines) else ""
        known = [(line, len(raw) - len(raw.lstrip()), len(raw.rstrip()))]
    main = next((sp for sp in known if sp[0] == line), known[0])
    return Finding(
        name=name,
        kind=kind,
        range=utf16(main),
        severity=severity_of(confidence),
        fix=fix,
        confidence=confidence,
        message=message,
        citations=list(dict.fromkeys(cites)),
        ranges=[utf16(sp) for sp in known],
    )


class Ambiguities:
    name: ClassVar[str] = "ambiguities"
    card_type: ClassVar[CardType] = CardType.question

    def __init__(
        self,
        code: Knowledge,
        rg: CodeBackend,
        llm: LLM | None = None,
        deps: Dependencies | None = None,
    ) -> None:
        self.code = code
        self.rg = rg
        self.llm = llm
        self.deps = deps
        # per snapshot: (the plan's own path, word) -> is it a word of the code
        self._seen: weakref.WeakKeyDictionary[Snapshot, TTLCache[tuple[str, str], bool]] = (
            weakref.WeakKeyDictionary()
        )

    def availability(self) -> Availability:
        if self.llm is not None:
            how = "LLM: questions written from the code index and ripgrep (offline fallback)"
        else:
            how = "offline: questions from the plan, the code index and ripgrep"
        return with_ripgrep(self.rg, how)

    async def findings(self, ctx: FulfillerContext) -> list[Finding]:
        """Every finding the code and the plan support, best first, none capped: what the
        cards show the top of, and what the Language Server and `check` report whole."""
        facts = read(ctx.document)
        checked = await self.check(ctx, facts)
        questions = sorted(
            self.write(ctx, facts, checked, opens=None), key=lambda q: (-q.score, q.line)
        )
        return [q.finding for q in questions if q.finding is not None]

    async def fulfill(self, ctx: FulfillerContext) -> list[Card]:
        """The plan's own open decisions at once while the scope's index is still being
        built; then every question, the code's certain ones before an LLM writes its own."""
        facts = read(ctx.document)
        cap = ctx.settings.max_questions
        root = ctx.job.scope_root
        if root is not None and self.code.peek(root) is None:
            ctx.emit(self.cards(self.write(ctx, facts, Checked()), cap))
        if self.llm is None or root is None:
            checked = await self.check(ctx, facts)
            return self.cards(self.write(ctx, facts, checked), cap)
        return await self._with_llm(ctx, facts)

    # --- 1. check ---------------------------------------------------------------------------

    async def check(self, ctx: FulfillerContext, facts: PlanFacts) -> Checked:
        checked = Checked()
        root = ctx.job.scope_root
        if root is None:
            log.info("no scope_root: only the plan's open spots can be asked about")
            return checked
        try:
            index = await self.code.snapshot(root)
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

        def resolve() -> tuple[list[Mention], list[Resolution]]:
            # the tree's languages are a walk over its files, once per snapshot: not on the
            # event loop either
            uses = sorted(  # nearest the cursor first: they get the bounded work
                _in_tree_languages(facts, index.languages()),
                key=lambda u: (-doc.proximity(u.line), abs(u.line - doc.cursor[0])),
            )
            return uses, index.resolve(uses, facts.introduced, facts.proposed)

        uses, checked.resolutions = await in_thread(len(doc.text), resolve)  # its lane
        if self.deps is not None:
            checked.resolutions = await self._dependencies(ctx, index, facts, uses, checked)
        pending = self._pending(ctx, checked.resolutions)
        wrong_owner = [r for r in checked.resolutions if r.verdict is Verdict.wrong_owner]
        if not pending and not wrong_owner:
            return checked
        want = {(d.path, d.line) for r in wrong_owner for d in r.owners[:2]}
        async with asyncio.TaskGroup() as tg:  # class bodies read while rg checks the words
            reading = tg.create_task(asyncio.to_thread(_with_ancestors, index, want))
            await self._text_check(ctx, index, pending, checked.words)
        bodies = reading.result()
        for r in wrong_owner:
            checked.bodies[r.text] = [
                b for d in r.owners[:2] for b in bodies.get((d.path, d.line), ())
            ]
        return checked

    async def _dependencies(
        self,
        ctx: FulfillerContext,
        index: Snapshot,
        facts: PlanFacts,
        uses: Sequence[Any],
        checked: Checked,
    ) -> list[Resolution]:
        """The dependency pass (`code/deps.py`): the names the project lacks, checked against
        the packages it has installed (a query of the timing report). Its failure leaves the
        project's own resolutions. With nothing installed it only adds what the cards should
        say (the scope has no environment), in memory."""
        deps, root = self.deps, ctx.job.scope_root
        assert deps is not None and root is not None
        resolutions = checked.resolutions
        if not await deps.installed(root):
            try:
                return await deps.resolve(root, index, resolutions, uses, ctx.document.lines,
                                          facts.introduced, facts.proposed)  # fmt: skip
            except Exception as exc:  # never the request's failure
                log.warning("dependency notes of %s failed: %s", root.name, exc)
                return resolutions
        call = Call(
            label="the plan's names in the installed dependencies",
            backend="dependencies",
            run=lambda: deps.resolve(
                root, index, resolutions, uses, ctx.document.lines, facts.introduced,
                facts.proposed,
            ),
            timeout=ctx.settings.deps_wait + ctx.settings.rg_timeout,
        )
        [out] = await ctx.run([call], what="dependency checks")
        if not out.ok or out.value is None:
            log.info("dependency pass unavailable (%s): the project's own names only", out.error)
            return resolutions
        return out.value

    async def _text_check(
        self, ctx: FulfillerContext, index: Snapshot, words: list[str], found: dict[str, bool]
    ) -> None:
        """Which of `words` occur as words in the tree's code: one rg pass for all of them;
        when a frequent word filled the caps (so a rarer one may hide behind it), another pass
        for the words not seen yet, at most TEXT_CHECK_ROUNDS. A failed pass settles nothing.
        What a pass settled is kept with `index` (an editor reviewing the plan at each edit
        asks about the same words: one rg pass, not one per edit)."""
        root = ctx.job.scope_root
        assert root is not None
        plan = ctx.job.plan_relpath or ""
        kept = self._seen.get(index)
        if kept is None:
            kept = self._seen[index] = TTLCache(maxsize=TEXT_CHECK_KEPT, ttl=TEXT_CHECK_TTL)
        left = []
        for w in words:
            if (known := kept.get((plan, w))) is None:
                left.append(w)
            else:
                found[w] = known
        settled = len(words) - len(left)
        if settled:
            log.info("text checks: %d of %d words settled by an earlier pass", settled, len(words))
        try:
            await self._text_passes(ctx, root, plan, left, found)
        finally:
            for w in left:
                if w in found:
                    kept[(plan, w)] = found[w]

    async def _text_passes(
        self, ctx: FulfillerContext, root: Path, plan: str, left: list[str],
        found: dict[str, bool],
    ) -> None:  # fmt: skip
        for _ in range(TEXT_CHECK_ROUNDS):
            if not left:
                return
            query = self._words_query(left, plan or None)
            label = f"are they in the code: {' '.join(left)}"[:120]
            [out] = await ctx.run([code_call(self.rg, root, query, label)], what="text checks")
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

    def write(
        self,
        ctx: FulfillerContext,
        facts: PlanFacts,
        checked: Checked,
        *,
        opens: int | None = MAX_OPEN_LISTED,
    ) -> list[Question]:
        """Questions about the names and paths, then the plan's open spots (the best `opens`
        of them; None: all)."""
        questions: list[Question] = []
        for r in checked.resolutions:
            if (q := self._about(ctx, r, checked)) is not None:
                questions.append(q)
        spots = sorted(
            (self._open_spot(ctx, s, checked) for s in facts.open_decisions),
            key=lambda q: (-q.score, q.line),
        )
        return questions + spots[:opens]

    def cards(self, questions: list[Question], cap: int) -> list[Card]:
        """The confident questions (QUESTION_CONFIDENCE), best first, as at most `cap` cards."""
        sure = [q for q in questions if q.finding is None or q.finding.confidence >= QUESTION_CONFIDENCE]
        return [self._card(group) for group in self.pick(sure, cap)]

    @staticmethod
    def pick(questions: list[Question], cap: int) -> list[list[Question]]:
        """Best first, every question shown in `cap` cards. Mistakes (and ambiguities) come
        first; when they outnumber their slots, those of one kind share a card (the most
        certain kinds first, the last card holding whatever kinds are left). The plan's own
        open decisions keep one slot once mistakes fill the rest: one card, or one list of
        up to MAX_OPEN_LISTED of them."""
        ranked = sorted(questions, key=lambda q: (-q.score, q.line))
        if cap <= 0:
            return []
        mistakes = [q for q in ranked if q.mistake or q.kind == "ambiguous"]
        opens = [q for q in ranked if q not in mistakes][:MAX_OPEN_LISTED]
        if len(mistakes) + len(opens) <= cap:
            return [[q] for q in ranked[: len(mistakes) + len(opens)]]
        slots = cap - 1 if opens and cap > 1 else cap  # the open decisions' slot
        if len(mistakes) <= slots:
            groups = [[q] for q in mistakes]
        else:
            kinds: dict[str, list[Question]] = {}
            for q in mistakes:
                kinds.setdefault(q.kind, []).append(q)
            groups = list(kinds.values())
            if len(groups) > slots:
                groups = [*groups[: slots - 1], [q for g in groups[slots - 1 :] for q in g]]
            while len(groups) < slots:  # a spare slot: the largest group's best stands alone
                big = max(groups, key=len)
                if len(big) < 2:
                    break
                groups.insert(groups.index(big), [big[0]])
                big.pop(0)
        room = cap - len(groups)
        if opens and room > 0:  # the rest of the room: open decisions, the last a list
            groups += [[q] for q in opens[: room - 1]]
            groups.append(opens[room - 1 :])
        elif opens and len(groups[-1]) > 1:  # a list already: the best open spot joins it
            groups[-1].append(opens[0])
        return groups

    def _card(self, group: list[Question]) -> Card:
        findings = [q.finding for q in group if q.finding is not None]
        key = "\n".join(sorted(f"{q.kind}:{q.about or q.header}" for q in group))
        if len(group) == 1:
            q = group[0]
            header, text, cites = q.header, q.text, list(q.cites)
        else:
            kinds = {q.kind for q in group}
            if len(kinds) == 1 and group[0].kind in _GROUP_HEADER:
                header = _GROUP_HEADER[group[0].kind].format(n=len(group))
            elif not any(q.mistake or q.kind == "ambiguous" for q in group):
                header = f"{len(group)} things the plan leaves open"
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
            key=key,
            findings=findings or None,
        )

    def _nearness(self, ctx: FulfillerContext, lines: Iterable[int]) -> tuple[int, float]:
        doc = ctx.document
        line = max(lines, key=lambda i: (doc.proximity(i), -abs(i - doc.cursor[0])))
        return line, NEAR_FLOOR + (1.0 - NEAR_FLOOR) * doc.proximity(line)

    def _about(self, ctx: FulfillerContext, r: Resolution, checked: Checked) -> Question | None:
        v = r.verdict
        if not r.holds(checked.words):
            return None  # a word in the code after all, or not checked: no claim
        if r.package is not None or v is Verdict.undeclared:
            return self._about_dependency(ctx, r)
        if v is Verdict.wrong_owner and self._owner_may_have(r, checked):
            return None
        if r.kind != "path" and r.name.lower() in STOP_WORDS:
            return None
        line, near = self._nearness(ctx, r.lines)
        plan = ctx.job.plan_citation(line)
        t = r.text
        fix: str | None = None
        if v is Verdict.wrong_name:
            s = r.suggestions
            same = fold(s[0].name) == fold(r.name)
            # a slip keeps the name's case: `ValidationCompiler` near `validationCompleted`
            # is a concept's name, not a misspelt field
            style = s[0].name[:1].isupper() == r.name[:1].isupper()
            if same and not style and r.name[:1].islower() and checked.index is not None and any(
                d.kind in TYPE_KINDS for d in checked.index.lookup(s[0].name)
            ):
                return None  # "Returns: `retryHandler`": an instance of RetryHandler
            confidence = 0.95 if same else 0.8 if style else 0.5
            if same and not style and not r.owner and s[0].owner and r.name[:1].isupper():
                confidence = 0.5  # `DownloadProgress` (an event, a type) beside a member
                # `Request.downloadProgress`: another thing of the same name
            fix = _replace_last(t, r.name, s[0].name if r.owner else s[0].qualname)
            message = (
                f"The code defines no `{r.name}`: did you mean `{s[0].qualname}` ({s[0].citation})?"
            )
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
            confidence = 0.85
            if defs[0].owner and r.owner and r.owner in t:
                fix = t.replace(r.owner, defs[0].owner, 1)
            message = (f"`{r.owner}` has no `{r.name}`; it is on `{defs[0].owner}` "
                       f"({defs[0].citation})")  # fmt: skip
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
            confidence = 0.85
            message = f"{n} argument{'s' * (n != 1)} given, but {takes}"
            header = f"`{r.name}` takes {_params(d.params)}, the plan passes {n}"
            text = (
                f"The plan calls `{t}` with {n} argument{'s' * (n != 1)} (`{plan}`), but "
                f"{takes}. Which is right: a new signature, or a different call?"
            )
            item = f"`{t}` (`{plan}`): {n} given, but {takes}"
            cites = [plan, *(x.citation for x in r.definitions)]
        elif v is Verdict.missing_path:
            if "/" not in r.name.strip("/") and (r.name in WELL_KNOWN_FILES or not r.near_paths):
                return None  # `mypy.ini`, `my-shell-library.bash`: the reader's, not this tree's
            close = [f"`{p}`" for p in r.near_paths]
            ask = (
                f"Did you mean {_or_list(close)}, or is it a new file?"
                if close
                else "Is it a new file?"
            )
            header = f"No file `{r.name}`"
            nested = "/" in r.name.strip("/")
            confidence = (0.85 if close else 0.65) if nested else 0.7
            fix = r.near_paths[0] if r.near_paths else None
            message = "No such file under the scope" + (
                f": did you mean `{r.near_paths[0]}`?" if r.near_paths else ""
            )
            text = f"The plan refers to `{r.name}` (`{plan}`), but no such file exists under the scope. {ask}"
            item = f"`{r.name}` (`{plan}`)" + (f": did you mean {close[0]}?" if close else "")
            cites = [plan]
        elif v is Verdict.missing:
            header = f"Nothing defines `{t}`"
            rel = r.suggestions[0] if r.suggestions else None
            confidence = MISSING_CONFIDENCE
            if r.owner and _is_type_name(r.owner) and checked.index is not None and any(
                d.kind in TYPE_KINDS for d in checked.index.lookup(r.owner)
            ):
                confidence = 0.75  # a member the plan puts on a class the tree has
            message = f"Nothing in the tree defines or mentions `{r.name}`, and the plan does not say it is new"
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
                + (f" {r.note}" if r.note else "")
            )
            item = f"`{t}` (`{plan}`): not defined anywhere, and not introduced as new" + (
                f"; the tree has `{rel.qualname}` (`{rel.citation}`)" if rel else ""
            ) + (f". {r.note}" if r.note else "")
            cites = [plan, *([rel.citation] if rel else [])]
        elif v is Verdict.ambiguous:
            defs = r.definitions
            sure = self._ambiguity(ctx, r, checked)
            if sure is None:
                return None
            confidence = sure
            listing = "\n".join(f"- {_def_label(d)}" for d in defs[:4])
            more = f"\n- … and {len(defs) - 4} more" if len(defs) > 4 else ""
            header = f"Which `{t}`?"
            message = f"`{defs[0].qualname}` is defined in {len(defs)} source files: " + ", ".join(
                d.citation for d in defs[:4]
            )
            text = (
                f"The plan names `{t}` (`{plan}`), and the code defines `{defs[0].qualname}` "
                f"in {len(defs)} source files:\n\n{listing}{more}\n\nWhich one does the plan mean?"
            )
            item = f"`{t}` (`{plan}`): " + ", ".join(f"`{d.citation}`" for d in defs[:4])
            cites = [plan, *(d.citation for d in defs[:4])]
        else:
            return None
        weighed = _weigh(r, confidence)
        if weighed is None:
            return None
        score = TIER[v.value] + near
        finding = _finding(ctx, v.value, t, r.spans, line, weighed, message, fix, cites)
        return Question(v.value, score, line, header, text, tuple(cites), item, r.text, finding)

    def _about_dependency(self, ctx: FulfillerContext, r: Resolution) -> Question | None:
        """A question about a dependency's API at the version installed, or about a package
        the project does not have; every one names the version that matters."""
        v = r.verdict
        line, near = self._nearness(ctx, r.lines)
        plan = ctx.job.plan_citation(line)
        t = r.text
        pkg = r.package
        fix: str | None = None
        kind = v.value
        if v is Verdict.undeclared:
            strong = not r.needs_text
            confidence = 0.8 if strong else 0.6
            header = f"`{r.name}` is not a dependency of the project"
            why = r.note.split(". ", 1)[0]
            message = f"`{r.name}` is {why}"
            text = f"The plan relies on the package `{r.name}` (`{plan}`), but it is {r.note}"
            item = f"`{r.name}` (`{plan}`): {why}"
            cites = [plan]
        elif pkg is None:
            return None
        elif v is Verdict.wrong_name:
            s = r.suggestions
            on_class = r.owners[0].name if r.owners else None
            where = f"`{on_class}` in {pkg.label}" if on_class else pkg.label
            same = fold(s[0].name) == fold(r.name)
            confidence = 0.9 if same else 0.85 if not r.needs_text else 0.7
            fix = _replace_last(t, r.name, s[0].name)
            named = [f"`{d.qualname}` ({d.kind}, `{d.citation}`)" for d in s]
            header = f"`{t}`: did you mean `{s[0].qualname}`?"
            message = (f"{where} (installed) has no `{r.name}`: did you mean `{s[0].qualname}` "
                       f"({s[0].citation})?")  # fmt: skip
            text = (
                f"The plan uses `{t}` (`{plan}`), but {where}, the version installed, has no "
                f"`{r.name}`. Did you mean {_or_list(named)}? Or is `{r.name}` from another "
                f"version of {pkg.name}?"
            )
            item = (f"`{t}` (`{plan}`): {pkg.label} has no `{r.name}`; did you mean "
                    f"`{s[0].qualname}` (`{s[0].citation}`)?")  # fmt: skip
            cites = [plan, *(d.citation for d in s)]
        elif v is Verdict.wrong_owner:
            defs = r.definitions
            cls = r.owners[0] if r.owners else None
            cls_name = cls.name if cls else r.owner
            confidence = 0.85
            if cls is not None and r.owner == cls.name and defs[0].owner:
                fix = t.replace(cls.name, defs[0].owner, 1)
            other = [f"`{cls_name}.{d.name}` (`{d.citation}`)" for d in r.suggestions[:1]]
            header = f"`{r.name}` is not on `{cls_name}`: `{defs[0].qualname}`?"
            message = (f"`{cls_name}` ({pkg.label}) has no `{r.name}`; it is on "
                       f"`{defs[0].owner}` ({defs[0].citation})")  # fmt: skip
            on = _or_list([f"`{d.owner}` (`{d.citation}`)" for d in defs])
            text = (
                f"The plan uses `{t}` (`{plan}`), but `{cls_name}`"
                + (f" (`{cls.citation}`)" if cls else "")
                + f" in {pkg.label}, the version installed, has no `{r.name}`; it is defined "
                f"on {on}. Did you mean `{defs[0].qualname}`"
                + (f", or {other[0]}" if other else "")
                + "?"
            )
            item = (f"`{t}` (`{plan}`): `{r.name}` is on `{defs[0].owner}` in {pkg.label} "
                    f"(`{defs[0].citation}`)")  # fmt: skip
            cites = [plan, *(d.citation for d in defs), *([cls.citation] if cls else [])]
        elif v is Verdict.missing:
            cls = r.owners[0] if r.owners else None
            what = f"`{cls.name}.{r.name}`" if cls else f"`{r.name}`"
            confidence = 0.75
            header = f"{pkg.label} has no {what}"
            message = f"{pkg.label}, the version installed, has no {what}"
            has = _or_list([f"`{d.qualname}` (`{d.citation}`)" for d in r.suggestions] or [""])
            text = (
                f"The plan uses `{t}` (`{plan}`), but {pkg.label}, the version installed, has "
                f"no {what}" + (f" (`{cls.name}` is at `{cls.citation}`)" if cls else "")
                + ": not even the word is in its code."
                + (f" It has {has}: is it one of those," if r.suggestions else " Is it")
                + f" from another version of {pkg.name} (then the project must change its "
                "pin), or from another package?"
            )
            item = f"`{t}` (`{plan}`): {pkg.label} has no {what}" + (
                f"; it has `{r.suggestions[0].qualname}` (`{r.suggestions[0].citation}`)"
                if r.suggestions else ""
            )  # fmt: skip
            cites = [plan, *([cls.citation] if cls else []), *(d.citation for d in r.suggestions)]
        else:
            return None
        score = TIER[kind] + near
        finding = _finding(ctx, kind, t, r.spans, line, confidence, message, fix, cites)
        return Question(kind, score, line, header, text, tuple(cites), item, r.text, finding)

    @staticmethod
    def _ambiguity(ctx: FulfillerContext, r: Resolution, checked: Checked) -> float | None:
        """How much a name defined in several places needs the plan to say which (None: it
        does not). The plan's own file (`twisted.md` beside `twisted.py`) or a file it names
        settles it; a method of a variable (`worker.autoEnd`) cannot be told apart at all; a
        name qualified by its module, or whose definitions are of different kinds (a module,
        a macro and a method `reduce`), is worth a look, not a question."""
        defs = r.definitions
        if ctx.job.plan_path is not None:
            stem = ctx.job.plan_path.stem
            if sum(d.path.rpartition("/")[2].rpartition(".")[0] == stem for d in defs) == 1:
                return None
        modules = checked.index.file_index.stems if checked.index is not None else set()
        if r.owner and r.owner[:1].islower() and r.owner not in modules:
            return None
        one_file = len({d.path for d in defs}) == 1  # `_termui_impl.getchar`: two branches
        if (r.owner and not one_file) or len({d.kind for d in defs}) > 1 or not r.coded:
            return 0.5
        return 0.65

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
        item = f"{header} (`{plan}`): “{clip(single_line(spot.sentence), 100)}” {ask}"
        raw = ctx.document.lines[spot.line] if spot.line < len(ctx.document.lines) else ""
        where = locate(raw, spot.cue) if spot.kind != "question" and spot.cue else None
        if spot.kind == "question":  # the question itself, from where it starts on its line
            start = locate(raw, spot.sentence.split("\n")[0][:40].strip())
            where = (start[0], len(raw.rstrip())) if start else None
        spans = ((spot.line, *where),) if where else ()
        name = clip(single_line(spot.sentence), 80) if spot.kind == "question" else spot.cue
        sure = OPEN_CONFIDENCE.get(spot.kind, OPEN_DEFAULT)
        finding = _finding(ctx, spot.kind, name, spans, spot.line, sure, ask, None, cites)
        return Question(spot.kind, TIER[spot.kind] * near + grounded, spot.line, header, text,
                        tuple(cites), item, spot.cue, finding)  # fmt: skip

    # --- LLM mode ---------------------------------------------------------------------------

    async def _with_llm(self, ctx: FulfillerContext, facts: PlanFacts) -> list[Card]:
        llm = self.llm
        root = ctx.job.scope_root
        assert llm is not None and root is not None
        plan = ctx.plan()
        planning = plan_call(ctx, llm)  # the request's one planning call, shared with WebContext
        calls: list[Call[Any]] = [code_call(self.rg, root, q.query, q.label) for q in plan.queries]
        cap = ctx.settings.max_questions
        async with asyncio.TaskGroup() as tg:  # resolution beside the searches and planning
            searching = tg.create_task(ctx.run([*calls, planning]))
            checked = await self.check(ctx, facts)
            # what the index and ripgrep established is certain: asked now, not after the LLM
            ctx.emit(self.cards(self.write(ctx, facts, checked), cap))
            outcomes = await searching
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
            more = await ctx.run([code_call(self.rg, root, q) for q in extra], what="LLM searches")
            results += [o.value for o in more if o.ok and o.value is not None]
        offline = self.write(ctx, facts, checked)
        facts_text = llm_planner.resolution_facts(checked.resolutions, checked.words)
        checker = checked.index
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
        # the LLM's own question rests on code it cites (checked above), and is about what
        # the plan leaves open: it names a name of an open decision's sentence (or of the
        # lines around it), and is shown under that sentence. A document that describes what exists gets none, however many
        # names it shows (of the trees' own docs, 12 in 146 leave something open; of the
        # eval's plans, 42 in 52)
        plan_name = ctx.job.plan_citation(0).rpartition(":")[0]
        llm_cards: list[Card] = []
        for c in fresh:
            if len(llm_cards) >= min(LLM_SLOTS, cap):
                break
            if not any(not x.startswith(f"{plan_name}:") for x in c.metadata.citations):
                continue
            spot = _open_spot_of(c.text, facts.open_decisions, ctx.document.lines)
            if spot is not None:
                llm_cards.append(c.model_copy(update={
                    "text": f"> {spot.sentence}\n\n{c.text}",
                    "metadata": c.metadata.model_copy(update={"citations": list(dict.fromkeys(
                        [ctx.job.plan_citation(spot.line), *c.metadata.citations]))}),
                }))  # fmt: skip
        return self.cards(offline, cap - len(llm_cards)) + llm_cards
