"""Figures per part, per tree (or project, or history case) and in total, per mode, each
beside its goal: rich tables, eval.json and eval.md."""

from __future__ import annotations

import json
import platform
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from .cases import Suite
from .corpus import MAX_DOC_BYTES, SKIP_DIRS
from .run import DocRun, PlanRun, Results

LLM_NOTE = (
    "LLM rows run through `parallizer emulate llm`, which answers from the prompt's words: "
    "they measure the plumbing and the offline fallback, not an LLM's judgement."
)
CLAIM_NOTE = (
    "A claim is one finding a question card carries (its `metadata.findings` when the product "
    "sends them; until then one per line of a card listing several, else one per card): a "
    "wrong or missing name, a missing file, a wrong owner, an arity, an ambiguity, or an "
    "open-spot question. Every claim counts against the product except those about a reviewed "
    "real bug (eval/docs_known_bugs.toml) and, in the history part, those about a name the "
    "newer release removed or renamed."
)
DEP_KINDS = ("dep-misspelled", "dep-invented", "dep-wrong-owner", "dep-version", "not-a-dependency")
WORST = 10  # documents listed with their claims, per mode


# --- the plans and deps parts --------------------------------------------------------------


@dataclass
class Row:
    mode: str
    tree: str
    language: str
    plans: int = 0
    clean_plans: int = 0
    mistakes: int = 0
    named: int = 0
    corrected: int = 0
    cited: int = 0
    keep: int = 0
    false_missing: int = 0
    clean_noise: int = 0
    clean_noise_max: int = 0
    off_target: int = 0  # questions on mistake plans about nothing planted and nothing open
    citations: int = 0
    unresolved: int = 0
    cards: int = 0
    questions: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # kind -> [named, total]
    # the deps part
    dep_mistakes: int = 0
    dep_named: int = 0
    version_total: int = 0
    version_named: int = 0  # a dep-version mistake named with the installed version
    notdep_total: int = 0
    notdep_said: int = 0  # a package the project lacks, said not to be a dependency
    dep_keep: int = 0
    dep_false_missing: int = 0  # real APIs of installed packages called missing

    def add(self, run: PlanRun) -> None:
        s = run.score
        self.plans += 1
        self.clean_plans += run.plan.clean
        self.mistakes += len(s.mistakes)
        for m in s.mistakes:
            self.named += m.named
            self.corrected += m.corrected
            self.cited += m.cited
            k = self.by_kind.setdefault(m.kind, [0, 0])
            k[0] += m.named
            k[1] += 1
            if m.kind in DEP_KINDS:
                self.dep_mistakes += 1
                self.dep_named += m.named
            if m.kind == "dep-version":
                self.version_total += 1
                self.version_named += m.named and m.corrected
            if m.kind == "not-a-dependency":
                self.notdep_total += 1
                self.notdep_said += m.named and m.corrected
        self.keep += len(run.plan.keep)
        self.false_missing += len(s.false_missing)
        deps = {k.name for k in run.plan.keep if k.why == "dependency"}
        self.dep_keep += len(deps)
        self.dep_false_missing += len(deps & set(s.false_missing))
        if run.plan.clean:
            self.clean_noise += len(s.noise)
            self.clean_noise_max = max(self.clean_noise_max, len(s.noise))
        else:
            self.off_target += len(s.noise)
        self.citations += len(s.citations)
        self.unresolved += len(s.unresolved)
        self.cards += s.cards
        self.questions += s.questions
        self.errors += run.error is not None or bool(run.failed)
        self.latencies.append(run.latency_ms)

    def figures(self) -> dict[str, Any]:
        lat = self.latencies or [0.0]
        d = asdict(self)
        d.pop("latencies")
        return d | {
            "cards_per_request": round(self.cards / max(self.plans, 1), 2),
            "questions_per_request": round(self.questions / max(self.plans, 1), 2),
            "latency_ms_mean": round(statistics.fmean(lat), 1),
            "latency_ms_max": round(max(lat), 1),
        }


