"""What the plan's prose mentions, and what it says of each mention.

What one line mentions: code spans, paths, calls with their arity, dotted names with their
owner, code-like identifiers, quoted phrases and URLs. Markdown is already gone
(`markdown.ProseLine`): code spans and URLs come as segments, the rest is words. Bare words
are names only when they look like code (snake_case, CamelCase, camelCase, _private); a
language keyword or a lone lowercase common word is never an identifier (in backticks it is
weak `code`), though `self.head` and `head()` are names.

What the sentence says of a mention (the second part): the names and paths a plan
introduces, said to be new, added, created, introduced or defined right where it names them,
or defined in the plan's own code blocks (`introduced_in`, `defined_in`, `introduced_names`);
those it proposes (`proposed_in`); and a name's context: history, asked, existing, example,
setting, another project's (`contexts_in`). The wording must bind the verb to the name: "we
add `TooManyRetries` (new)", "a new `RateLimiter` class", "create `src/x/limits.py`", "the
file `src/foo.py` we add", "`Budget` is new". A name that merely stands near such a word in
another phrase is not introduced: "add retries to `Client.send`" does not introduce
`Client.send`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Literal

from ..code.extract.lines import definition as line_definition
from ..text import (
    COMMANDS,
    DOMAIN_ENDS,
    IDENTIFIER,
    IDENTIFIER_RE,
    PROPER_NOUNS,
    ascii_lowered,
    is_common,
    is_keyword,
    may_hold,
    sentence_spans,
)
from .markdown import CodeBlock, ProseLine

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


_DOT_WORD = re.compile(r"\.\w")
# what `_WORD`'s look-ahead asks of a word, anywhere in the line: a "_" or a case hump
# ("aB", "ABc"); it opens with [A-Z_] so re skips from one capital or "_" to the next
_HUMP = re.compile(r"[A-Z_](?:(?<=_)|(?<=[a-z0-9][A-Z])|(?=[A-Z][a-z]))")


# in this order: each pass blanks what it found, so later passes see only the rest. With each,
# a cheap test of what any match holds (a quote, a slash, a dot before a word character, a
# parenthesis, a "_" or a case hump): most lines of prose have none of these, and skip that
# pass's slower scan.
_PASSES: tuple[
    tuple[
        re.Pattern[str],
        Callable[[re.Match[str], int], Mention | None],
        Callable[[str], bool],
    ],
    ...,
] = (
    (_QUOTED, _quoted, lambda text: '"' in text or "“" in text),
    (_PATH, _path, lambda text: "/" in text),
    (_FILE, _file, lambda text: _DOT_WORD.search(text) is not None),
    (_CALL, _call, lambda text: "(" in text),
    (_DOTTED, _dotted, lambda text: _DOT_WORD.search(text) is not None),
    (_WORD, _word, lambda text: _HUMP.search(text) is not None),
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
    for rx, read, may_match in _PASSES:
        if not may_match(text):
            continue

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


# --- what the sentence says of a mention: introduced, proposed, its context ---------------

# ("implements `Iterator`" conforms to something that exists; "write to `x`" changes it)
_VERB = (
    r"(?:new|add|adds|added|adding|introduce[sd]?|introducing|create[sd]?|creating|"
    r"define[sd]?|defining)"
)
# words that may stand between the verb and the name: "add a small helper `x`"
_FILLER = (
    r"(?:a|an|the|one|two|three|our|its|their|new|small|tiny|separate|dedicated|private|"
    r"public|internal|helper|single|simple|custom|own|top-level|module|class|function|"
    r"method|file|type|struct|enum|trait|interface|field|constant|const|exception|error|"
    r"variable|property|attribute|package|decorator|hook|test|tests|script|command|flag|"
    r"option|setting|endpoint|route|handler|table|column|model|schema|protocol|abstract|"
    r"base|dataclass|wrapper|subclass|alias|config|fixture|mixin|mapping|map|dict|list|"
    r"annotation|example|accessor|accessors|getter|getters|setter|setters|variant|variants|"
    r"event|key|member|parameter|argument|keyword|pointer|callback|matching|corresponding|"
    r"constructor|generic|static|async|unexported|exported|optional|required|default)"
)
# a list the verb distributes over: "add `A`, `B` and `C`"
_LISTED = (
    r"(?:`[^`]+`\s*(?:,\s*(?:and\s+|or\s+|\.\.\.\s*|…\s*)?|\s+and\s+|\s+or\s+"
    r"|\s*(?:\.\.\.|…)\s*))"
)
_BEFORE = re.compile(rf"(?i)\b{_VERB}\s+(?:{_FILLER}\s+|{_LISTED})*$")
# What every match of a rule holds, lowercased (`_X_WORDS` beside `_X`): a block of ASCII
# prose holding none of a rule's words skips that rule's scans, one per name in the block
# (`text.may_hold`; most blocks add nothing, and say nothing of the past, of examples or
# settings).
_BEFORE_WORDS = ("new", "add", "introduc", "creat", "defin")
# the writer's own tag right after the name: "`X` (new)" (the page's "mark as new" writes it);
# it says so whatever stands before the name ("wrap calls in `X` (new)")
_TAGGED = re.compile(
    r"(?i)(?:\(\))?\s*\(\s*(?:new|added|to be (?:added|created|written)|new \w+)\s*\)"
)
_TAGGED_WORDS = ("new", "added", "to be ")
_AFTER = re.compile(
    rf"""(?ix)(?:\(\))?\s*(?:
        (?:\s+{_FILLER}){{0,2}}(?:\s*,\s*(?:that|which)\s+|\s+(?:that\s+|which\s+)?)
        (?:we|I|you|they|this\ plan|the\ plan)\s+(?:will\s+|'ll\s+|must\s+|should\s+|shall\s+|
        are\ going\ to\s+)?(?:also\s+)?(?:add|create|introduce|define|write|implement)\b
                                                                         # `x.py` we add
      | (?:\s+{_FILLER}){{0,2}}\s+(?:is|are|will\s+be|gets|get|is\ being|must\s+be|
        should\s+be|to\s+be)\s+(?:(?:a|an)\s+)?(?:new|added|created|introduced|defined(?!\s+(?:in|at|by|on|under|inside)\b)|written)\b
                                                                         # `X` is new
      | \s*,?\s+(?:a|an)\s+new\b                                          # `X`, a new class
    )"""
)
# a name after a preposition is where something goes, not what is added: "in `Client.send`
# we add a loop"
_PLACE = re.compile(
    rf"(?i)\b(?:in|into|to|for|of|on|at|from|by|with|inside|within|around|via)\s+"
    rf"(?:(?:the|a|an|its|our)\s+)?(?:{_FILLER}\s+)?$"
)
# a new thing placed in a file makes the file new too: "a new `Cache` class in `cache.py`"
# (but "add retries to `x.py`" only changes a file that should exist)
# (but "the new method goes into `error.rs`" puts something new in a file that exists)
_NEW_IN = re.compile(
    rf"(?i)\b(?:add|adds|adding|create[sd]?|creating|introduce[sd]?|introducing|define[sd]?)\s+"
    rf"(?:(?:a|an|the|one)\s+)?new\s+(?:{_FILLER}\s+)*(?:`[^`]+`\s+)?(?:{_FILLER}\s+)*"
    rf"(?:in|into|under|as)\s+(?:(?:a|the)\s+(?:new\s+)?(?:file|module)\s+)?$"
)
_NEW_IN_WORDS = ("new",)
_REACH = 160  # characters either side of a name read for its introduction


def _joined(lines: list[tuple[str, list[PlacedMention]]]) -> tuple[str, list[PlacedMention]]:
    """A block's lines as one text (a sentence may wrap) and its mentions placed in it."""
    placed: list[PlacedMention] = []
    at = 0
    for shown, found in lines:
        placed += [(m, at + start, at + end) for m, start, end in found]
        at += len(shown) + 1
    return " ".join(shown for shown, _ in lines), placed


