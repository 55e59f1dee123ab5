"""Python: classes, functions, methods, class attributes (fields), module constants and
variables, `type` aliases. Definitions inside function bodies are not indexed; `if`/`try`
blocks at module or class level are (platform-dependent definitions)."""

from __future__ import annotations

from tree_sitter import Node

from .base import Sink, named_children, text

_BLOCKS = ("if_statement", "try_statement", "with_statement", "elif_clause", "else_clause",
           "except_clause", "finally_clause", "block")  # fmt: skip


def _splat(p: Node) -> str | None:
    """ "list" for *args, "dict" for **kwargs (typed or not), else None."""
    node = p.named_children[0] if p.type == "typed_parameter" and p.named_children else p
    if node.type == "list_splat_pattern":
        return "list"
    if node.type == "dictionary_splat_pattern":
        return "dict"
    return None


def _params(params: Node | None, *, drop_first: bool) -> tuple[int, int | None]:
    """(required, all) parameters a call writes; keyword-only ones count too, since a call
    writes them as arguments."""
    lo = hi = 0
    unbounded = False
    items = [
        p
        for p in named_children(params)
        if p.type not in ("positional_separator", "keyword_separator", "comment")
    ]
    if (
        drop_first
        and items
        and items[0].type in ("identifier", "typed_parameter")
        and _splat(items[0]) is None
    ):
        items = items[1:]
    for p in items:
        if _splat(p) is not None:
            unbounded = True
            continue
        hi += 1
        if p.type in ("identifier", "typed_parameter"):
            lo += 1
    return lo, None if unbounded else hi


def _decorators(node: Node) -> set[str]:
    out = set()
    for d in node.named_children:
        if d.type == "decorator":
            out.add(
                text(d.named_children[0]).split("(")[0].rsplit(".", 1)[-1]
                if d.named_children
                else ""
            )
    return out


_INITIALISERS = frozenset(("__init__", "__post_init__", "__new__", "setUp"))


class _Python:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.overloads: dict[str, int] = {}
        """Qualified name -> the row of a function declared with `@overload`: its other
        signatures and its implementation widen that one row (one function, not rivals)."""

    def body(self, node: Node, owners: tuple[str, ...], in_class: bool) -> None:
        for child in node.named_children:
            self.statement(child, owners, in_class, set())

    def statement(
        self, node: Node, owners: tuple[str, ...], in_class: bool, decos: set[str]
    ) -> None:
        t = node.type
        if t == "decorated_definition":
            definition = node.child_by_field_name("definition")
            if definition is not None:
                self.statement(definition, owners, in_class, _decorators(node))
        elif t == "function_definition":
            name = node.child_by_field_name("name")
            if name is None:
                return
            params = _params(
                node.child_by_field_name("parameters"),
                drop_first=in_class and "staticmethod" not in decos,
            )
            qual = ".".join((*owners, text(name)))
            at = self.overloads.get(qual)
            if at is not None:  # another signature of an overloaded function, or its body
                self._widen(at, params)
                if "overload" not in decos:
                    del self.overloads[qual]  # the implementation ends the set
                return
            if "overload" in decos:
                self.overloads[qual] = len(self.sink.defs)
            self.sink.add(name, name, "method" if in_class else "function", owners, params)
            if in_class and text(name) in _INITIALISERS:
                self.instance_fields(node, owners)
        elif t == "class_definition":
            name = node.child_by_field_name("name")
            if name is None:
                return
            body = node.child_by_field_name("body")
            start = len(self.sink.defs)
            qual = self.sink.add(name, name, "class", owners)
            inner = (*owners, text(name))
            if body is not None:
                self.body(body, inner, True)
            # a call to the class is a call to its __init__
            for d in self.sink.defs[start + 1 :]:
                if d[1] == f"{qual}.__init__" and d[5] >= 0:
                    self.sink.defs[start] = (*self.sink.defs[start][:5], d[5], d[6])
                    break
        elif t == "assignment":
            self.assignment(node, owners, in_class)
        elif t == "expression_statement":
            for a in node.named_children:
                if a.type == "assignment":
                    self.assignment(a, owners, in_class)
        elif t == "type_alias_statement":
            left = node.child_by_field_name("left")
            if left is not None:
                ident = left.named_children[0] if left.named_children else left
                self.sink.add(ident, ident, "type", owners)
        elif t in _BLOCKS:
            for child in node.named_children:
                if child.type in _BLOCKS or child.type.endswith(("statement", "definition")):
                    self.statement(child, owners, in_class, set())

    def _widen(self, at: int, params: tuple[int, int | None]) -> None:
        """Row `at` accepts what it did and `params` too."""
        row = self.sink.defs[at]
        lo, hi = row[5], row[6]
        lo = min(lo, params[0])
        hi = -1 if hi < 0 or params[1] is None else max(hi, params[1])
        self.sink.defs[at] = (*row[:5], lo, hi)

    def instance_fields(self, fn: Node, owners: tuple[str, ...]) -> None:
        """`self.x = ...` statements of an initialiser's body (not nested blocks) are fields
        of the class, unless the class body already defines them."""
        params = [p for p in named_children(fn.child_by_field_name("parameters"))
                  if p.type in ("identifier", "typed_parameter")]  # fmt: skip
        if not params:
            return
        first = params[0] if params[0].type == "identifier" else params[0].named_children[0]
        me = text(first)
        prefix = ".".join(owners) + "."
        known = {d[1] for d in self.sink.defs if d[1].startswith(prefix)}
        for stmt in named_children(fn.child_by_field_name("body")):
            node = (
                stmt.named_children[0]
                if stmt.type == "expression_statement" and stmt.named_children
                else stmt
            )
            if node.type != "assignment":
                continue
            left = node.child_by_field_name("left")
            if left is None or left.type != "attribute":
                continue
            obj, attr = left.child_by_field_name("object"), left.child_by_field_name("attribute")
            if obj is None or attr is None or text(obj) != me:
                continue
            qual = prefix + text(attr)
            if qual not in known:
                known.add(qual)
                self.sink.add(attr, attr, "field", owners)

    def assignment(self, node: Node, owners: tuple[str, ...], in_class: bool) -> None:
        left = node.child_by_field_name("left")
        targets = [left] if left is not None and left.type == "identifier" else []
        if left is not None and left.type in ("pattern_list", "tuple_pattern"):
            targets = [n for n in left.named_children if n.type == "identifier"]
        right = node.child_by_field_name("right")
        if right is not None and right.type == "assignment":  # a = b = 1
            self.assignment(right, owners, in_class)
        for target in targets:
            name = text(target)
            if in_class:
                kind = "field"
            elif name.isupper() or (name.upper() == name and any(c.isalpha() for c in name)):
                kind = "constant"
            else:
                kind = "variable"
            self.sink.add(name, target, kind, owners)


def extract(root: Node, sink: Sink) -> None:
    _Python(sink).body(root, (), False)