def rows(suite: Suite, runs: list[PlanRun], part: str = "plans") -> list[Row]:
    """Per tree (part `plans`) or per project (part `deps`), then the total, per mode."""
    names = suite.trees if part == "plans" else suite.projects
    out: list[Row] = []
    for mode in dict.fromkeys(r.mode for r in runs):
        total = Row(mode, "total", "all")
        for name in names:
            row = Row(mode, name, suite.language(name))
            for run in runs:
                if run.mode == mode and run.plan.tree == name:
                    row.add(run)
                    total.add(run)
            if row.plans:
                out.append(row)
        if total.plans:
            out.append(total)
    return out


def _pct(a: int, b: int) -> str:
    return f"{a}/{b} ({100 * a / b:.0f}%)" if b else "-"


def _cells(r: Row) -> list[str]:
    f = r.figures()
    return [
        r.mode,
        r.tree,
        r.language,
        f"{r.plans - r.clean_plans}+{r.clean_plans}",
        _pct(r.named, r.mistakes),
        _pct(r.corrected, r.mistakes),
        f"{r.false_missing}/{r.keep}",
        f"{r.clean_noise} (max {r.clean_noise_max})" if r.clean_plans else "-",
        f"{r.off_target}",
        f"{r.unresolved}/{r.citations}",
        f"{f['cards_per_request']:.1f} ({f['questions_per_request']:.1f} q)",
        f"{f['latency_ms_mean']:.0f} / {f['latency_ms_max']:.0f}",
    ]


HEADERS = [
    "mode", "tree", "lang", "plans (mistakes+clean)", "caught: named",
    "named with correction", "false missing / kept names", "noise on clean plans",
    "off-target q on mistake plans", "unresolved citations", "cards/request (questions)",
    "latency ms mean / max",
]  # fmt: skip
DEP_HEADERS = [
    "mode", "project", "lang", "plans (mistakes+clean)", "dependency mistakes named",
    "with the version", "real dependency APIs called missing", "'not a dependency' said",
    "all mistakes named", "false missing / kept names", "noise on clean plans",
]  # fmt: skip


def _dep_cells(r: Row) -> list[str]:
    return [
        r.mode,
        r.tree,
        r.language,
        f"{r.plans - r.clean_plans}+{r.clean_plans}",
        _pct(r.dep_named, r.dep_mistakes),
        _pct(r.version_named, r.version_total),
        f"{r.dep_false_missing}/{r.dep_keep}",
        _pct(r.notdep_said, r.notdep_total),
        _pct(r.named, r.mistakes),
        f"{r.false_missing}/{r.keep}",
        f"{r.clean_noise} (max {r.clean_noise_max})" if r.clean_plans else "-",
    ]


def kinds_line(all_rows: list[Row]) -> str:
    """Named per kind of mistake, in total, per mode."""
    parts = []
    for r in all_rows:
        if r.tree == "total":
            kinds = ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(r.by_kind.items()))
            parts.append(f"{r.mode}: {kinds}")
    return "Named by kind (total): " + "; ".join(parts)


# --- the docs and history parts --------------------------------------------------------------


@dataclass
class DocRow:
    mode: str
    group: str  # a tree (docs) or a history case
    language: str
    documents: int = 0
    claims: int = 0  # every claim
    against: int = 0  # held against the product
    known: int = 0  # about a reviewed real bug
    true: int = 0  # history: about a removed or renamed name
    questions: int = 0  # question cards
    expected: int = 0  # history: removed names the documents use
    named: int = 0
    corrected: int = 0
    errors: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)  # claims held against, per kind
    latencies: list[float] = field(default_factory=list)

    def add(self, run: DocRun) -> None:
        s = run.score
        self.documents += 1
        self.claims += len(run.claims)
        self.against += len(s.against)
        self.known += len(s.known)
        self.true += len(s.true)
        self.questions += run.questions
        self.expected += len(s.expected)
        self.named += sum(f.named for f in s.expected)
        self.corrected += sum(f.corrected for f in s.expected)
        self.errors += run.answer.error is not None or bool(run.answer.failed)
        for c in s.against:
            self.by_kind[c.kind] = self.by_kind.get(c.kind, 0) + 1
        self.latencies.append(run.answer.latency_ms)

    @property
    def per_doc(self) -> float:
        return self.against / self.documents if self.documents else 0.0

    def figures(self) -> dict[str, Any]:
        lat = self.latencies or [0.0]
        d = asdict(self)
        d.pop("latencies")
        return d | {
            "claims_per_document": round(self.per_doc, 3),
            "latency_ms_mean": round(statistics.fmean(lat), 1),
            "latency_ms_max": round(max(lat), 1),
        }


