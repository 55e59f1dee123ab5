"""The document reader: one Markdown parse (markdown-it-py) for every fact the fulfillers
take from a plan: sections, code blocks, mentions, URLs, open decisions, introduced names."""

from __future__ import annotations

import textwrap

import pytest

from parallizer import assembly
from parallizer.document import WINDOW, WINDOW_CHARS, Document, read, window
from parallizer.document.markdown import FAR_HEADINGS, SAFE_START_REACH
from parallizer.document.mentions import arity


def doc(text: str, cursor: tuple[int, int] | None = None) -> Document:
    text = textwrap.dedent(text).strip("\n")
    lines = text.split("\n")
    return Document(text, cursor or (len(lines) - 1, len(lines[-1])))


def mentioned(d: Document, *kinds: str) -> list[tuple[str, str, int]]:
    return [(m.text, m.kind, m.line) for m in read(d).mentions if not kinds or m.kind in kinds]


# --- Markdown structure ----------------------------------------------------------------------


def test_a_tilde_fence_holding_backtick_fences_is_one_code_block():
    d = doc(
        """
        # Plan

        ~~~markdown
        ```python
        def hidden(): pass
        ```
        # not a heading
        ~~~

        Use `shown_name` here.
        """
    )
    assert [s.title for s in d.sections] == ["Plan"]
    assert d.fenced == frozenset(range(2, 8))
    [block] = read(d).code_blocks
    assert (block.lang, block.line, block.fenced) == ("markdown", 3, True)
    assert mentioned(d) == [("shown_name", "identifier", 9)]


def test_long_fences_and_indented_code_are_code():
    d = doc(
        """
        Intro with `first_name`.

        ````
        ```
        inner_fence_text
        ```
        ````

            indented_code_name = 1

        After with `last_name`.
        """
    )
    assert d.fenced == frozenset({2, 3, 4, 5, 6, 8})
    assert [(b.fenced, b.lines) for b in read(d).code_blocks] == [
        (True, range(2, 7)),
        (False, range(8, 9)),
    ]
    assert [t for t, *_ in mentioned(d)] == ["first_name", "last_name"]


def test_setext_and_atx_headings_make_sections():
    d = doc(
        """
        Storage plan
        ============

        Rows go to `write_batch`.

        Network
        -------

        Send with `post_rows`.

        ## Closing ##
        Done.
        """
    )
    assert [(s.title, s.level, s.start, s.end) for s in d.sections] == [
        ("Storage plan", 1, 0, 5),
        ("Network", 2, 5, 10),
        ("Closing", 2, 10, 12),
    ]
    assert d.section_at(8).title == "Network"
    assert d.proximity(8) < 1.0 and d.proximity(11) == 1.0
    assert [h.title for h in read(d).headings] == ["Storage plan", "Network", "Closing"]


def test_links_with_parentheses_autolinks_and_bare_urls_are_urls_not_names():
    d = doc(
        """
        See [the article](https://en.wikipedia.org/wiki/Foo_(bar)) about `RetryPolicy`,
        <https://example.com/load_config.py> and https://x.io/a_b?c=d_e (the spec).
        Also www.example.org/some_page.
        """
    )
    assert read(d).urls == (
        "https://en.wikipedia.org/wiki/Foo_(bar)",
        "https://example.com/load_config.py",
        "https://x.io/a_b?c=d_e",
        "www.example.org/some_page",
    )
    assert mentioned(d, "identifier", "call", "dotted", "path") == [
        ("RetryPolicy", "identifier", 0)
    ]


def test_front_matter_is_not_a_heading_and_reference_links_are_urls():
    d = doc(
        """
        ---
        title: Retry plan
        ---

        # Retries

        See [the spec][spec] for `RetryPolicy`.

        [spec]: https://example.com/spec_(v2)
        """
    )
    assert [s.title for s in d.sections if s.level] == ["Retries"]
    assert read(d).urls == ("https://example.com/spec_(v2)",)
    assert [m.text for m in read(d).mentions if m.is_name] == ["RetryPolicy"]


