"""Go: functions, methods qualified by their receiver's type (`func (s *Server) Serve` gives
`Server.Serve`), types (struct as class, interface, others as type) with struct fields and
interface methods, constants and package variables."""

from __future__ import annotations

from tree_sitter import Node

from .base import Sink, named_children, text


def _params(fn: Node) -> tuple[int, int | None]:
    n = 0
    unbounded = False
    for p in named_children(fn.child_by_field_name("parameters")):
        if p.type == "parameter_declaration":
            n += max(1, len(p.children_by_field_name("name")))
        elif p.type == "variadic_parameter_declaration":
            unbounded = True
    return n, None if unbounded else n


def _receiver_type(node: Node | None) -> str:
    while node is not None:
        t = node.type
        if t == "type_identifier":
            return text(node)
        if t in ("pointer_type", "parenthesized_type"):
            node = node.named_children[0] if node.named_children else None
        elif t == "generic_type":
            node = node.child_by_field_name("type")
        else:
            return ""
    return ""


def _specs(node: Node, kinds: tuple[str, ...]) -> list[Node]:
    """const_spec / var_spec nodes of a declaration, grouped or not (an ERROR node in a
    malformed group is looked into)."""
    out = []
    for child in node.named_children:
        if child.type in kinds:
            out.append(child)
        elif child.type in ("var_spec_list", "ERROR"):
            out.extend(_specs(child, kinds))
    return out


def _type_spec(spec: Node, sink: Sink) -> None:
    name = spec.child_by_field_name("name")
    if name is None:
        return
    body = spec.child_by_field_name("type")
    bt = body.type if body is not None else ""
    kind = "class" if bt == "struct_type" else "interface" if bt == "interface_type" else "type"
    sink.add(name, name, kind, ())
    owner = (text(name),)
    if body is None:
        return
    if bt == "struct_type":
        for fields in body.named_children:
            for f in named_children(fields) if fields.type == "field_declaration_list" else []:
                for fname in f.children_by_field_name("name"):
                    sink.add(fname, fname, "field", owner)
    elif bt == "interface_type":
        for m in body.named_children:
            mname = m.child_by_field_name("name")
            if m.type in ("method_elem", "method_spec") and mname is not None:
                sink.add(mname, mname, "method", owner, _params(m))


def extract(root: Node, sink: Sink) -> None:
    for node in root.named_children:
        t = node.type
        if t == "function_declaration":
            name = node.child_by_field_name("name")
            if name is not None:
                sink.add(name, name, "function", (), _params(node))
        elif t == "method_declaration":
            name = node.child_by_field_name("name")
            recv = node.child_by_field_name("receiver")
            owner = ""
            for p in named_children(recv):
                owner = _receiver_type(p.child_by_field_name("type"))
            if name is not None:
                sink.add(name, name, "method", (owner,) if owner else (), _params(node))
        elif t == "type_declaration":
            for spec in node.named_children:
                if spec.type in ("type_spec", "type_alias"):
                    _type_spec(spec, sink)
        elif t in ("const_declaration", "var_declaration"):
            kind = "constant" if t == "const_declaration" else "variable"
            for spec in _specs(node, ("const_spec", "var_spec")):
                for name in spec.children_by_field_name("name"):
                    sink.add(name, name, kind, ())