# "with a small helper `x`", "an `on_error` callback": a new thing named where it is said
_THING = (
    r"(?:helper|function|class|method|type|struct|enum|trait|interface|field|constant|const|"
    r"variable|property|attribute|decorator|hook|flag|option|setting|endpoint|route|handler|"
    r"wrapper|subclass|alias|fixture|mixin|callback|parameter|argument|keyword|event|key|member|"
    r"module|package|file|script|command|test|accessor|getter|setter|variant|symbol|map|table)"
)
_APPOSITION = re.compile(
    rf"(?i)\b(?:a|an)\s+(?:{_FILLER}\s+)*?{_THING}\s+(?:called\s+|named\s+)?$"
)


def introduced_in(lines: list[tuple[str, list[PlacedMention]]]) -> list[Mention]:
    """The names and paths of one block of prose (its lines' `shown` text and mentions)
    that the block introduces."""
    text, placed = _joined(lines)
    out: list[Mention] = []
    if not placed:
        return out
    lowered = ascii_lowered(text)
    before, tagged, new_in = (
        may_hold(lowered, words) for words in (_BEFORE_WORDS, _TAGGED_WORDS, _NEW_IN_WORDS)
    )
    for mention, start, end in placed:
        if not (mention.is_name or mention.kind == "path"):
            continue
        lo = max(0, start - _REACH)
        if (
            (before and _BEFORE.search(text, lo, start))
            or (mention.is_name and _APPOSITION.search(text, lo, start))
            or (tagged and _TAGGED.match(text, end, end + _REACH))
            or (_AFTER.match(text, end, end + _REACH) and not _PLACE.search(text, lo, start))
            or (mention.kind == "path" and new_in and _NEW_IN.search(text, lo, start))
        ):
            out.append(mention)
    return out