@pytest.mark.parametrize(
    ("line", "spans"),
    [
        ("Call ``a `tick` inside`` now", ["a `tick` inside"]),
        ("Run ```x``` and `y`", ["x", "y"]),
        ("Unclosed `backtick and `code_span`", ["backtick and "]),
    ],
)
def test_code_spans_of_any_backtick_count(line, spans):
    [pl] = read(Document(line)).prose
    assert [s.text for s in pl.segments if s.kind == "code"] == spans


def test_emphasis_is_prose_and_snake_case_is_a_name():
    d = doc("We want a _quick_ fix with *bold* and retry_policy, not __init__ bold.")
    assert [t for t, *_ in mentioned(d)] == ["retry_policy"]


def test_list_items_and_quotes_keep_their_plan_lines():
    d = doc(
        """
        - first item names `alpha_one`
          and wraps to `alpha_two`
        > quoted `beta_name`

        1. numbered `gamma_name`
        """
    )
    assert mentioned(d) == [
        ("alpha_one", "identifier", 0),
        ("alpha_two", "identifier", 1),
        ("beta_name", "identifier", 2),
        ("gamma_name", "identifier", 4),
    ]


# --- mentions --------------------------------------------------------------------------------


def test_calls_carry_their_arity_and_dotted_names_their_owner():
    d = doc(
        """
        Then `client.send(a, b)` and `new Client.Pool(x)`; prose calls fetch_page(url, [1, 2])
        and `Store.put(key, value, ...)`; `self.retry_count` and `this.state` too.
        """
    )
    got = [(m.text, m.kind, m.args, m.owner, m.name) for m in read(d).mentions]
    assert got == [
        ("client.send", "call", 2, "client", "send"),
        ("Client.Pool", "call", 1, "Client", "Pool"),
        ("fetch_page", "call", 2, None, "fetch_page"),
        ("Store.put", "call", None, "Store", "put"),
        ("self.retry_count", "dotted", None, None, "retry_count"),
        ("this.state", "dotted", None, None, "state"),
    ]


@pytest.mark.parametrize(
    ("span", "expected"),
    [
        ("HiArgs::new(a, b)", ("HiArgs::new", "call", 2, "HiArgs", "new")),
        (
            "Error::find_cause::<E>() -> Option<&E>",
            ("Error::find_cause", "call", None, "Error", "find_cause"),
        ),
        ("errPrefix string", ("errPrefix", "identifier", None, None, "errPrefix")),
        (
            "is_unique: unsafe fn(&AtomicPtr<()>) -> bool",
            ("is_unique", "identifier", None, None, "is_unique"),
        ),
        ('ONE_REQUIRED = "x"', ("ONE_REQUIRED", "identifier", None, None, "ONE_REQUIRED")),
        ("ErrPrefix() string", ("ErrPrefix", "call", None, None, "ErrPrefix")),
        ("pub fn warm(&self)", ("warm", "call", 1, None, "warm")),
        (
            "new WebsocketServer({ port: 1 })",
            ("WebsocketServer", "call", 1, None, "WebsocketServer"),
        ),
        # a keyword argument, a command line, a value: not declarations
        ("prompt=True", ("prompt=True", "code", None, None, "prompt=True")),
        ("make run", ("make run", "code", None, None, "make run")),
        ("timeout: 30", ("timeout: 30", "code", None, None, "timeout: 30")),
    ],
)
def test_a_span_declaring_or_calling_a_name_is_that_name(span, expected):
    [m] = read(Document(f"Use `{span}` here.")).mentions
    assert (m.text, m.kind, m.args, m.owner, m.name) == expected


@pytest.mark.parametrize(
    ("args", "n"),
    [
        ("", 0),
        ("a", 1),
        ("a, b", 2),
        ("f(x, y), z", 2),
        ('"a, b", c', 2),
        ("a, b,", 2),
        ("...", None),
    ],
)
def test_arity_counts_top_level_arguments(args, n):
    assert arity(args) == n


