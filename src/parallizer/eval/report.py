"""Figures per tree and in total, per mode: a rich table, eval.json and eval.md."""

from __future__ import annotations

import json
import platform
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from .cases import Suite
from .run import PlanRun

LLM_NOTE = (
    "LLM rows run through `parallizer emulate llm`, which answers from the prompt's words: "
    "they measure the plumbing and the offline fallback, not an LLM's judgement."
)


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
        self.keep += len(run.plan.keep)
        self.false_missing += len(s.false_missing)
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


def rows(suite: Suite, runs: list[PlanRun]) -> list[Row]:
    out: list[Row] = []
    for mode in dict.fromkeys(r.mode for r in runs):
        total = Row(mode, "total", "all")
        for name, spec in suite.trees.items():
            row = Row(mode, name, spec.language)
            for run in runs:
                if run.mode == mode and run.plan.tree == name:
                    row.add(run)
                    total.add(run)
            if row.plans:
                out.append(row)
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


def table(all_rows: list[Row]) -> Table:
    t = Table(title="parallizer eval: planted mistakes at the end-of-plan cursor, default settings")
    for h in HEADERS:
        t.add_column(h, overflow="fold")
    for r in all_rows:
        t.add_row(*_cells(r), style="bold" if r.tree == "total" else None)
    t.caption = LLM_NOTE
    return t


def kinds_line(all_rows: list[Row]) -> str:
    """Named per kind of mistake, in total, per mode."""
    parts = []
    for r in all_rows:
        if r.tree == "total":
            kinds = ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(r.by_kind.items()))
            parts.append(f"{r.mode}: {kinds}")
    return "Named by kind (total): " + "; ".join(parts)


def markdown(all_rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for r in all_rows:
        cells = _cells(r)
        if r.tree == "total":
            cells = [f"**{c}**" for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", kinds_line(all_rows), "", LLM_NOTE]
    return "\n".join(lines) + "\n"


def details(runs: list[PlanRun]) -> list[dict[str, Any]]:
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


def write(out: Path, suite: Suite, runs: list[PlanRun]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    all_rows = rows(suite, runs)
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
        "note": LLM_NOTE,
        "rows": [r.figures() for r in all_rows],
        "plans": details(runs),
    }
    j = out / "eval.json"
    j.write_text(json.dumps(body, indent=1, ensure_ascii=False) + "\n")
    m = out / "eval.md"
    m.write_text("# parallizer eval\n\n" + markdown(all_rows))
    return [j, m]