# a weaker reading for sentences that add or change things: every name in such a sentence
# may be new ("add a `deprecated` keyword to `Parameter.__init__`"), except those it calls
# existing; a resolver may treat these as "not missing when nothing like them exists"
_PROPOSING = re.compile(
    r"(?i)\b(?:new|add|adds|adding|introduce[sd]?|introducing|create[sd]?|creating|"
    r"replace[sd]?|replacing)\b"
)
_PROPOSING_WORDS = ("new", "add", "introduc", "creat", "replac")
_EXISTING = re.compile(r"(?i)\b(?:existing|current|today's|already)\b(?:\W+\w+){0,3}\W*$")
_EXISTING_WORDS = ("existing", "current", "today", "already")


# "`DisplayAsDebug` is a private one-field wrapper": the plan says what the name is
# "next to `routes.go`", "modelled on `duration.go`", "goes after `get_int_le`": where the
# new thing goes, which exists already
_BESIDE = re.compile(
    r"(?i)\b(?:in|into|to|from|next\s+to|after|before|alongside|beside|like|modell?ed\s+on|"
    r"based\s+on|mirroring|copying|as\s+in|the\s+same\s+as|instead\s+of)\s+"
    r"(?:(?:the|a|an|its|our)\s+)?(?:`[^`]+`\s*(?:,|and|or)\s*)*$"
)
_DESCRIBED = re.compile(r"(?i)(?:\(\))?\s+(?:is|are)\s+(?:a|an|the\s+new|our)\s+")


def proposed_in(lines: list[tuple[str, list[PlacedMention]]]) -> list[Mention]:
    """The names and paths of one block of prose (its lines' `shown` text and mentions)
    standing in a sentence that adds, creates or replaces something, unless called existing."""
    text, found = _joined(lines)
    described = [m for m, _, end in found if m.is_name and _DESCRIBED.match(text, end, end + 40)]
    lowered = ascii_lowered(text)
    if not may_hold(lowered, _PROPOSING_WORDS) or not _PROPOSING.search(text):
        return described
    placed = [(m, start) for m, start, _ in found if m.is_name or m.kind == "path"]
    ends = _ends(text)
    existing = may_hold(lowered, _EXISTING_WORDS)
    out, lo = [], 0
    for hi in ends:
        sentence = text[lo:hi]
        if _PROPOSING.search(sentence):
            out += [
                m
                for m, start in placed
                if lo <= start < hi
                and not (existing and _EXISTING.search(text, max(lo, start - 40), start))
                and not _BESIDE.search(text, max(lo, start - 80), start)
            ]
        lo = hi
    return out + described