def doc_rows(suite: Suite, runs: list[DocRun], part: str) -> list[DocRow]:
    runs = [r for r in runs if r.part == part]
    out: list[DocRow] = []
    for mode in dict.fromkeys(r.mode for r in runs):
        total = DocRow(mode, "total", "all")
        for group in dict.fromkeys(r.group for r in runs if r.mode == mode):
            first = next(r for r in runs if r.group == group)
            row = DocRow(mode, group, suite.language(first.tree))
            for run in runs:
                if run.mode == mode and run.group == group:
                    row.add(run)
                    total.add(run)
            out.append(row)
        out.append(total)
    return out


DOC_HEADERS = [
    "mode", "tree", "lang", "documents", "claims held against", "claims per document",
    "about real doc bugs", "question cards", "errors", "latency ms mean / max",
]  # fmt: skip
HISTORY_HEADERS = [
    "mode", "case", "old -> new", "documents", "removed names used", "named",
    "named with correction", "other claims", "other claims per document",
]  # fmt: skip


def _doc_cells(r: DocRow) -> list[str]:
    f = r.figures()
    return [
        r.mode,
        r.group,
        r.language,
        str(r.documents),
        str(r.against),
        f"{r.per_doc:.2f}",
        str(r.known),
        str(r.questions),
        str(r.errors),
        f"{f['latency_ms_mean']:.0f} / {f['latency_ms_max']:.0f}",
    ]


def _history_cells(r: DocRow, suite: Suite) -> list[str]:
    h = next((h for h in suite.history if h.name == r.group), None)
    span = "-"
    if h is not None:
        span = f"{suite.trees[h.old].version} -> {suite.trees[h.new].version}"
    return [
        r.mode,
        r.group,
        span,
        str(r.documents),
        str(r.expected),
        _pct(r.named, r.expected),
        _pct(r.corrected, r.expected),
        str(r.against),
        f"{r.per_doc:.2f}",
    ]


def claim_kinds_line(all_rows: list[DocRow]) -> str:
    parts = []
    for r in all_rows:
        if r.group == "total":
            kinds = ", ".join(f"{k} {n}" for k, n in Counter(r.by_kind).most_common())
            parts.append(f"{r.mode}: {kinds or 'none'}")
    return "Claims held against, by kind (total): " + "; ".join(parts)


def worst(runs: list[DocRun], part: str, n: int = WORST) -> list[DocRun]:
    """Per mode, the documents with the most claims held against the product."""
    out: list[DocRun] = []
    for mode in dict.fromkeys(r.mode for r in runs):
        mine = [r for r in runs if r.mode == mode and r.part == part and r.score.against]
        out += sorted(mine, key=lambda r: (-len(r.score.against), r.tree, r.doc))[:n]
    return out


def _worst_md(runs: list[DocRun], part: str) -> list[str]:
    lines = []
    for r in worst(runs, part):
        lines.append(f"- {r.mode} `{r.tree}/{r.doc}`: {len(r.score.against)} claims")
        lines += [f"  - {c.kind} `{c.name}`: {c.text}" for c in r.score.against]
    return lines


# --- goals -----------------------------------------------------------------------------------


