"""Name resolution: what each name and path of a plan is in the tree's code index (defined,
on which class, with what arity; introduced by the plan; a standard-library name; a wrong
name and what it probably means; missing), and the builtin/standard names of each language."""

from .known import known_names
from .names import (
    MISTAKES,
    NameUse,
    Resolution,
    Resolver,
    Verdict,
    resolve,
    source_first,
    tree_languages,
)
from .paths import FileIndex

__all__ = [
    "MISTAKES",
    "FileIndex",
    "NameUse",
    "Resolution",
    "Resolver",
    "Verdict",
    "known_names",
    "resolve",
    "source_first",
    "tree_languages",
]