# --- what a sentence says of the names in it ---------------------------------------------------

# "the existing `X`", "we reuse `X`", "`X` already handles": the plan says X is there
_SAYS_EXISTS = re.compile(
    r"(?i)\b(?:existing|already|currently|current|today'?s|shared|reuse[sd]?|re-use[sd]?|reusing|"
    r"re-using|as\s+(?:today|before|now)|keeps?\s+using|still)\b(?:\W+\w+){0,4}\W*$"
)
_SAYS_EXISTS_WORDS = tuple("existing already current today shared reus re-us before now using still".split())
_EXISTS_AFTER = re.compile(
    r"(?i)^\W*(?:\w+\W+){0,2}?(?:already|still)\s+(?:exists?|has|have|does|handles?|takes?|"
    r"returns?|is|are|supports?)\b"
)
_EXISTS_AFTER_WORDS = ("already", "still")
# "removed `X`", "`X` was renamed", "formerly `X`": the past, not today's code
_PAST = re.compile(
    r"(?i)\b(?:removed|deleted|dropped|renamed|replaced|no\s+longer|used\s+to|formerly|"
    r"previously)\b(?:\W+\w+){0,3}\W*$"
)
_PAST_WORDS = tuple("removed deleted dropped renamed replaced longer used formerly previously".split())
_PAST_AFTER = re.compile(
    r"(?i)^\W*(?:\w+\W+){0,5}?(?:was|were|has\s+been|have\s+been|is\s+now|are\s+now)\s+"
    r"(?:removed|deleted|dropped|renamed|deprecated|replaced)\b"
)
_PAST_AFTER_WORDS = ("removed", "deleted", "dropped", "renamed", "deprecated", "replaced")
# "e.g. `foo`", "a file such as `my_app.py`", "suppose `User`": a placeholder of an example
_EXAMPLE = re.compile(
    r"(?i)\b(?:e\.?g|for\s+example|for\s+instance|such\s+as|like|say|called|named|suppose|"
    r"imagine|assume|your|my|some|an?\s+(?:custom|hypothetical|example))\b(?:\W+\w+){0,3}\W*$"
)
_EXAMPLE_WORDS = tuple(
    """e.g eg example instance such like say called named suppose imagine assume your my some
    custom hypothetical""".split()
)


# "Sentry's Node.js SDK provides a native `pinoIntegration`": another project's name
_OWNED = re.compile(r"\b[A-Z][\w.]*['’]s\b(?:\W+\w+){0,12}\W*$")
_OWNED_WORDS = ("'s", "’s")


def _ends(text: str) -> list[int]:
    """Where each sentence or clause of `text` ends, the last one past the end."""
    spans = sentence_spans(text, clauses=True)
    return [*(b for _, b in spans[:-1]), len(text) + 1]


def contexts_in(lines: list[tuple[str, list[PlacedMention]]]) -> dict[int, str]:
    """What each sentence of one block says of the names and paths in it, by the mention's
    `id`: `existing` (it is there), `history` (it was, once), `example` (a placeholder),
    `asked` (it stands in the plan's own question), `setting` (an environment variable),
    `external` (another project's)."""
    text, found = _joined(lines)
    ends = _ends(text)
    out: dict[int, str] = {}
    if not any(m.is_name or m.kind == "path" for m, _, _ in found):
        return out
    lowered = ascii_lowered(text)
    past, past_after, exists, exists_after, example, setting, owned = (
        may_hold(lowered, words)
        for words in (
            _PAST_WORDS, _PAST_AFTER_WORDS, _SAYS_EXISTS_WORDS, _EXISTS_AFTER_WORDS,
            _EXAMPLE_WORDS, _SETTING_WORDS, _OWNED_WORDS,
        )
    )  # fmt: skip
    for m, start, end in found:
        if not (m.is_name or m.kind == "path"):
            continue
        lo = max((e for e in ends if e <= start), default=0)
        hi = min(e for e in ends if e > start)
        before, after = text[max(lo, start - 60) : start], text[end : min(hi, end + 60)]
        if (past and _PAST.search(before)) or (past_after and _PAST_AFTER.search(after)):
            out[id(m)] = "history"
        elif text[lo:hi].rstrip().endswith("?"):
            out[id(m)] = "asked"
        elif (exists and _SAYS_EXISTS.search(before)) or (
            exists_after and _EXISTS_AFTER.search(after)
        ):
            out[id(m)] = "existing"
        elif example and _EXAMPLE.search(before):
            out[id(m)] = "example"
        elif setting and (_SETTING_AFTER.match(after) or _SETTING_BEFORE.search(before)):
            out[id(m)] = "setting"
        elif owned and _OWNED.search(text[lo:start]):
            out[id(m)] = "external"
    return out


