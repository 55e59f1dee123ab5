"""JavaScript and TypeScript (TSX too): functions, classes with their methods and fields,
`X.prototype.m = function` (as `X.m`), `X.m = function` (as `X.m`), `module.exports.f` and
`exports.f` (as `f`), const/let/var bindings, and TypeScript interfaces, type aliases,
enums, namespaces, abstract and overload signatures. The body of a top-level immediately
invoked function (UMD wrappers) is read as top level; other function bodies are not."""

from __future__ import annotations

from tree_sitter import Node

from .base import Sink, named_children, text

_FUNCTIONS = ("function_expression", "function", "arrow_function", "generator_function")
_CLASSES = ("class", "class_expression")
_CLASS_DECLS = ("class_declaration", "abstract_class_declaration")
_FUNCTION_DECLS = ("function_declaration", "generator_function_declaration", "function_signature")


def _params(fn: Node) -> tuple[int, int | None]:
    params = fn.child_by_field_name("parameters")
    if params is None:
        single = fn.child_by_field_name("parameter")  # `x => x`
        return (1, 1) if single is not None else (0, 0)
    lo = hi = 0
    unbounded = False
    optional_seen = False
    for p in params.named_children:
        t = p.type
        inner = (
            p.child_by_field_name("pattern")
            if t in ("required_parameter", "optional_parameter")
            else p
        )
        if inner is not None and inner.type == "this":
            continue  # TypeScript's `this` parameter is not an argument
        if t == "comment":
            continue
        if t == "rest_pattern" or (inner is not None and inner.type == "rest_pattern"):
            unbounded = True
            continue
        hi += 1
        default = t in ("assignment_pattern", "optional_parameter") or (
            t == "required_parameter" and p.child_by_field_name("value") is not None
        )
        optional_seen = optional_seen or default
        if not optional_seen:
            lo += 1
    return lo, None if unbounded else hi


def _member_name(node: Node | None) -> str:
    if node is None:
        return ""
    if node.type in ("property_identifier", "private_property_identifier", "identifier",
                     "type_identifier", "string", "number"):  # fmt: skip
        return text(node).strip("'\"")
    return ""  # computed keys: [Symbol.iterator]


