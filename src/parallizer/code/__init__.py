"""Everything we know about code, behind one face per scope.

`CodeKnowledge` (one per process) gives a `Snapshot` of a scope: every definition (kind,
qualified name, language, `path:line`, the file's `Role`, arity) parsed with tree-sitter
(regex rules for a line or a language it does not read), the file list, and the face a
request uses: `lookup`, `qualified`, `members`, `near`; `resolve(uses)` for a plan's names and
paths (`Resolution`, `Verdict`); `role(path)`, `language(path)`; `lines` (files read on
demand, kept); `verify(citation)`. ripgrep stays the source of text evidence (uses, mentions);
the snapshot says where things are defined and what a plan's names are.

Inside: `languages` (the one language table, the role classifier and the index's values:
the one `Definition`, `Role`, `fold`), `snapshot`, `knowledge` (builds, refreshes), `parse` and `workers` (parsing in
worker processes), `extract/` (tree-sitter per language; `extract/lines.py` the regex
fallback), `resolve` (names and paths), `known` (standard names per language), `lines`.

The project's dependencies, behind the same lookup: `sources/` (what each ecosystem's tools
installed for a scope, at which versions, and what the project declares), `deps`
(`Dependencies`: environments per scope, each package indexed once per version when a plan
may name it) and `resolve_deps` (the dependency pass over the project's resolutions, and
what it reads: the project's imports, the plan's chained calls and package evidence, a
declaration's bases and return type).
"""

from .knowledge import CodeKnowledge
from .languages import (
    KINDS,
    Definition,
    Language,
    Role,
    editor_language,
    fence_language,
    fold,
    language,
    language_of,
    role_of,
    source_first,
)
from .resolve import MISTAKES, NameUse, Resolution, Resolver, Verdict
from .snapshot import BuildStats, Snapshot

__all__ = [
    "KINDS",
    "MISTAKES",
    "BuildStats",
    "CodeKnowledge",
    "Definition",
    "Language",
    "NameUse",
    "Resolution",
    "Resolver",
    "Role",
    "Snapshot",
    "Verdict",
    "editor_language",
    "fence_language",
    "fold",
    "language",
    "language_of",
    "role_of",
    "source_first",
]