@dataclass
class Goal:
    part: str
    figure: str
    goal: str
    values: dict[str, tuple[str, bool | None]]  # mode -> (value, met; None: no goal)


def goals(suite: Suite, results: Results) -> list[Goal]:
    out: list[Goal] = []
    modes = list(dict.fromkeys([*(r.mode for r in results.plans), *(r.mode for r in results.docs)]))

    def add(part: str, figure: str, goal: str, fn: Any) -> None:
        values = {m: fn(m) for m in modes}
        values = {m: v for m, v in values.items() if v is not None}
        if values:
            out.append(Goal(part, figure, goal, values))

    def total(rows_: list[Any], mode: str) -> Any:
        return next((r for r in rows_ if r.mode == mode and r.tree == "total"), None)

    docs = doc_rows(suite, results.docs, "docs")
    hist = doc_rows(suite, results.docs, "history")
    plans = rows(suite, results.plans, "plans")
    deps = rows(suite, results.plans, "deps")

    def doc_total(rows_: list[DocRow], mode: str) -> DocRow | None:
        return next((r for r in rows_ if r.mode == mode and r.group == "total"), None)

    def per_doc(rows_: list[DocRow]) -> Any:
        def fn(mode: str) -> tuple[str, bool] | None:
            t = doc_total(rows_, mode)
            if t is None or not t.documents:
                return None
            return f"{t.per_doc:.2f} ({t.against} in {t.documents})", t.per_doc <= 0.2

        return fn

    def share(rows_: list[Any], num: str, den: str, at_least: float, get: Any) -> Any:
        def fn(mode: str) -> tuple[str, bool] | None:
            t = get(rows_, mode)
            if t is None or not getattr(t, den):
                return None
            a, b = getattr(t, num), getattr(t, den)
            return _pct(a, b), a / b >= at_least

        return fn

    def failed(mode: str) -> tuple[str, bool] | None:
        n, total_ = results.failed_in(mode)
        return (f"{n}/{total_}", n == 0) if total_ else None

    add("all", "requests that failed (refused or crashed)", "0", failed)
    add("docs", "claims per document", "<= 0.2", per_doc(docs))
    add(
        "history", "removed names named", ">= 80%", share(hist, "named", "expected", 0.8, doc_total)
    )
    add("history", "named with the new name", ">= 80%",
        share(hist, "corrected", "expected", 0.8, doc_total))  # fmt: skip
    add("history", "other claims per document", "<= 0.2", per_doc(hist))
    add("plans", "planted mistakes named", ">= 80%", share(plans, "named", "mistakes", 0.8, total))

    def clean(mode: str) -> tuple[str, bool] | None:
        t = total(plans, mode)
        if t is None or not t.clean_plans:
            return None
        return f"max {t.clean_noise_max} ({t.clean_noise} in {t.clean_plans})", (
            t.clean_noise_max <= 1
        )

    add("plans", "clean plans: questions beyond their open decisions", "<= 1 per plan", clean)
    add("deps", "dependency mistakes named", ">= 80%",
        share(deps, "dep_named", "dep_mistakes", 0.8, total))  # fmt: skip

    def dep_missing(mode: str) -> tuple[str, bool] | None:
        t = total(deps, mode)
        if t is None or not t.dep_keep:
            return None
        return f"{t.dep_false_missing}/{t.dep_keep}", t.dep_false_missing == 0

    add("deps", "real dependency APIs called missing", "0", dep_missing)

    def plain(num: str, den: str) -> Any:
        def fn(mode: str) -> tuple[str, None] | None:
            t = total(deps, mode)
            if t is None or not getattr(t, den):
                return None
            return _pct(getattr(t, num), getattr(t, den)), None

        return fn

    add("deps", "named with the version where it matters", "-",
        plain("version_named", "version_total"))  # fmt: skip
    add("deps", "'not a dependency' said for packages the project lacks", "-",
        plain("notdep_said", "notdep_total"))  # fmt: skip
    return out