class _Script:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    def body(self, node: Node | None, owners: tuple[str, ...]) -> None:
        for child in named_children(node):
            self.statement(child, owners)

    def statement(self, node: Node, owners: tuple[str, ...]) -> None:
        t = node.type
        if t in ("export_statement", "ambient_declaration"):
            decl = node.child_by_field_name("declaration")
            if decl is not None:
                self.statement(decl, owners)
            else:
                for child in node.named_children:
                    if child.type not in ("string", "export_clause", "identifier", "comment"):
                        self.statement(child, owners)
        elif t in _FUNCTION_DECLS:
            name = node.child_by_field_name("name")
            if name is not None:
                self.sink.add(name, name, "function", owners, _params(node))
        elif t in _CLASS_DECLS or t in _CLASSES:
            name = node.child_by_field_name("name")
            if name is not None:
                self.klass(node, text(name), name, owners)
        elif t in ("lexical_declaration", "variable_declaration"):
            const = node.child(0) is not None and text(node.child(0)) == "const"
            for decl in node.named_children:
                if decl.type == "variable_declarator":
                    self.binding(decl, owners, const)
        elif t == "expression_statement":
            for expr in node.named_children:
                self.expression(expr, owners)
        elif t == "interface_declaration":
            name = node.child_by_field_name("name")
            if name is not None:
                self.sink.add(name, name, "interface", owners)
                self.members(node.child_by_field_name("body"), (*owners, text(name)))
        elif t == "type_alias_declaration":
            name = node.child_by_field_name("name")
            if name is not None:
                self.sink.add(name, name, "type", owners)
        elif t == "enum_declaration":
            name = node.child_by_field_name("name")
            if name is not None:
                self.sink.add(name, name, "enum", owners)
                inner = (*owners, text(name))
                for m in named_children(node.child_by_field_name("body")):
                    key = m.child_by_field_name("name") if m.type == "enum_assignment" else m
                    if key is not None and key.type == "property_identifier":
                        self.sink.add(key, key, "constant", inner)
        elif t in ("internal_module", "module"):
            name = node.child_by_field_name("name")
            if name is not None and name.type != "string":
                self.sink.add(name, name, "module", owners)
                self.body(node.child_by_field_name("body"), (*owners, text(name)))
            else:  # declare module "x" { ... }: its members are the package's top level
                self.body(node.child_by_field_name("body"), owners)

    def binding(self, decl: Node, owners: tuple[str, ...], const: bool) -> None:
        name = decl.child_by_field_name("name")
        if name is None or name.type != "identifier":
            return  # destructuring
        value = decl.child_by_field_name("value")
        if value is not None and value.type in _FUNCTIONS:
            self.sink.add(name, name, "function", owners, _params(value))
        elif value is not None and value.type in _CLASSES:
            self.klass(value, text(name), name, owners)
        else:
            self.sink.add(name, name, "constant" if const else "variable", owners)

    def expression(self, expr: Node, owners: tuple[str, ...]) -> None:
        if expr.type == "assignment_expression":
            self.assignment(expr, owners)
        elif expr.type == "call_expression":  # (function () { ... })() at top level
            fn = expr.child_by_field_name("function")
            while fn is not None and fn.type == "parenthesized_expression" and fn.named_children:
                fn = fn.named_children[0]
            if fn is not None and fn.type in _FUNCTIONS and not owners:
                body = fn.child_by_field_name("body")
                if body is not None and body.type == "statement_block":
                    self.body(body, owners)
        elif expr.type in ("internal_module", "module"):
            self.statement(expr, owners)

    def assignment(self, node: Node, owners: tuple[str, ...]) -> None:
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        if left is None or left.type != "member_expression":
            return
        prop = left.child_by_field_name("property")
        obj = left.child_by_field_name("object")
        name = _member_name(prop)
        if not name or prop is None or obj is None or right is None:
            return
        if right.type in ("identifier", "member_expression", "this"):
            return  # `exports.X = X`: a re-export or an alias, defined elsewhere
        callable_ = right.type in _FUNCTIONS
        params = _params(right) if callable_ else None
        if obj.type == "member_expression":
            base = obj.child_by_field_name("object")
            via = text(obj.child_by_field_name("property"))
            if via == "prototype" and base is not None and base.type == "identifier":
                self.sink.add(name, prop, "method" if callable_ else "field", (text(base),), params)
            elif via == "exports" and text(base) == "module":
                self.sink.add(name, prop, "function" if callable_ else "variable", owners, params)
        elif obj.type == "identifier":
            target = text(obj)
            if target == "exports":
                self.sink.add(name, prop, "function" if callable_ else "variable", owners, params)
            elif callable_ and target not in ("module", "window", "global", "globalThis", "self"):
                self.sink.add(name, prop, "method", (target,), params)

    def klass(self, node: Node, name: str, name_node: Node, owners: tuple[str, ...]) -> None:
        start = len(self.sink.defs)
        self.sink.add(name, name_node, "class", owners)
        self.members(node.child_by_field_name("body"), (*owners, name))
        for d in self.sink.defs[start + 1 :]:  # a call to the class is a call to its constructor
            if d[0] == "constructor" and d[2] == name and d[5] >= 0:
                self.sink.defs[start] = (*self.sink.defs[start][:5], d[5], d[6])
                break

    def this_fields(self, ctor: Node, owners: tuple[str, ...]) -> None:
        """`this.x = ...` statements of a constructor's body are fields of the class, unless
        the class body already declares them."""
        prefix = ".".join(owners) + "."
        known = {d[1] for d in self.sink.defs if d[1].startswith(prefix)}
        for stmt in named_children(ctor.child_by_field_name("body")):
            expr = (
                stmt.named_children[0]
                if stmt.type == "expression_statement" and stmt.named_children
                else None
            )
            if expr is None or expr.type != "assignment_expression":
                continue
            left = expr.child_by_field_name("left")
            if left is None or left.type != "member_expression":
                continue
            obj, prop = left.child_by_field_name("object"), left.child_by_field_name("property")
            key = _member_name(prop)
            if obj is None or obj.type != "this" or not key or prop is None:
                continue
            if prefix + key not in known:
                known.add(prefix + key)
                self.sink.add(key, prop, "field", owners)

    def members(self, body: Node | None, owners: tuple[str, ...]) -> None:
        for m in named_children(body):
            t = m.type
            if t in ("method_definition", "method_signature", "abstract_method_signature"):
                name = m.child_by_field_name("name")
                key = _member_name(name)
                if key and name is not None:
                    self.sink.add(key, name, "method", owners, _params(m))
                    if key == "constructor":
                        self.this_fields(m, owners)
            elif t in ("field_definition", "public_field_definition", "property_signature"):
                name = m.child_by_field_name("property") or m.child_by_field_name("name")
                key = _member_name(name)
                if not key or name is None:
                    continue
                value = m.child_by_field_name("value")
                if value is not None and value.type in _FUNCTIONS:
                    self.sink.add(key, name, "method", owners, _params(value))
                else:
                    self.sink.add(key, name, "field", owners)
            elif t in _CLASS_DECLS:
                self.statement(m, owners)


def extract(root: Node, sink: Sink) -> None:
    _Script(sink).body(root, ())