# "the `FooAlias` environment variable", "env var `X`": a name of the environment, not code
_SETTING_AFTER = re.compile(r"(?i)`?\s*(?:environment|env)\.?\s+var(?:iable)?s?\b")
_SETTING_BEFORE = re.compile(r"(?i)\b(?:environment|env)\.?\s+var(?:iable)?s?\s+(?:named\s+|called\s+)?`?$")
_SETTING_WORDS = ("env",)  # both


# --- the plan's own code ---------------------------------------------------------------------

# a code block's language → a file name whose line rules read its definitions
_LANG_FILE = {
    **dict.fromkeys(("python", "py", "python3", "pycon"), "x.py"),
    **dict.fromkeys(("js", "javascript", "jsx", "mjs", "ts", "typescript", "tsx"), "x.ts"),
    **dict.fromkeys(("rust", "rs"), "x.rs"),
    **dict.fromkeys(("go", "golang"), "x.go"),
    **dict.fromkeys(("java", "kotlin", "kt", "csharp", "cs", "c#", "scala"), "x.java"),
    **dict.fromkeys(("c", "cpp", "c++", "h", "hpp", "cc", "cxx", "objc"), "x.c"),
    **dict.fromkeys(("sh", "bash", "shell", "zsh"), "x.sh"),
    **dict.fromkeys(("ruby", "rb"), "x.rb"),
}
# a block without a language is tried as each of these (not C: its function rule would
# take prose-like lines for definitions)
_UNLABELLED = ("x.py", "x.ts", "x.rs", "x.go", "x.java")
# lines that open a type whose indented definitions belong to it
_OWNER = re.compile(
    r"^(?P<indent>\s*)(?:(?:pub(?:\([^)]*\))?|export|default|abstract|public|private|"
    r"protected|final|static|sealed|data|open)\s+)*"
    r"(?:class|struct|trait|interface|enum|record|object|impl(?:<[^>]*>)?(?:\s+\w+\s+for)?)"
    r"\s+(?P<name>[A-Za-z_$][\w$]*)"
)
# a method in a JS/TS/Java class body: `  async send(a, b) {`, `  public int size() {`
_METHOD = re.compile(
    r"^\s+(?:(?:async|static|public|private|protected|readonly|override|final|get|set)\s+)*"
    r"(?:[\w<>\[\],.?]+\s+)?(?P<name>[A-Za-z_$][\w$]*)\s*\([^;]*\)\s*(?::\s*[^{;=]+)?\{?\s*$"
)
_GO_RECEIVER = re.compile(r"^func\s+\(\s*\w*\s*\*?\s*(?P<owner>\w+)")
_NOT_METHOD = frozenset(
    {"if", "for", "while", "switch", "catch", "return", "function", "constructor"}
)


# a block without any of these words defines nothing (a quick test before reading its lines)
_DEFINING = re.compile(
    r"\b(?:def|class|fn|func|function|struct|enum|trait|type|interface|const|let|var|static|"
    r"union|mod|record|object|typedef|define|module)\b|^[A-Za-z_$][\w$]*\s*[:=(]",
    re.MULTILINE,
)
MAX_CODE_LINES = 20_000  # lines of the plan's code blocks read for definitions, nearest first


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


