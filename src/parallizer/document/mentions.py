"""What one line of the plan's prose mentions: code spans, paths, calls with their arity,
dotted names with their owner, code-like identifiers, quoted phrases and URLs.

Markdown is already gone (`markdown.ProseLine`): code spans and URLs come as segments, the
rest is words. Bare words are names only when they look like code (snake_case, CamelCase,
camelCase, _private); a language keyword or a lone lowercase common word is never an
identifier (in backticks it is weak `code`), though `self.head` and `head()` are names.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from ..text import (
    COMMANDS,
    DOMAIN_ENDS,
    IDENTIFIER,
    IDENTIFIER_RE,
    PROPER_NOUNS,
    is_common,
    is_keyword,
)
from .markdown import ProseLine

Kind = Literal["identifier", "call", "dotted", "path", "url", "code", "quoted", "phrase"]
NAME_KINDS = frozenset({"identifier", "call", "dotted"})

MAX_MENTION = 200  # characters; longer "names" are noise (and would not make a valid query)

_EXTS = (
    "py|pyi|ts|tsx|js|jsx|mjs|cjs|go|rs|java|kt|cs|c|h|cc|cpp|hpp|rb|php|swift|sh|bash|"
    "md|rst|txt|toml|yaml|yml|json|ini|cfg|sql|html|css|scss|proto|lock"
)
_EXT = r"\.(?=[A-Za-z0-9]{0,7}[A-Za-z])[A-Za-z0-9]{1,8}"  # holds a letter: `HTTP/1.1` is no file
_PATH = re.compile(rf"(?<![\w./-])(?:\.{{1,2}}/)?(?:[\w.-]+/)+[\w-][\w.-]*{_EXT}(?![\w/])")
_FILE = re.compile(rf"(?<![\w./-])[\w-]+\.(?:{_EXTS})(?![\w.])")
# inside backticks a path may hold what prose cannot: `app/[id]/page.tsx`, `(group)/x.ts`
_SPAN_PATH = re.compile(rf"(?:\.{{1,2}}/)?(?:[\w.@()\[\]+-]+/)+[\w.@()\[\]+-]*{_EXT}")
_QUOTED = re.compile(r'"([^"\n]{2,80})"|“([^”\n]{2,80})”')
_CALL = re.compile(r"(?<![\w.])([A-Za-z_][\w.]*\w|[A-Za-z_])\(([^()]{0,60})\)")
_DOTTED = re.compile(rf"(?<![\w.]){IDENTIFIER}(?:\.{IDENTIFIER})+(?![\w(])")
# a word with an inner `_` or a case hump: the only bare words that may be code
_WORD = re.compile(rf"(?<![\w.])(?=\w*(?:_|[a-z0-9][A-Z]|[A-Z]{{2}}[a-z])){IDENTIFIER}(?![\w(])")
# inside backticks a qualified name may use Rust's and C++'s `::` too: `HiArgs::new`
_QUAL = rf"{IDENTIFIER}(?:(?:\.|::){IDENTIFIER})*"
_DOTTED_FULL = re.compile(rf"{IDENTIFIER}(?:(?:\.|::){IDENTIFIER})+")
_CALL_FULL = re.compile(rf"({_QUAL})\((.*)\)")
_SEP = re.compile(r"\.|::")
_GENERIC = re.compile(r"(?:::)?<[^<>()`]*>")  # `find_cause::<E>`, `Vec<u8>`
_GO_TYPES = (
    r"bool|string|int|int8|int16|int32|int64|uint|uint8|uint16|uint32|uint64|uintptr|"
    r"float32|float64|complex64|complex128|byte|rune|error|any"
)
# a declaration written in a span: the name is its head. `errPrefix string` (Go),
# `is_unique: unsafe fn(...) -> bool`, `limit: int = 3`, `ONE = "x"`, `ErrPrefix() string`,
# `find_cause() -> Option<&E>`; not `prompt=True` (a keyword argument) nor `make run`
_DECLARED = re.compile(
    rf"({_QUAL})(\([^()]*\))?(?:"
    r":\s*[&*\[]?[A-Za-z_]"
    r"|\s+=\s+\S"
    r"|\s*->"
    rf"|\s+(?:\*|\[\]|&|\.\.\.)*(?:{_GO_TYPES}|[A-Z]\w*|map\[|chan\b|func\b|fn\b)(?=$|[\s\[{{(,;.])"
    r")"
)
_CAMEL = re.compile(r"[a-z0-9][A-Z]|[A-Z]{2}[a-z]")
# `new Server(opts)` calls Server; `fn find_cause()`, `class Budget` name what they declare
_EXPRESSION_HEAD = re.compile(
    r"^(?:(?:new|await|return|yield|pub(?:\([^)]*\))?|export|async|static|def|fn|func|function|"
    r"class|struct|enum|trait|interface|type|const|let|var|val)\s+)+(?=[A-Za-z_])"
)
_ELIDED = re.compile(r"\.\.\.|…")
_OPEN, _CLOSE = "([{", ")]}"


@dataclass(frozen=True, slots=True)
class Mention:
    text: str
    """As written: "Client.send" (a call without its parentheses), "src/x.py", a URL."""
    kind: Kind
    line: int
    """0-based plan line."""
    coded: bool
    """Written in backticks."""
    args: int | None = None
    """For calls: the number of arguments written (`f(a, b)` → 2, `f()` → 0); None when
    not a call or elided (`f(...)`)."""
    owner: str | None = None
    """The part before the name (`Client` for `Client.send`), None when there is none or it
    is `self`/`this`/`cls`/`super`."""
    col: int = -1
    """Where the mention stands on its plan line (code points, 0-based), -1 when unknown
    (a key phrase, which has no one place)."""
    end: int = -1
    """One past its last character on the line (code points), -1 when unknown."""
    what: str = ""
    """What a name is, when it is not simply a code name (`""`): `constant` (ALL_CAPS with
    underscores: a constant or an environment variable), `env` (an environment variable:
    `X=1`, `$X`), `acronym` (`JSON`, `NUL`), `command` (`pip`, `xargs`), `term` (a word or a
    domain's name written like one: `Security`, `Pattern_White_Space`), and, from the reader,
    `example` (a placeholder of an example), `history` (in a changelog's past release),
    `asked` (in the plan's own open question), `existing` (the plan says it exists)."""
    context: str = ""
    """What its sentence says of it (the reader's): `existing` (the plan says it is there:
    "the existing `X`"), `history` (a past release's section of a changelog, or "removed
    `X`"), `example` (a placeholder: "e.g. `foo`"), `asked` (in the plan's own question),
    `setting` ("the `X` environment variable"), `external` (another project's)."""
    lang: str = ""
    """For a name read from a code block: the block's language ('' for prose and spans)."""

    @property
    def name(self) -> str:
        """The last part: what a definition of it would be called."""
        if self.kind in ("identifier", "call", "dotted"):
            return last_part(self.text)
        return self.text

    @property
    def is_name(self) -> bool:
        return self.kind in NAME_KINDS


def arity(args: str) -> int | None:
    """How many arguments `args` (the text between a call's parentheses) holds."""
    if _ELIDED.search(args):
        return None
    if not args.strip():
        return 0
    depth, count, quote = 0, 1, ""
    for ch in args:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            count += 1
    return count - (1 if args.rstrip().endswith(",") else 0)


def written_arity(args: str) -> int | None:
    """The argument count a reference in prose or a code span writes: `f(a, b)` → 2, but
    `f()` → None. Writers put `()` after a name to say "this function", not to call it
    with nothing; only code blocks are read as calls (`arity`)."""
    return None if not args.strip() else arity(args)


def _owner(text: str) -> str | None:
    parts = _SEP.split(text)
    if len(parts) < 2:
        return None
    return None if is_keyword(parts[-2]) else parts[-2]


def split_name(text: str) -> list[str]:
    """The parts of a qualified name: `Client.send`, `HiArgs::send` → [Client, send]."""
    return _SEP.split(text)


def last_part(text: str) -> str:
    """`send` for `Client.send` and `HiArgs::send`."""
    return _SEP.split(text)[-1]


def _name_mention(
    text: str, line: int, coded: bool, args: int | None, call: bool
) -> Mention | None:
    """A name as written, or weak `code` (a keyword or a common word alone), or nothing."""
    last = last_part(text)
    qualified = last != text
    if (is_keyword(last) and not qualified) or (_VERSION.fullmatch(text) and not call):
        # `if(x)`, `return(x)`, `self`, `None`: syntax, not names; `v16`, `v2`: a release
        return Mention(text, "code", line, coded) if coded and not call else None
    if call:
        return Mention(text, "call", line, coded, args, _owner(text))
    if qualified:  # `attrs.Attribute`: a class of a module, whatever its case
        what = "constant" if _CONSTANT.fullmatch(last) else ""
        return Mention(text, "dotted", line, coded, None, _owner(text), what=what)
    if is_common(text):
        return Mention(text, "code", line, coded) if coded else None
    return Mention(text, "identifier", line, coded, what=name_kind(text))


_CONSTANT = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")
_VERSION = re.compile(r"[vV]\d+(?:\.\d+)*")
_ACRONYM = re.compile(r"[A-Z][A-Z0-9]+s?")  # `JSON`, `NUL`, `SIGUSR2`, `FSTDEP007`
_TITLE_SNAKE = re.compile(r"[A-Z][a-z0-9]+(?:_[A-Z][a-z0-9]*)+")
_WORD_CASE = re.compile(r"[A-Z][a-z]+")


# `foo`, `foobar2`, `my_handler`, `myFirstPlugin`, `testfoo`; not `mypy`, `myriad`, `barrier`,
# `food`: a placeholder word stands alone or before a separator or digits
_PLACEHOLDER = re.compile(
    r"(?i)(?:(?:foo|bar|baz|qux|quux|corge|grault|garply|waldo|fred|plugh|xyzzy|thud)+|example|"
    r"sample|dummy|my|your|some)\d*(?:[_-][a-z0-9]+)*|[a-z]*(?:foo|baz|qux)\d*"
    r"|(?-i:(?:my|your|some|example|sample)[A-Z][A-Za-z0-9]*)"  # `myFirstPlugin`
)


def name_kind(name: str) -> str:
    """What a name written this way is, before anything is looked up (`Mention.what`)."""
    if _PLACEHOLDER.fullmatch(name.strip("_")) and not name[:1].isupper():
        return "example"  # `foo`, `my_handler`, `example_app`: a placeholder
    if _CONSTANT.fullmatch(name):
        return "constant"
    if _ACRONYM.fullmatch(name):
        return "acronym"
    if name in COMMANDS:
        return "command"
    if _TITLE_SNAKE.fullmatch(name) or _WORD_CASE.fullmatch(name):
        return "term"
    return ""


def code_like(word: str) -> str | None:
    """The identifier if a bare word of prose is clearly code (snake_case, CamelCase,
    camelCase, _private), else None. Markdown `_emphasis_` is prose."""
    if word.startswith("_") and word.endswith("_") and not word.startswith("__"):
        word = word[1:-1]
    if len(word) < 3 or word.lower() in PROPER_NOUNS or not any(c.isalpha() for c in word):
        return None
    if re.fullmatch(r"[A-Z]{2,}s", word):
        return None  # `APIs`, `MROs`: the plural of an acronym
    if "_" in word.strip("_") or (word.startswith("_") and not word.endswith("_")):
        return word
    return word if _CAMEL.search(word) else None


def _plain_file_name(name: str) -> bool:
    stem = name.rsplit(".", 1)[0]
    return stem.islower() or stem.isupper() or "_" in stem or "-" in stem


def dotted_ok(text: str) -> bool:
    parts = text.split(".")
    if any(len(p) < 2 for p in parts):
        return False  # e.g., i.e., a.b
    if parts[-1] == "js" and not text.islower():
        return False  # Node.js, Vue.js: products
    return parts[-1] not in DOMAIN_ENDS  # `Crates.io`, `example.com`: places


def classify_span(content: str, line: int) -> Mention | None:
    """What a backtick span holds."""
    content = _EXPRESSION_HEAD.sub("", content.strip())  # `new Server(opts)` calls Server
    if len(content) < 2 or len(content) > 80:
        return None
    if _SPAN_PATH.fullmatch(content) or _FILE.fullmatch(content):
        return _path_mention(content, line, True)
    if m := _CALL_FULL.fullmatch(content):
        return _name_mention(m.group(1), line, True, written_arity(m.group(2)), call=True)
    if IDENTIFIER_RE.fullmatch(content) or _DOTTED_FULL.fullmatch(content):
        return _name_mention(content, line, True, None, call=False)
    if content.endswith("/") or not any(c.isalnum() for c in content):
        return None  # a directory or punctuation: nothing to grep for
    bare = _GENERIC.sub("", content)
    if m := (_CALL_FULL.fullmatch(bare) or _DECLARED.match(bare)):
        args = m.group(2)
        if args is not None and not args.startswith("("):
            args = f"({args})"  # _CALL_FULL's group holds the inside only
        n = written_arity(args[1:-1]) if args is not None else None
        found = _name_mention(m.group(1), line, True, n, call=args is not None)
        if found is not None and found.kind != "code":
            # `limit: int = 3`, `request.state.started = time.time()`: the plan declares it
            return replace(found, context="declared") if m.re is _DECLARED else found
    return Mention(content, "code", line, True)


# the mention, its start and end in the line's `shown` text
PlacedMention = tuple[Mention, int, int]


def _quoted(m: re.Match[str], line: int) -> Mention | None:
    text = (m.group(1) or m.group(2)).strip()
    # `href="…?v=…"`'s quotes around nothing but spaces, or one character: not a phrase
    return Mention(text, "quoted", line, False) if len(text) >= 2 else None


def _path_mention(text: str, line: int, coded: bool) -> Mention | None:
    """A path as written; a placeholder's (`foo.js`) is an example's; `.get/.post/.etc` is
    no path at all."""
    text = text.removeprefix("./")
    parts = [p for p in text.split("/") if p]
    if parts and all(p.startswith(".") for p in parts) and len(parts) > 1:
        return None
    stem = parts[-1].split(".", 1)[0] if parts else ""
    what = "example" if stem and _PLACEHOLDER.fullmatch(stem) else ""
    return Mention(text, "path", line, coded, what=what)


def _path(m: re.Match[str], line: int) -> Mention | None:
    return _path_mention(m.group(0), line, False)


def _file(m: re.Match[str], line: int) -> Mention | None:
    # "Node.js" is a product; node.js, setup.py or README.md are files
    return _path_mention(m.group(0), line, False) if _plain_file_name(m.group(0)) else None


def _call(m: re.Match[str], line: int) -> Mention | None:
    name, args = m.group(1), m.group(2).strip()
    if args in ("s", "es") or ("." in name and not dotted_ok(name)):
        return None  # "limit(s)" is prose
    return _name_mention(name, line, False, written_arity(args), call=True)


def _dotted(m: re.Match[str], line: int) -> Mention | None:
    return (
        _name_mention(m.group(0), line, False, None, call=False) if dotted_ok(m.group(0)) else None
    )


def _word(m: re.Match[str], line: int) -> Mention | None:
    if m.string[max(0, m.start() - 2) : m.start()] == "][":
        return None  # `[text][Label]`: a link's reference label
    name = code_like(m.group(0))
    return _name_mention(name, line, False, None, call=False) if name else None


# in this order: each pass blanks what it found, so later passes see only the rest
_PASSES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str], int], Mention | None]], ...] = (
    (_QUOTED, _quoted),
    (_PATH, _path),
    (_FILE, _file),
    (_CALL, _call),
    (_DOTTED, _dotted),
    (_WORD, _word),
)