def test_keywords_and_common_words_are_never_identifiers():
    d = doc(
        """
        Pass `self` and `None`, await `async` work, `return` early; `impl` and `fn` are Rust.
        The `head` and `data` and `value` are set; `the` too. But `head()` and `Repo.head` are
        names, and so is `HeadRef`. Prose words like this and head are nothing.
        """
    )
    names = [(t, k) for t, k, _ in mentioned(d) if k in ("identifier", "call", "dotted")]
    assert names == [("head", "call"), ("Repo.head", "dotted"), ("HeadRef", "identifier")]
    weak = {t for t, k, _ in mentioned(d, "code")}
    assert {"head", "data", "value", "self", "None"} <= weak  # weak code, never a name


def test_the_word_being_typed_at_the_cursor_is_not_a_mention():
    text = "Call load_config and then fetch_pa"
    assert [m.text for m in read(Document(text, (0, len(text)))).mentions] == ["load_config"]
    assert [m.text for m in read(Document(text, (0, 16))).mentions] == ["fetch_pa"]


# --- introduced names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "introduced"),
    [
        ("We add `TooManyRetries` (new), raised by `Client.send`.", {"TooManyRetries"}),
        ("A new `RateLimiter` class guards `Session.request`.", {"RateLimiter"}),
        ("Create `src/x/limits.py` beside `src/x/client.py`.", {"src/x/limits.py"}),
        ("Introduce `Backoff`; define `jitter()` next to `sleep_for`.", {"Backoff", "jitter"}),
        ("The file `src/foo.py` we add imports `BarBaz`.", {"src/foo.py"}),
        ("`RetryBudget` is new and wraps `TokenPool`.", {"RetryBudget"}),
        (
            "Add `FirstOne`, `SecondOne` and `ThirdOne` to `Registry`.",
            {"FirstOne", "SecondOne", "ThirdOne"},
        ),
        ("Add a `retry_budget()` method to `Client`.", {"retry_budget"}),
        ("It is raised as a new\n`DeprecatedWarning` subclass.", {"DeprecatedWarning"}),
        (
            "Add `get_u16_ne`, `get_i16_ne`, ... `get_f64_ne` to `Buf`.",
            {"get_u16_ne", "get_i16_ne", "get_f64_ne"},
        ),
        ("A new field `errPrefix string` on `Command`.", {"errPrefix"}),
        ("We add `Error::find_cause::<E>()`.", {"Error::find_cause", "find_cause"}),
        ("We add `Client.retry_budget` (new).", {"Client.retry_budget", "retry_budget"}),
        # the writer's own tag wins over a place before the name ("in `X`")
        ("Wrap calls in `RetryPolicies` (new).", {"RetryPolicies"}),
        ("Keep it in `src/app/gate.py` (to be created).", {"src/app/gate.py"}),
        (
            "Add a new `ResponseCache` class in `src/app/cache.py`.",
            {"ResponseCache", "src/app/cache.py"},
        ),
        # a name merely near the word "add", in another phrase, is not introduced
        ("Add retries to `Client.send` in `src/client/transprt.py`.", set()),
        ("We add logging; `Client.send` stays as it is.", set()),
        ("Add jitter to the backoff in `src/net/retry.py` and `RetryPolicy`.", set()),
        ("Adding more tests is new work for `TestRunner`.", set()),
        ("In `Client.send` we add a retry loop.", set()),
        ("`Chain` implements `Iterator` and `DoubleEndedIterator`.", set()),
        ("The new method goes into `src/error.rs` beside `Chain`.", set()),
        ("`Client.send`, we add retries there.", set()),
        ("The `Budget` class, which we add, wraps `Pool`.", {"Budget"}),
    ],
)
def test_names_the_plan_introduces(text, introduced):
    assert read(Document(text)).introduced == introduced