def _goal_cells(g: Goal, modes: list[str]) -> list[str]:
    cells = [g.part, g.figure, g.goal]
    for m in modes:
        value, met = g.values.get(m, ("-", None))
        cells.append(value + ("" if met is None else " ✓" if met else " ✗"))
    return cells


# --- output ------------------------------------------------------------------------------------


def _modes(results: Results) -> list[str]:
    return list(dict.fromkeys([*(r.mode for r in results.plans), *(r.mode for r in results.docs)]))


def tables(suite: Suite, results: Results) -> list[Table]:
    out = []
    modes = _modes(results)
    t = Table(title="parallizer eval: figures beside their goals")
    for h in ["part", "figure", "goal", *modes]:
        t.add_column(h, overflow="fold")
    for g in goals(suite, results):
        t.add_row(*_goal_cells(g, modes))
    t.caption = LLM_NOTE
    out.append(t)
    for part, title in (("plans", "planted mistakes in plans"), ("deps", "dependency projects")):
        part_rows = rows(suite, results.plans, part)
        if not part_rows:
            continue
        t = Table(title=f"{part}: {title} (end-of-plan cursor, default settings)")
        headers, cells = (HEADERS, _cells) if part == "plans" else (DEP_HEADERS, _dep_cells)
        for h in headers:
            t.add_column(h, overflow="fold")
        for r in part_rows:
            t.add_row(*cells(r), style="bold" if r.tree == "total" else None)
        out.append(t)
    for part, title in (("docs", "the trees' own documents"), ("history", "old docs, new code")):
        d_rows = doc_rows(suite, results.docs, part)
        if not d_rows:
            continue
        t = Table(title=f"{part}: {title}")
        headers = DOC_HEADERS if part == "docs" else HISTORY_HEADERS
        for h in headers:
            t.add_column(h, overflow="fold")
        for dr in d_rows:
            c = _doc_cells(dr) if part == "docs" else _history_cells(dr, suite)
            t.add_row(*c, style="bold" if dr.group == "total" else None)
        out.append(t)
    return out


def lines(suite: Suite, results: Results) -> list[str]:
    """The one-line summaries printed under the tables."""
    out = []
    p = rows(suite, results.plans, "plans")
    if p:
        out.append(kinds_line(p))
    d = rows(suite, results.plans, "deps")
    if d:
        out.append(kinds_line(d).replace("Named by kind", "Dependency projects, named by kind"))
    for part in ("docs", "history"):
        r = doc_rows(suite, results.docs, part)
        if r:
            out.append(f"{part}: " + claim_kinds_line(r))
    return out