def locate(raw: str, text: str, start: int = 0) -> tuple[int, int] | None:
    """Where `text` stands in the raw plan line `raw`, at or after `start` (else anywhere):
    as a whole token when it begins or ends with a word character, so `send` is not found
    inside `resend`. (code points)"""
    if not text:
        return None
    head = r"(?<!\w)" if text[0].isalnum() or text[0] == "_" else ""
    tail = r"(?!\w)" if text[-1].isalnum() or text[-1] == "_" else ""
    rx = re.compile(head + re.escape(text) + tail)
    m = rx.search(raw, start) or (rx.search(raw) if start else None)
    return (m.start(), m.end()) if m else None


def placed(raw: str, found: list[PlacedMention]) -> list[PlacedMention]:
    """The mentions of one line (in line order) with their place in the raw plan line:
    Markdown markers, link syntax and list bullets are in `raw` but not in the shown text,
    so each is found in `raw` itself, after the previous one."""
    out: list[PlacedMention] = []
    at = 0
    for m, start, end in found:
        if m.kind in ("url", "phrase"):
            out.append((m, start, end))
            continue
        where = locate(raw, m.text, at)
        if where is None and m.kind == "path" and not m.text.startswith("./"):
            where = locate(raw, "./" + m.text, at)
        if where is None:
            out.append((m, start, end))
            continue
        at = where[1]
        out.append((replace(m, col=where[0], end=where[1]), start, end))
    return out


