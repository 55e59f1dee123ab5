"""C and C++: function definitions (prototypes are not definitions), structs, unions and
classes (as class) with their fields and methods, enums (with enumerators), typedefs and
`using` aliases (as type), macros (`#define`, with arity for function-like ones),
namespaces (as module; like packages they do not qualify names). Out-of-line
`ns::Foo::bar` definitions are methods of `Foo` (`Foo.bar`). Declarations in a class body without a body are left to their
out-of-line definition (pure virtual ones are kept). `#if` blocks, `extern "C"` and
templates are looked into. A C header that turns out to hold C++ is labelled cpp."""

from __future__ import annotations

from tree_sitter import Node

from .base import Sink, named_children, text

_RECORDS = ("struct_specifier", "union_specifier", "class_specifier")
_CPP_ONLY = frozenset(
    ("class_specifier", "namespace_definition", "template_declaration", "alias_declaration")
)
_WRAPPERS = ("pointer_declarator", "reference_declarator", "parenthesized_declarator",
             "attributed_declarator", "array_declarator", "init_declarator")  # fmt: skip
_GUARD_SUFFIXES = ("_H", "_H_", "_H__", "_HPP", "_HPP_", "_HH", "_INCLUDED", "_INCLUDED_")
_PREPROC = ("preproc_ifdef", "preproc_if", "preproc_else", "preproc_elif", "preproc_elifdef")


def _function_declarator(node: Node | None) -> Node | None:
    while node is not None:
        if node.type == "function_declarator":
            return node
        if node.type in _WRAPPERS:
            node = _inner(node)
        else:
            return None
    return None


def _inner(decl: Node) -> Node | None:
    """The declarator a wrapper (pointer, parentheses, ...) holds."""
    return decl.child_by_field_name("declarator") or (
        decl.named_children[0] if decl.named_children else None
    )


def _params(fd: Node) -> tuple[int, int | None]:
    lo = hi = 0
    unbounded = False
    plist = fd.child_by_field_name("parameters")
    params = named_children(plist)
    if len(params) == 1 and text(params[0]).strip() == "void":
        return 0, 0
    for p in params:
        if p.type == "parameter_declaration":
            lo += 1
            hi += 1
        elif p.type == "optional_parameter_declaration":
            hi += 1
        elif p.type in ("variadic_parameter", "variadic_parameter_declaration"):
            unbounded = True
    if plist is not None and any(c.type == "..." for c in plist.children):
        unbounded = True
    return lo, None if unbounded else hi


def _split_name(node: Node | None) -> tuple[tuple[str, ...], Node | None]:
    """(scope chain, name node) of `ns::Foo::bar`, `Foo::~Foo`, `operator==`, `bar`."""
    scopes: list[str] = []
    while node is not None and node.type == "qualified_identifier":
        scope = node.child_by_field_name("scope")
        if scope is not None:
            scopes.append(text(scope).split("<")[0])
        node = node.child_by_field_name("name")
    if node is None or node.type not in (
        "identifier", "field_identifier", "destructor_name", "operator_name", "type_identifier",
    ):  # fmt: skip
        return tuple(scopes), None
    return tuple(scopes), node