def _md_table(headers: list[str], body: list[list[str]], bold: list[bool]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for cells, b in zip(body, bold, strict=True):
        out.append("| " + " | ".join(f"**{c}**" if b else c for c in cells) + " |")
    return out


def markdown(suite: Suite, results: Results) -> str:
    modes = _modes(results)
    md = ["## Goals", ""]
    gl = goals(suite, results)
    md += _md_table(
        ["part", "figure", "goal", *modes], [_goal_cells(g, modes) for g in gl], [False] * len(gl)
    )
    for part, title in (("plans", "Planted mistakes in plans"), ("deps", "Dependency projects")):
        part_rows = rows(suite, results.plans, part)
        if not part_rows:
            continue
        headers, cells = (HEADERS, _cells) if part == "plans" else (DEP_HEADERS, _dep_cells)
        md += ["", f"## {title} (`--part {part}`)", ""]
        md += _md_table(
            headers, [cells(r) for r in part_rows], [r.tree == "total" for r in part_rows]
        )
        md += ["", kinds_line(part_rows)]
    for part, title in (("docs", "Documents in the trees"), ("history", "Old docs, new code")):
        d_rows = doc_rows(suite, results.docs, part)
        if not d_rows:
            continue
        md += ["", f"## {title} (`--part {part}`)", ""]
        if part == "docs":
            md += [
                f"Every `*.md` of each tree, except under {', '.join(sorted(SKIP_DIRS))} and "
                f"over {MAX_DOC_BYTES // 1024} KiB; checked against its own tree "
                "(fulfillers = ambiguities, cursor at the end).",
                "",
            ]
            body = [_doc_cells(r) for r in d_rows]
            md += _md_table(DOC_HEADERS, body, [r.group == "total" for r in d_rows])
        else:
            md += [
                "An old release's documents (without its changelogs) checked against the new "
                "release's code; expected: each name a document uses that the new release's "
                "changelog records as removed or renamed.",
                "",
            ]
            body = [_history_cells(r, suite) for r in d_rows]
            md += _md_table(HISTORY_HEADERS, body, [r.group == "total" for r in d_rows])
            missed = [
                f"- {r.mode} `{r.tree}/{r.doc}`: `{f.names[0]}`"
                + (" (named, without the new name)" if f.named else "")
                for r in results.docs
                if r.part == "history"
                for f in r.score.expected
                if not f.corrected
            ]
            if missed:
                md += ["", "Not named with the new name:", "", *missed]
        md += ["", claim_kinds_line(d_rows), "", f"Worst documents ({WORST} per mode):", ""]
        md += _worst_md(results.docs, part)
    md += ["", CLAIM_NOTE, "", LLM_NOTE]
    return "\n".join(md) + "\n"


def plan_details(runs: list[PlanRun]) -> list[dict[str, Any]]:
    out = []
    for run in runs:
        s = run.score
        out.append(
            {
                "mode": run.mode,
                "tree": run.plan.tree,
                "plan": run.plan.id,
                "clean": run.plan.clean,
                "latency_ms": round(run.latency_ms, 1),
                "error": run.error,
                "failed_fulfillers": run.failed,
                "mistakes": [asdict(m) for m in s.mistakes],
                "false_missing": s.false_missing,
                "noise": s.noise,
                "unresolved_citations": [asdict(c) for c in s.unresolved],
                "cards": run.cards,
            }
        )
    return out


def doc_details(runs: list[DocRun]) -> list[dict[str, Any]]:
    return [
        {
            "part": r.part,
            "mode": r.mode,
            "group": r.group,
            "tree": r.tree,
            "doc": r.doc,
            "latency_ms": round(r.answer.latency_ms, 1),
            "error": r.answer.error,
            "failed_fulfillers": r.answer.failed,
            "against": [asdict(c) for c in r.score.against],
            "known_bugs": [asdict(c) for c in r.score.known],
            "true": [asdict(c) for c in r.score.true],
            "expected": [asdict(f) for f in r.score.expected],
            "cards": r.answer.cards,
        }
        for r in runs
    ]


def write(out: Path, suite: Suite, results: Results) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    body = {
        "environment": {"python": platform.python_version(), "machine": platform.machine()},
        "trees": {
            n: {
                "language": t.language,
                "source": t.source,
                "package": t.package,
                "version": t.version,
                "sha256": t.sha256,
            }
            for n, t in suite.trees.items()
        },
        "projects": {
            n: {"language": p.language, "install": p.install, "packages": list(p.packages)}
            for n, p in suite.projects.items()
        },
        "note": LLM_NOTE,
        "claim_note": CLAIM_NOTE,
        "goals": [asdict(g) for g in goals(suite, results)],
        "rows": [r.figures() for r in rows(suite, results.plans, "plans")],
        "deps_rows": [r.figures() for r in rows(suite, results.plans, "deps")],
        "docs_rows": [r.figures() for r in doc_rows(suite, results.docs, "docs")],
        "history_rows": [r.figures() for r in doc_rows(suite, results.docs, "history")],
        "plans": plan_details(results.plans),
        "documents": doc_details(results.docs),
    }
    j = out / "eval.json"
    j.write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n")
    m = out / "eval.md"
    m.write_text("# parallizer eval\n\n" + markdown(suite, results))
    return [j, m]