# a definition anywhere on a line: `register(async function publicContext (s) {`,
# `exports.thirdPartyMagicKeyGenerator = async (ms) =>`
_INLINE_DEFINITION = re.compile(
    r"\b(?:function\s*\*?\s*|(?:module\.)?exports\.|def\s+|class\s+|fn\s+)([A-Za-z_$][\w$]*)"
)


def defined_in(block: CodeBlock) -> set[str]:
    """Names (and `Owner.name` qualified names) the block defines, line by line; and the
    names of functions and classes defined inside a line (named function expressions,
    `exports.x = …`)."""
    if not _DEFINING.search(block.text):
        return set(_INLINE_DEFINITION.findall(block.text))
    files: tuple[str, ...]
    if block.lang in ("", "text", "txt", "plain", "plaintext"):
        files = _UNLABELLED if block.lang == "" else ()
    else:
        files = (f,) if (f := _LANG_FILE.get(block.lang)) else ()
    out: set[str] = set()
    for file in files:
        owners: list[tuple[int, str]] = []  # (indent, name) of the types enclosing a line
        for line in block.text.split("\n"):
            if not line.strip():
                continue
            ind = _indent(line)
            while owners and owners[-1][0] >= ind:
                owners.pop()
            owner = owners[-1][1] if owners else None
            d = line_definition(file, line)
            name = d.name if d is not None else None
            if name is None and owner and file in ("x.ts", "x.java"):
                m = _METHOD.match(line)
                name = m.group("name") if m and m.group("name") not in _NOT_METHOD else None
            if file == "x.go" and (r := _GO_RECEIVER.match(line)):
                owner = r.group("owner")
            if name and not is_keyword(name):
                out.add(name)
                if owner:
                    out.add(f"{owner}.{name}")
            if o := _OWNER.match(line):
                owners.append((ind, o.group("name")))
    if block.lang not in ("text", "txt", "plain", "plaintext"):
        out.update(n for n in _INLINE_DEFINITION.findall(block.text) if not is_keyword(n))
    return out


# the names a plan's own code gives to what it passes: `f(a, leeway=5)`, `{ port: 8080 }`
_KEYWORD_ARG = re.compile(rf"[(,]\s*({IDENTIFIER})\s*=(?!=)")
_OBJECT_KEY = re.compile(r"[{,]\s*([A-Za-z_$][\w$]*)\s*:(?!:)")


# `subset(subRange, superRange)`: a signature, whose parameters are names of its own
_SIGNATURE = re.compile(r"^\s*[\w.$]+\s*\(((?:\s*[A-Za-z_$][\w$]*\s*,)*\s*[A-Za-z_$][\w$]*\s*)\)")


def keyword_names(code: str) -> set[str]:
    """Keyword arguments and object keys written in a piece of the plan's code, and the
    parameters of a signature written alone (`subset(subRange, superRange)`)."""
    out = {*_KEYWORD_ARG.findall(code), *_OBJECT_KEY.findall(code)}
    if m := _SIGNATURE.match(code):
        out.update(p.strip() for p in m.group(1).split(","))
    return out


def introduced_names(
    mentions: Iterable[Mention], blocks: Iterable[CodeBlock], spans: Iterable[str] = ()
) -> frozenset[str]:
    """Everything introduced: each mention's text and, for a qualified name, its last part;
    each definition of the plan's code blocks (`blocks` nearest the cursor first, up to
    MAX_CODE_LINES lines in all); the keyword arguments and object keys its code blocks and
    code `spans` write (the parameters and options it proposes)."""
    out: set[str] = set()
    for m in mentions:
        out.add(m.text)
        if m.is_name and m.name != m.text:
            out.add(m.name)
    budget = MAX_CODE_LINES
    for block in blocks:
        if budget <= 0:
            break
        budget -= len(block.lines)
        out |= defined_in(block)
        out |= keyword_names(block.text)
    for span in spans:
        out |= keyword_names(span)
    return frozenset(out)
