"""Names and paths a plan introduces: said to be new, added, created, introduced or defined
right where it names them, or defined in the plan's own code blocks.

The wording must bind the verb to the name: "we add `TooManyRetries` (new)", "a new
`RateLimiter` class", "create `src/x/limits.py`", "the file `src/foo.py` we add",
"`Budget` is new". A name that merely stands near such a word in another phrase is not
introduced: "add retries to `Client.send`" does not introduce `Client.send`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..code.extract.lines import definition as line_definition
from ..text import IDENTIFIER, is_keyword, sentence_spans
from .markdown import CodeBlock
from .mentions import Mention, PlacedMention

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
# the writer's own tag right after the name: "`X` (new)" (the page's "mark as new" writes it);
# it says so whatever stands before the name ("wrap calls in `X` (new)")
_TAGGED = re.compile(
    r"(?i)(?:\(\))?\s*\(\s*(?:new|added|to be (?:added|created|written)|new \w+)\s*\)"
)
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
    out = []
    for mention, start, end in placed:
        if not (mention.is_name or mention.kind == "path"):
            continue
        lo = max(0, start - _REACH)
        if (
            _BEFORE.search(text, lo, start)
            or (mention.is_name and _APPOSITION.search(text, lo, start))
            or _TAGGED.match(text, end, end + _REACH)
            or (_AFTER.match(text, end, end + _REACH) and not _PLACE.search(text, lo, start))
            or (mention.kind == "path" and _NEW_IN.search(text, lo, start))
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
_EXISTING = re.compile(r"(?i)\b(?:existing|current|today's|already)\b(?:\W+\w+){0,3}\W*$")


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
    if not _PROPOSING.search(text):
        return described
    placed = [(m, start) for m, start, _ in found if m.is_name or m.kind == "path"]
    ends = _ends(text)
    out, lo = [], 0
    for hi in ends:
        sentence = text[lo:hi]
        if _PROPOSING.search(sentence):
            out += [
                m
                for m, start in placed
                if lo <= start < hi
                and not _EXISTING.search(text, max(lo, start - 40), start)
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
_EXISTS_AFTER = re.compile(
    r"(?i)^\W*(?:\w+\W+){0,2}?(?:already|still)\s+(?:exists?|has|have|does|handles?|takes?|"
    r"returns?|is|are|supports?)\b"
)
# "removed `X`", "`X` was renamed", "formerly `X`": the past, not today's code
_PAST = re.compile(
    r"(?i)\b(?:removed|deleted|dropped|renamed|replaced|no\s+longer|used\s+to|formerly|"
    r"previously)\b(?:\W+\w+){0,3}\W*$"
)
_PAST_AFTER = re.compile(
    r"(?i)^\W*(?:\w+\W+){0,5}?(?:was|were|has\s+been|have\s+been|is\s+now|are\s+now)\s+"
    r"(?:removed|deleted|dropped|renamed|deprecated|replaced)\b"
)
# "e.g. `foo`", "a file such as `my_app.py`", "suppose `User`": a placeholder of an example
_EXAMPLE = re.compile(
    r"(?i)\b(?:e\.?g|for\s+example|for\s+instance|such\s+as|like|say|called|named|suppose|"
    r"imagine|assume|your|my|some|an?\s+(?:custom|hypothetical|example))\b(?:\W+\w+){0,3}\W*$"
)


# "Sentry's Node.js SDK provides a native `pinoIntegration`": another project's name
_OWNED = re.compile(r"\b[A-Z][\w.]*['’]s\b(?:\W+\w+){0,12}\W*$")


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
    for m, start, end in found:
        if not (m.is_name or m.kind == "path"):
            continue
        lo = max((e for e in ends if e <= start), default=0)
        hi = min(e for e in ends if e > start)
        before, after = text[max(lo, start - 60) : start], text[end : min(hi, end + 60)]
        if _PAST.search(before) or _PAST_AFTER.search(after):
            out[id(m)] = "history"
        elif text[lo:hi].rstrip().endswith("?"):
            out[id(m)] = "asked"
        elif _SAYS_EXISTS.search(before) or _EXISTS_AFTER.search(after):
            out[id(m)] = "existing"
        elif _EXAMPLE.search(before):
            out[id(m)] = "example"
        elif _SETTING_AFTER.match(after) or _SETTING_BEFORE.search(before):
            out[id(m)] = "setting"
        elif _OWNED.search(text[lo:start]):
            out[id(m)] = "external"
    return out


# "the `FooAlias` environment variable", "env var `X`": a name of the environment, not code
_SETTING_AFTER = re.compile(r"(?i)`?\s*(?:environment|env)\.?\s+var(?:iable)?s?\b")
_SETTING_BEFORE = re.compile(r"(?i)\b(?:environment|env)\.?\s+var(?:iable)?s?\s+(?:named\s+|called\s+)?`?$")


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
