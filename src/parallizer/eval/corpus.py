"""Which documents of a tree the docs part checks: a rule, not a choice.

Every Markdown file in the tree (`*.md`, `*.markdown`), except those under a folder that holds
someone else's files or test data (node_modules, vendor, third_party, testdata, fixtures) and
those over MAX_DOC_BYTES (a changelog of a decade), in path order. The history part reads an
old tree's documents by the same rule, minus the project's own records of its past
(CHANGELOG, HISTORY, release notes: they name old APIs on purpose).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DOC_SUFFIXES = (".md", ".markdown")
SKIP_DIRS = frozenset({"node_modules", "vendor", "third_party", "testdata", "fixtures", ".venv"})
MAX_DOC_BYTES = 128 * 1024
RECORDS = re.compile(r"^(?:change(?:log|s)|history|news|releases?|release[-_ ]?notes)\b", re.I)


@dataclass(frozen=True, slots=True)
class Skipped:
    path: str  # relative to the tree
    why: str


def select_docs(tree: Path, *, records: bool = True) -> tuple[list[Path], list[Skipped]]:
    """The tree's documents by the rule (absolute paths), and those the rule left out with
    why (over the size cap, a record of the past when `records` is false)."""
    docs: list[Path] = []
    skipped: list[Skipped] = []
    for path in sorted(tree.rglob("*")):
        if path.suffix.lower() not in DOC_SUFFIXES or not path.is_file() or path.is_symlink():
            continue
        rel = path.relative_to(tree)
        if SKIP_DIRS & set(rel.parts[:-1]):
            continue
        if not records and RECORDS.match(path.stem):
            skipped.append(Skipped(rel.as_posix(), "a record of past releases"))
        elif path.stat().st_size > MAX_DOC_BYTES:
            skipped.append(Skipped(rel.as_posix(), f"over {MAX_DOC_BYTES // 1024} KiB"))
        else:
            docs.append(path)
    return docs, skipped
