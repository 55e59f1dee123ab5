"""Rust: fn, struct, union, enum (with variants), trait (with its methods), type, const,
static, mod, macro_rules, and the items of `impl` blocks qualified by the implementing type
(`impl Trait for HiArgs { fn new }` gives `HiArgs.new`). Modules do not qualify names (a
file does not either); `#[cfg(test)]` and `mod tests` blocks are test code and not indexed."""

from __future__ import annotations

from tree_sitter import Node

from .base import Sink, named_children, text

_KINDS = {
    "struct_item": "class",
    "union_item": "class",
    "enum_item": "enum",
    "trait_item": "trait",
    "type_item": "type",
    "const_item": "constant",
    "static_item": "variable",
    "macro_definition": "macro",
}


def _params(fn: Node) -> tuple[int, int | None]:
    n = 0
    unbounded = False
    for p in named_children(fn.child_by_field_name("parameters")):
        if p.type == "parameter":
            n += 1
        elif p.type == "variadic_parameter":
            unbounded = True
    return n, None if unbounded else n


def _type_name(node: Node | None) -> str:
    """`HiArgs` of `HiArgs`, `HiArgs<'a>`, `crate::x::HiArgs`, `&HiArgs`."""
    while node is not None:
        t = node.type
        if t in ("type_identifier", "primitive_type"):
            return text(node)
        if t == "generic_type":
            node = node.child_by_field_name("type")
        elif t == "scoped_type_identifier":
            node = node.child_by_field_name("name")
        elif t in ("reference_type", "pointer_type"):
            node = node.child_by_field_name("type")
        else:
            return ""
    return ""


def _is_test_module(node: Node) -> bool:
    name = text(node.child_by_field_name("name"))
    if name in ("tests", "test"):
        return True
    prev = node.prev_named_sibling
    while prev is not None and prev.type == "attribute_item":
        if "cfg(test)" in text(prev).replace(" ", ""):
            return True
        prev = prev.prev_named_sibling
    return False


def _items(node: Node | None, sink: Sink, owners: tuple[str, ...]) -> None:
    for item in named_children(node):
        t = item.type
        name = item.child_by_field_name("name")
        if t == "function_item":
            if name is not None:
                sink.add(name, name, "function", owners, _params(item))
        elif t in _KINDS and name is not None:
            sink.add(name, name, _KINDS[t], owners)
            inner = (*owners, text(name))
            body = item.child_by_field_name("body")
            if t in ("struct_item", "union_item"):
                for f in named_children(body):
                    fname = f.child_by_field_name("name")
                    if f.type == "field_declaration" and fname is not None:
                        sink.add(fname, fname, "field", inner)
            elif t == "enum_item":
                for v in named_children(body):
                    vname = v.child_by_field_name("name")
                    if v.type == "enum_variant" and vname is not None:
                        sink.add(vname, vname, "constant", inner)
            elif t == "trait_item":
                _members(body, sink, inner)
        elif t == "impl_item":
            owner = _type_name(item.child_by_field_name("type"))
            if owner:
                _members(item.child_by_field_name("body"), sink, (owner,))
        elif t == "mod_item" and name is not None:
            if _is_test_module(item):
                continue
            sink.add(name, name, "module", owners)
            body = item.child_by_field_name("body")
            if body is not None:  # a module does not qualify names, as a file does not
                _items(body, sink, owners)


def _members(body: Node | None, sink: Sink, owners: tuple[str, ...]) -> None:
    """The items of an impl or trait block: methods (with or without `self`), associated
    constants and types."""
    for item in named_children(body):
        t = item.type
        name = item.child_by_field_name("name")
        if name is None:
            continue
        if t in ("function_item", "function_signature_item"):
            sink.add(name, name, "method", owners, _params(item))
        elif t == "const_item":
            sink.add(name, name, "constant", owners)
        elif t in ("type_item", "associated_type"):
            sink.add(name, name, "type", owners)


def extract(root: Node, sink: Sink) -> None:
    _items(root, sink, ())