_ROLE = re.compile(r"\{([\w:.-]+)\}$")
_CODE_ROLES = frozenset(
    "func function meth method class attr attribute mod module obj data exc exception const "
    "member var type struct enum macro".split()
)


def _role_target(content: str) -> str:
    """A role's target: `~pkg.mod.name` → `pkg.mod.name`, `text <target>` → `target`."""
    if m := re.fullmatch(r"[^<>]*<([^<>]+)>", content):
        content = m.group(1)
    return content.lstrip("~!.")


def line_mentions(pl: ProseLine) -> tuple[list[PlacedMention], str]:
    """Mentions of one prose line in order, with where each stands in `pl.shown`; and the
    line's prose with everything found blanked out (what is left is words, for key phrases)."""
    found: list[PlacedMention] = []
    shown = pl.shown
    for at, content in pl.codes:
        role = _ROLE.search(shown, max(0, at - 24), at)
        if role is not None:  # MyST/Sphinx: {doc}`api` names a page, {func}`x` a function
            if role.group(1).rsplit(":", 1)[-1] not in _CODE_ROLES:
                continue
            content = _role_target(content)
        if (m := classify_span(content, pl.line)) is not None and len(m.text) <= MAX_MENTION:
            found.append((m, at, at + len(content) + 2))
    text = pl.prose
    for rx, read in _PASSES:

        def hit(
            m: re.Match[str], read: Callable[[re.Match[str], int], Mention | None] = read
        ) -> str:
            mention = read(m, pl.line)
            if mention is None:
                return m.group(0)  # not a mention: leave it to the later passes
            if len(mention.text) <= MAX_MENTION:
                found.append((mention, m.start(), m.end()))
            return " " * len(m.group(0))

        text = rx.sub(hit, text)
    for url in pl.urls:
        found.append((Mention(url, "url", pl.line, False), 0, 0))
    found.sort(key=lambda f: f[1])
    if away := pl.external:  # names in a link to another site are that site's
        found = [
            (replace(m, context="external"), a, b)
            if any(lo <= a and b <= hi for lo, hi in away) and m.kind != "url"
            else (m, a, b)
            for m, a, b in found
        ]
    return found, text