def test_names_in_sentences_that_add_things_are_proposed_unless_called_existing():
    """A sentence that adds something may name new things; not the places it adds them to
    ("to `X`", "next to `Y`", "modelled on `z.go`"), nor what it calls existing."""
    d = doc(
        """
        Add a `deprecated` keyword and a `since` field to `Parameter.init_args`, next to the
        existing `Parameter.name`. Then `Cache.get` is called. A new file modelled on
        `duration.go` and `uint_64.go` holds `parse_size`.
        """
    )
    facts = read(d)
    assert facts.proposed == {"deprecated", "since", "parse_size"}
    assert facts.introduced == {"deprecated"}


def test_names_defined_in_the_plans_own_code_blocks_are_introduced():
    d = doc(
        """
        # Sketch

        ```python
        class RetryBudget:
            def spend(self, cost: int) -> bool: ...

        def make_budget(): ...
        LIMIT = 3
        ```

        ```rust
        pub struct HiArgsCache { n: u64 }
        impl HiArgsCache {
            pub fn warm(&self) {}
        }
        ```

        ```go
        func (s *Server) Drain(ctx context.Context) error {
        ```

        ```ts
        export class Queue {
          async push(item: Item): Promise<void> {
            await this.store.put(item);
          }
        }
        ```

        ```text
        class NotCode: just words
        ```

        `RetryBudget.spend` uses `Client.send`.
        """
    )
    facts = read(d)
    assert facts.introduced == {
        "RetryBudget", "spend", "RetryBudget.spend", "make_budget", "LIMIT",
        "HiArgsCache", "warm", "HiArgsCache.warm",
        "Drain", "Server.Drain",
        "Queue", "push", "Queue.push",
        "cost", "n",  # a parameter and a field the plan's code names
    }  # fmt: skip
    assert facts.is_introduced("RetryBudget.spend") and not facts.is_introduced("Client.send")


# --- open decisions --------------------------------------------------------------------------


def test_open_decisions_ignore_code_urls_and_fences_but_wrap_lines():
    d = doc(
        """
        Use `maybe_retry()` and see https://x.io/a?b=c or [this](https://x.io/maybe_(x)).

        ~~~
        TODO: inside a fence, maybe
        ~~~

        When many queries time out, maybe the limit should
        shrink (TBD: by how much), e.g. halve it.
        """
    )
    [spot] = read(d).open_decisions
    assert (spot.kind, spot.line, spot.lines) == ("todo", 7, (6, 7))


# --- cost ------------------------------------------------------------------------------------


def test_a_huge_plan_is_read_only_around_the_cursor():
    """A 1 MiB plan: the block structure is read whole (sections, code), the inline text only
    within the reading window, so the work does not grow with the plan."""
    section = (
        "## Step {i}\n\nWe call `Client.send(a, b)` from `src/x{i}.py`, see "
        "[x](https://en.wikipedia.org/wiki/Foo_(bar)). Maybe later.\n\n"
        "```python\ndef helper_{i}(): pass\n```\n\n- item `Name{i}`\n"
    )
    parts, size, i = [], 0, 0
    while size < 1 << 20:
        parts.append(section.format(i=i))
        size += len(parts[-1])
        i += 1
    text = "".join(parts)
    lines = text.split("\n")
    d = Document(text, (len(lines) - 1, 0))
    facts = read(d)
    w = window(d)
    assert facts.lines == w and len(w) <= WINDOW
    assert sum(len(lines[k]) + 1 for k in w) <= WINDOW_CHARS + 1
    assert all(m.line in w for m in facts.mentions) and len(facts.prose) <= len(w)
    # sections from the whole plan: the window's, and the nearest far ones (as boundaries)
    near = [s for s in facts.headings if s.start >= w.start - SAFE_START_REACH]
    assert FAR_HEADINGS < i and FAR_HEADINGS < len(facts.headings) <= FAR_HEADINGS + len(near)
    assert d.cursor_section.title == f"Step {i - 1}" and facts.headings[-1] == d.cursor_section
    assert f"helper_{i - 1}" in facts.introduced and "helper_0" in facts.introduced
    assert read(d) is facts  # read once per document


