"""How every layer reads and cuts text: one way to cut a text short and to put it on a single
line, one identifier pattern, one way to find where a sentence ends, and the one home of the
word lists a plan is read with.

A cut is marked with one `…`, inside the limit: `clip("abcdef", 4) == "abc…"`.

The word lists: English stop words (never a key phrase), common English words and language
keywords (never a name on their own), proper nouns that look like code (`GitHub`,
`JavaScript`), commands, well-known files and domain endings. A single lowercase common word
in backticks (`head`, `data`) is weak code, not a name; a keyword (`self`, `None`, `async`) is
never a name; both may still be part of a qualified name or a call (`self.head`, `data()`),
which the plan writes on purpose.
"""

from __future__ import annotations

import re

ELLIPSIS = "…"


def single_line(text: str) -> str:
    """Every run of whitespace (newlines too) as one space, none at the ends."""
    return " ".join(text.split())


def clip(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its start and `…` in that many."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + ELLIPSIS


def clip_around(text: str, focus: int, width: int, *, before: float = 1 / 3) -> str:
    """A window of `width` characters of `text` that shows position `focus` (with `before`
    of the window ahead of it), `…` at each end that was cut."""
    if len(text) <= width:
        return text
    start = max(0, min(focus - int(width * before), len(text) - width))
    end = start + width
    return (ELLIPSIS if start else "") + text[start:end] + (ELLIPSIS if end < len(text) else "")


IDENTIFIER = r"[A-Za-z_]\w*"
r"""A name as most languages write it (a letter or `_`, then word characters), as pattern text
to build regexes with: `rf"(?<![\w.]){IDENTIFIER}"`."""
IDENTIFIER_RE = re.compile(IDENTIFIER)

# "." ends a sentence before a capital, a digit, a quote or a bracket (so "etc. go" and
# "e.g. this" do not end one), as do "!" and "?"; `clauses`: ";" too. Each pattern opens with
# the punctuation itself (the "e.g." test looks behind it): re then jumps from one "." or "?"
# to the next instead of trying the look-behinds at every character (10x faster on prose).
_ENDS_HERE = r"(?<!\be\.g[.!?])(?<!\bi\.e[.!?])(?=\s+[^\sa-z])"  # just after a [.!?]
SENTENCE_END = re.compile(rf"[.!?]{_ENDS_HERE}")
CLAUSE_END = re.compile(rf"[.!?;](?:(?<=[.!?]){_ENDS_HERE}|(?<=;)(?=\s+\S))")


def sentence_spans(text: str, *, clauses: bool = False) -> list[tuple[int, int]]:
    """(start, end) of each sentence of `text` (each ends after its punctuation; the
    whitespace between two belongs to the next); with `clauses`, a ";" ends one too."""
    spans, start = [], 0
    for m in (CLAUSE_END if clauses else SENTENCE_END).finditer(text):
        spans.append((start, m.end()))
        start = m.end()
    spans.append((start, len(text)))
    return spans


def ascii_lowered(text: str) -> str | None:
    """`text` lowercased when it is all ASCII, else None (see `may_hold`)."""
    return text.lower() if text.isascii() else None


def may_hold(lowered: str | None, words: tuple[str, ...]) -> bool:
    """Can text (`ascii_lowered`) hold a match of a case-insensitive rule every match of which
    holds one of `words` (lowercase)? A cheap test that spares a regex scan: most prose holds
    none of a rule's words. Outside ASCII (None) always: there case-insensitive matching has
    more spellings ("ſ" for "s", "K" for "k") than lowercasing shows."""
    if lowered is None:
        return True
    for word in words:  # a plain loop: ~40% cheaper than any() over a generator
        if word in lowered:
            return True
    return False


def sentences(text: str, *, clauses: bool = False) -> list[str]:
    """The sentences of `text`, stripped, empty ones left out."""
    return [s for a, b in sentence_spans(text, clauses=clauses) if (s := text[a:b].strip())]


# The word lists the plan is read with

# English words that never make a key phrase (nor do the vague words of open decisions)
STOP_WORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been
    before being below between both but by can cannot could did do does doing done down during
    each else even ever every for from further get gets got had has have having he her here
    hers him his how however i if in into is isn it its itself just least less let like make
    makes made may me might more most much must my need needs no nor not now of off on once one
    only or other our ours out over own per put rather same say says see should so such than
    that the their theirs them then there these they this those though through to too under
    until up upon us use used uses using very via want was way we well were what when where
    whether which while who whom why will with within without would yet you your new add adds
    added adding keep keeps take takes give gives go goes going thing things first second last
    next still already always never often instead e g ie eg etc maybe perhaps possibly fast
    faster large larger many few several soon some quick quickly slow big small lot lots""".split()
)

# keywords, literals and primitive types of the languages plans are written about (Python,
# JavaScript/TypeScript, Rust, Go, Java, C/C++): never a name of the plan's own
KEYWORDS = frozenset(
    """self cls this super None True False null nil true false undefined NaN void
    async await return yield impl fn func def class struct enum trait interface type const
    let var mut pub static public private protected internal final abstract extends
    implements import from export default package module mod use crate extern unsafe where
    if else elif for while loop match case switch break continue goto do try except catch
    finally raise throw throws new delete in is not and or lambda with as pass del global
    nonlocal assert go chan defer select range map typeof instanceof keyof readonly declare
    namespace sizeof typedef union volatile register auto inline virtual override operator
    template typename friend explicit signed unsigned int long short char float double bool
    boolean byte str string object any never unknown usize isize u8 u16 u32 u64 u128 i8 i16
    i32 i64 i128 f32 f64 int8 int16 int32 int64 uint uint8 uint16 uint32 uint64 float32
    float64 rune error""".split()
)

# everyday English words that make poor names on their own: a plan writing `head` or `data`
# in backticks means a role, rarely one definition
COMMON_WORDS = STOP_WORDS | frozenset(
    """able access account act action active add address after age ago agree air all allow answer
    app apply area argument ask back bad base basic begin best better bit block body book both
    bottom box break bring bug build call can card care carry case cause change check child
    choose clean clear click close code cold come common complete connect content control copy
    cost count create current cut data date day deal delay delete detail different direct do
    done down draw drop due each early edge empty end enough entry example expect extra fact
    fail fair fall false field file fill final find fine fire first fix flow follow form format
    found frame free full future game general get give global good great group grow guard half
    hand hard head header hello help here high hit hold home host hot hour idea image item job
    join just keep key kind know last late later lead leave left length level limit line link
    list live load local long look low main make many mark max mean message middle min mind
    minute miss mode model more move name near need net new next none normal note number object
    off old once open option order other out owner page pair parent part pass path pattern peak
    pick place plan point policy post power press problem public pull push put quick raise
    range rate read ready real reason reference region remove reply report rest result return
    right round row rule run safe same save scale search second section see seed self send set
    setting shape share short show side sign simple single size skip small sort space split
    start state status step stop store style sum support table take task team test text thing
    time title tool top total track tree true try turn type unit up update user value version
    view wait walk want watch way week well when while window word work world write year yes
    zone""".split()
)

# product and proper names written with a case hump: prose, not code
PROPER_NOUNS = frozenset(
    w.lower()
    for w in (
        "GitHub GitLab JavaScript TypeScript PyPI OpenAI FastAPI OpenRouter PostgreSQL MySQL "
        "SQLite MongoDB GraphQL YouTube LinkedIn WebSocket WebSockets macOS iOS iPhone iPad "
        "DevOps VSCode PyTorch NumPy SciPy LaTeX DuckDB ChatGPT DeepSeek OAuth gRPC SearXNG "
        "LlamaIndex LangChain HuggingFace CloudFlare DynamoDB BigQuery PowerShell McDonald"
    ).split()
)


def is_keyword(word: str) -> bool:
    """A language keyword, literal or primitive type (`self`, `None`, `async`, `u64`)."""
    return word in KEYWORDS or word.lower() in ("none", "true", "false", "null", "nil")


def is_common(word: str) -> bool:
    """A single lowercase everyday word (`head`, `data`, `the`): weak on its own."""
    return word.islower() and word in COMMON_WORDS


# commands a document runs rather than names its code defines (`pip`, `xargs`, `mv`)
COMMANDS = frozenset(
    """sh bash zsh fish sudo su env export echo printf cat less more head tail grep egrep rg ag
    find xargs sed awk cut sort uniq wc tr tee ls ll cd pwd mkdir rmdir rm mv cp ln chmod chown
    touch stat file du df ps kill killall top htop tar gzip gunzip zip unzip curl wget ssh scp
    rsync git hg svn make cmake ninja gcc clang cc ld ar go gofmt cargo rustc rustup rustfmt
    clippy npm npx yarn pnpm node deno bun tsc eslint prettier jest mocha vitest pip pip3 pipx
    python python3 pythonw py pytest tox nox uv poetry conda mypy ruff black isort flake8 pylint
    coverage twine java javac mvn gradle kotlin docker podman kubectl helm terraform systemctl
    journalctl apt apt-get dpkg brew yum dnf pacman open xdg-open code vim nvim emacs nano jq
    yq openssl gpg base64 date sleep watch time which whereis man true false test
    rustdoc godoc pydoc sphinx mkdocs""".split()
)

# files every project of a kind has or is told to make: a document naming one means the
# reader's own project, not a file of this tree
WELL_KNOWN_FILES = frozenset(
    """pyproject.toml setup.py setup.cfg tox.ini mypy.ini pytest.ini .pylintrc .flake8 .coveragerc
    requirements.txt Pipfile Pipfile.lock poetry.lock uv.lock conftest.py manage.py __init__.py
    package.json package-lock.json yarn.lock pnpm-lock.yaml tsconfig.json jsconfig.json
    .eslintrc .eslintrc.js .eslintrc.json .prettierrc .babelrc babel.config.js webpack.config.js
    vite.config.js vite.config.ts index.js index.ts main.js main.ts app.js app.py main.py
    Cargo.toml Cargo.lock build.rs main.rs lib.rs mod.rs go.mod go.sum main.go Makefile
    Dockerfile docker-compose.yml docker-compose.yaml .dockerignore .gitignore .gitattributes
    .editorconfig .env .env.local README.md README.rst CHANGELOG.md LICENSE LICENSE.md
    CONTRIBUTING.md CODE_OF_CONDUCT.md SECURITY.md AUTHORS NOTICE pom.xml build.gradle
    settings.gradle gradle.properties .travis.yml .gitlab-ci.yml Jenkinsfile Procfile
    .pre-commit-config.yaml .pre-commit-hooks.yaml mkdocs.yml conf.py noxfile.py
    .bashrc .zshrc .profile hosts""".split()
)

# the last label of a domain name: `Crates.io` and `Node.js` are places and products
DOMAIN_ENDS = frozenset("com org net io dev ai co edu gov rs js sh".split())