class _CFamily:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.cpp = False

    def items(self, node: Node | None, owners: tuple[str, ...]) -> None:
        for item in named_children(node):
            self.item(item, owners)

    def item(self, item: Node, owners: tuple[str, ...]) -> None:
        t = item.type
        if t in _CPP_ONLY:
            self.cpp = True
        if t == "function_definition":
            self.function(item, owners, in_record=False)
        elif t in _RECORDS or t == "enum_specifier":
            self.record(item, owners)
        elif t in ("declaration", "field_declaration"):
            spec = item.child_by_field_name("type")
            if spec is not None and spec.type in (*_RECORDS, "enum_specifier"):
                self.record(spec, owners)
        elif t == "type_definition":
            spec = item.child_by_field_name("type")
            if spec is not None and spec.type in (*_RECORDS, "enum_specifier"):
                self.record(spec, owners)
            decl: Node | None
            for decl in item.children_by_field_name("declarator"):
                # `typedef int (*cmp)(const void *, const void *)` names `cmp`
                while decl is not None and decl.type in (*_WRAPPERS, "function_declarator"):
                    decl = _inner(decl)
                if decl is not None and decl.type in ("type_identifier", "primitive_type"):
                    self.sink.add(decl, decl, "type", owners)
        elif t == "alias_declaration":
            name = item.child_by_field_name("name")
            if name is not None:
                self.sink.add(name, name, "type", owners)
        elif t in ("preproc_def", "preproc_function_def"):
            name = item.child_by_field_name("name")
            if t == "preproc_def" and item.child_by_field_name("value") is None:
                if text(name).upper().endswith(_GUARD_SUFFIXES):
                    return  # an include guard
            params = None
            if t == "preproc_function_def":
                plist = item.child_by_field_name("parameters")
                n = sum(1 for c in named_children(plist) if c.type == "identifier")
                params = (n, None if plist is not None and "..." in text(plist) else n)
            if name is not None:
                self.sink.add(name, name, "macro", owners, params)
        elif t == "namespace_definition":
            name = item.child_by_field_name("name")
            if name is not None:
                self.sink.add(name, name, "module", owners)
            # like a Python package, a namespace is not part of a qualified name: a plan
            # says `Shape.scale`, not `geo.Shape.scale`
            self.items(item.child_by_field_name("body"), owners)
        elif t in ("linkage_specification", "template_declaration", *_PREPROC):
            body = item.child_by_field_name("body")
            if body is not None:
                self.items(body, owners)
            else:
                for child in item.named_children:
                    self.item(child, owners)
        elif t == "declaration_list":
            self.items(item, owners)

    def function(self, item: Node, owners: tuple[str, ...], in_record: bool) -> None:
        fd = _function_declarator(item.child_by_field_name("declarator"))
        if fd is None:
            return
        scopes, name = _split_name(fd.child_by_field_name("declarator"))
        if name is None:
            return
        if scopes:
            self.cpp = True
            if text(name).lstrip("~") == scopes[-1]:
                return  # an out-of-line constructor or destructor: the class is the name
            scopes = scopes[-1:]  # `ns::Foo::bar` is `Foo.bar`, as written in Foo's body
        chain = (*owners, *scopes)
        method = in_record or bool(scopes)
        self.sink.add(name, name, "method" if method else "function", chain, _params(fd))

    def record(self, spec: Node, owners: tuple[str, ...]) -> None:
        name = spec.child_by_field_name("name")
        body = spec.child_by_field_name("body")
        if name is None or body is None:
            return  # a forward declaration or an anonymous record
        if spec.type == "class_specifier":
            self.cpp = True
        kind = "enum" if spec.type == "enum_specifier" else "class"
        self.sink.add(name, name, kind, owners)
        inner = (*owners, text(name).split("<")[0])
        if spec.type == "enum_specifier":
            for e in body.named_children:
                ename = e.child_by_field_name("name")
                if e.type == "enumerator" and ename is not None:
                    self.sink.add(ename, ename, "constant", inner)
            return
        self.members(body, inner)

    def members(self, body: Node, owners: tuple[str, ...]) -> None:
        for m in body.named_children:
            t = m.type
            if t == "function_definition":
                self.function(m, owners, in_record=True)
            elif t in ("field_declaration", "declaration"):
                spec = m.child_by_field_name("type")
                if spec is not None and spec.type in (*_RECORDS, "enum_specifier"):
                    self.record(spec, owners)
                decl: Node | None
                for decl in m.children_by_field_name("declarator"):
                    fd = _function_declarator(decl)
                    if fd is not None:
                        pure = "virtual" in text(m).split("(")[0] and text(m).rstrip(
                            "; \n"
                        ).endswith("0")
                        _, name = _split_name(fd.child_by_field_name("declarator"))
                        if pure and name is not None:
                            self.sink.add(name, name, "method", owners, _params(fd))
                        continue
                    while decl is not None and decl.type in _WRAPPERS:
                        decl = _inner(decl)
                    if decl is not None and decl.type in ("field_identifier", "identifier"):
                        self.sink.add(decl, decl, "field", owners)
            elif t in ("template_declaration", *_PREPROC):
                self.members(m, owners)
            elif t in _RECORDS or t == "enum_specifier":
                self.record(m, owners)
            elif t == "alias_declaration":
                name = m.child_by_field_name("name")
                if name is not None:
                    self.sink.add(name, name, "type", owners)


def extract(root: Node, sink: Sink) -> None:
    walker = _CFamily(sink)
    walker.items(root, ())
    sink.language = "cpp" if walker.cpp else None
