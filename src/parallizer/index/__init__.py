"""The code index: definitions of a scope's files, parsed with tree-sitter.

`IndexStore.get(root)` gives a `CodeIndex` (an immutable snapshot) of a scope: every
definition (kind, qualified name, language, `path:line`, the file's `Role`, arity), looked up
by exact name, qualified name, folded name, near name or owner. ripgrep stays the source of
text evidence (uses, mentions); the index says where things are defined.
"""

from .code_index import BuildStats, CodeIndex
from .files import language_of, role_of
from .model import KINDS, Definition, Role, fold
from .store import IndexStore

__all__ = [
    "KINDS",
    "BuildStats",
    "CodeIndex",
    "Definition",
    "IndexStore",
    "Role",
    "fold",
    "language_of",
    "role_of",
]
