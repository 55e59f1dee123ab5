"""Java: classes, interfaces, enums (with constants), records (components as fields),
annotation types; methods (each overload is its own definition), fields (`static final`
UPPER_CASE ones as constants), nested types. A class's arity is its constructors'
(the fewest and most arguments any of them takes; a record's components)."""

from __future__ import annotations

from tree_sitter import Node

from .base import Sink, named_children, text

_TYPES = {
    "class_declaration": "class",
    "interface_declaration": "interface",
    "enum_declaration": "enum",
    "record_declaration": "class",
    "annotation_type_declaration": "interface",
}


def _params(node: Node) -> tuple[int, int | None]:
    n = 0
    unbounded = False
    for p in named_children(node.child_by_field_name("parameters")):
        if p.type == "formal_parameter":
            n += 1
        elif p.type == "spread_parameter":
            unbounded = True
    return n, None if unbounded else n


def _modifiers(node: Node) -> str:
    for c in node.children:
        if c.type == "modifiers":
            return text(c)
    return ""


def _type(node: Node, sink: Sink, owners: tuple[str, ...]) -> None:
    name = node.child_by_field_name("name")
    if name is None:
        return
    index = len(sink.defs)
    sink.add(name, name, _TYPES[node.type], owners)
    inner = (*owners, text(name))
    ctors: list[tuple[int, int | None]] = []
    if node.type == "record_declaration":
        ctors.append(_params(node))
        for p in named_children(node.child_by_field_name("parameters")):
            pname = p.child_by_field_name("name")
            if p.type == "formal_parameter" and pname is not None:
                sink.add(pname, pname, "field", inner)
    _body(node.child_by_field_name("body"), sink, inner, ctors)
    if node.type == "class_declaration" and not ctors:
        ctors.append((0, 0))  # the default constructor
    if ctors:
        lo = min(c[0] for c in ctors)
        his = [c[1] for c in ctors]
        hi = None if None in his else max(h for h in his if h is not None)
        d = sink.defs[index]
        sink.defs[index] = (*d[:5], lo, -1 if hi is None else hi)


def _body(body: Node | None, sink: Sink, owners: tuple[str, ...], ctors: list) -> None:
    for m in named_children(body):
        t = m.type
        if t in _TYPES:
            _type(m, sink, owners)
        elif t in ("method_declaration", "annotation_type_element_declaration"):
            name = m.child_by_field_name("name")
            if name is not None:
                sink.add(name, name, "method", owners, _params(m))
        elif t in ("constructor_declaration", "compact_constructor_declaration"):
            if t == "constructor_declaration":
                ctors.append(_params(m))
        elif t in ("field_declaration", "constant_declaration"):
            mods = _modifiers(m).split()
            for decl in m.children_by_field_name("declarator"):
                name = decl.child_by_field_name("name")
                if name is None:
                    continue
                label = text(name)
                constant = t == "constant_declaration" or (
                    "static" in mods and "final" in mods and label.upper() == label
                )
                sink.add(name, name, "constant" if constant else "field", owners)
        elif t == "enum_constant":
            name = m.child_by_field_name("name")
            if name is not None:
                sink.add(name, name, "constant", owners)
        elif t == "enum_body_declarations":
            _body(m, sink, owners, ctors)


def extract(root: Node, sink: Sink) -> None:
    for node in root.named_children:
        if node.type in _TYPES:
            _type(node, sink, ())