def test_the_far_parts_of_a_huge_plan_are_outlined_by_a_line_scan():
    """Outside the reading window only headings and fenced code are needed: a line scan finds
    them (setext too, not a `# comment` inside a fence); the window itself is parsed from a
    line where a block surely starts, so a fence open above it is not misread."""
    filler = "Plain words on a line of their own, nothing more to see here.\n" * 1200
    text = (
        "Far title\n=========\n\n```python\n# not a heading\ndef far_helper(): pass\n```\n\n"
        + filler
        + "\n## Middle\n\n~~~\n"
        + "```\n" * 5
        + filler[: len(filler) // 3]
        + "~~~\n\n## Near\n\nNow `near_name` is used.\n"
    )
    lines = text.split("\n")
    d = Document(text, (len(lines) - 2, 0))
    w = window(d)
    assert w.start > 0  # too big to read whole
    assert [(s.title, s.level) for s in d.sections] == [
        ("Far title", 1),
        ("Middle", 2),
        ("Near", 2),
    ]
    facts = read(d)
    assert "far_helper" in facts.introduced
    assert [m.text for m in facts.mentions if m.is_name] == ["near_name"]
    fence = next(b for b in facts.code_blocks if b.lang == "" and b.fenced)
    assert fence.text.startswith("```\n```")  # the tilde fence holds the backtick lines


@pytest.mark.parametrize(
    "text",
    [
        "\n\n".join("[" * 250 for _ in range(250)),  # link labels are searched per bracket
        "\n\n".join("[a](" * 60 for _ in range(250)),
        "```\nx\n" * 40_000,  # a fence every other line
        "\n".join("  " * i + "- x" for i in range(3000)),  # deep lists
    ],
)
def test_pathological_markdown_is_read_in_bounded_work(text):
    """Paragraphs of brackets are read without link syntax (markdown-it scans for each `[`'s
    end); dense blocks far from the cursor are only scanned."""
    d = Document(text, (0, 0))
    facts = read(d)
    assert facts.lines == window(d)
    assert sum(len(pl.shown) for pl in facts.prose) <= WINDOW_CHARS


def test_a_plan_of_backticked_names_is_bounded_too():
    text = " ".join(f"`Name{i}`" for i in range(25_000))  # ~250 KB on one line
    d = Document(text, (0, len(text)))
    facts = read(d)
    assert 0 < len(facts.mentions) <= 25_000
    assert all(m.kind == "identifier" for m in facts.mentions)


async def test_the_orchestrator_reads_the_plan_off_the_event_loop(tmp_path, monkeypatch):
    """Parsing and planning are CPU work: `prepare` does them, and every caller (the
    service, the CLI, watch, MCP) runs it in a worker thread, never on the event loop."""
    import asyncio
    import threading

    from parallizer.config import Settings
    from parallizer.document import markdown
    from parallizer.models import FulfillRequest, GlobalContext
    from parallizer.planner import plan_for
    from parallizer.runtime import Runtime

    threads: list[int] = []
    parse_blocks = markdown.parse_blocks

    def recorded(*args, **kw):
        threads.append(threading.get_ident())
        return parse_blocks(*args, **kw)

    monkeypatch.setattr(markdown, "parse_blocks", recorded)
    text = "# Plan\n\nUse `RetryPolicy` in `src/app.py`.\n"
    request = FulfillRequest(
        user_id="u",
        document_text=text,
        cursor_position=(2, 0),
        global_context=GlobalContext(scope_root=str(tmp_path)),
        fulfillers=["code_search"],
    )
    async with Runtime(Settings(allowed_roots=str(tmp_path))) as rt:
        orch = assembly.orchestrator(rt)
        job = await asyncio.to_thread(orch.prepare, request)
        events = [ev async for ev in orch.events(job)]
        assert events and threads and threading.get_ident() not in threads
        job = orch.prepare(request)  # as the service calls it, in its worker thread
        assert len(threads) == 2
        before = plan_for(job.document, rt.settings.max_queries, exclude=job.plan_relpath)
        assert read(job.document).mentions and len(threads) == 2  # nothing parsed again
        assert [q.term.text for q in before.queries] == ["RetryPolicy", "src/app.py"]


def test_every_mention_knows_where_it_stands_on_its_raw_line():
    """Markdown syntax is gone from what the reader sees, but each mention is placed on the
    plan's own line: after list bullets, inside links and emphasis, and the second use of a
    name on a line is not taken for the first."""
    text = "\n".join(
        [
            "# Plan",
            "",
            "- **Use** `Client.send` and then `Client.send(a, b)` again",
            "> quoted: see [the parser](src/parser.py) and `load_config()`",
            "1. `RetryPolicy` backs off; *RetryPolicy* is in src/app/retry.py",
        ]
    )
    doc = Document(text, (0, 0))
    placed = [m for m in read(doc).mentions if m.kind not in ("phrase", "url")]
    assert placed
    for m in placed:
        raw = doc.lines[m.line]
        assert m.col >= 0 and raw[m.col : m.end] == m.text, m
    sends = [m for m in placed if m.text == "Client.send"]
    assert len(sends) == 2 and sends[0].col < sends[1].col


# --- whose names -------------------------------------------------------------------------------


def contexts(d: Document) -> dict[str, str]:
    return {m.text: m.context for m in read(d).mentions if m.is_name}


def test_an_item_opening_with_a_link_to_another_site_is_that_projects():
    """An ecosystem list: the names in an item that opens with a link to another site are
    that project's, on every line of the item; an item opening with our own words is ours."""
    d = doc(
        """
        - [`fastify-ravendb`](https://github.com/nearform/fastify-ravendb) RavenDB
          connection plugin. It exposes the same `DocumentStore` (or multiple ones)
          across the whole application.
        - Our `RouteTable` keeps [`find-my-way`](https://github.com/delvedor/find-my-way) routes.
        """
    )
    said = contexts(d)
    assert said["DocumentStore"] == "external"
    assert said["RouteTable"] == ""


def test_a_name_another_project_owns_is_external_across_a_long_subject():
    d = doc(
        """
        Sentry's Node.js SDK (v10.18.0+) provides a native `pinoIntegration` that instruments it.

        The server provides a native `pinoHook` that instruments it.
        """
    )
    said = contexts(d)
    assert said["pinoIntegration"] == "external"
    assert said["pinoHook"] == ""


def test_a_section_about_what_was_removed_is_history():
    """A migration guide's list of what is gone names what the code no longer has: history,
    by its title or by its first paragraph saying so; a neighbouring section is today's."""
    d = doc(
        """
        # Migrating to v5

        ## Removed APIs

        - `reply.getResponseTime()` - use `reply.elapsedTime`.

        ## Deprecations

        All deprecated properties on the request object have been removed:

        | old | new |
        |---|---|
        | `request.routerPath` | `request.routeOptions.url` |

        ## New hooks

        The `onListen` hook runs when the server starts to listen.
        """
    )
    said = contexts(d)
    assert said["reply.getResponseTime"] == "history"
    assert said["request.routerPath"] == "history"
    assert said["onListen"] == ""


def test_a_member_written_without_its_owner_is_a_use():
    """API docs list members as `.getResponseTime()`, `.raw`: each names a member, checked
    like `raw` would be, its range on the name itself."""
    facts = read(doc("- `.getResponseTime()` - returns the time.\n- `.raw` - the response.\n"))
    assert [(u.text, u.line, u.col, u.end) for u in facts.uses] == [
        ("getResponseTime", 0, 4, 19), ("raw", 1, 4, 7)
    ]
    # inside a sentence it is a link of a chain (read with its line), not a bare name
    assert read(doc("We keep them with `.passThrough()` on the schema.\n")).uses == ()
