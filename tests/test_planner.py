"""The offline planner: what a plan talks about, ranked; and where it leaves things open."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from parallizer.backends.base import CodeQuery
from parallizer.backends.ripgrep import RipgrepBackend
from parallizer.document import Document, read
from parallizer.planner import plan, plan_for
from parallizer.planner.offline import terms

from .conftest import write


def doc(text: str, cursor: tuple[int, int] | None = None) -> Document:
    text = textwrap.dedent(text).strip("\n")
    lines = text.split("\n")
    return Document(text, cursor or (len(lines) - 1, len(lines[-1])))


def ranked(d: Document, n: int = 5) -> list[tuple[str, str, str, tuple[int, ...]]]:
    return [(q.term.text, q.term.kind, q.query.mode, q.term.lines) for q in plan(d, n).queries]


def test_ranked_queries_by_kind_frequency_and_cursor_line():
    d = doc(
        """
        # Retry

        Wrap `fetch_page()` in a `RetryPolicy`; the policy lives in `src/net/retry.py`.
        RetryPolicy should read `config.retry.max_attempts`.
        """
    )
    # RetryPolicy: 3.75 (span) + 2.5 x 1.25 (bare, cursor line) / 2 = 5.31
    # config.retry.max_attempts: 3.75 x 1.25 = 4.69; fetch_page(): 4.5; the path: 3.0
    assert ranked(d) == [
        ("RetryPolicy", "identifier", "word", (2, 3)),
        ("config.retry.max_attempts", "dotted", "regex", (3,)),
        ("fetch_page", "call", "word", (2,)),
        ("src/net/retry.py", "path", "regex", (2,)),
    ]
    q = {pq.term.text: pq.query for pq in plan(d).queries}
    assert q["RetryPolicy"] == CodeQuery(pattern="RetryPolicy", mode="word", max_results=200)
    assert q["config.retry.max_attempts"].pattern == r"\b(?i:config)\.retry\.max_attempts\b"
    rust = {pq.term.text: pq.query for pq in plan(doc("Call `HiArgs::new(a)`.")).queries}
    assert rust["HiArgs::new"].pattern == r"\b(?i:HiArgs)::new\b"
    assert q["src/net/retry.py"].globs == ("**/src/net/retry.py",)
    assert [pq.term.text for pq in plan(d, 2).queries] == [
        "RetryPolicy",
        "config.retry.max_attempts",
    ]


def test_the_section_around_the_cursor_wins():
    text = """
        # Plan

        ## Storage

        Store rows with `write_batch`.

        ## Network

        Send them with `post_rows`.
        """
    at_end = doc(text)
    in_storage = doc(text, cursor=(4, 0))
    assert [t for t, *_ in ranked(at_end)] == ["post_rows", "write_batch"]
    assert [t for t, *_ in ranked(in_storage)] == ["write_batch", "post_rows"]


def test_case_variants_containment_and_near_duplicates_merge():
    d = doc(
        """
        # Limits

        The `Limiter` caps searches; each `limiter` has a peak (`Limiter.peak`).
        `fan_out` spreads calls; the fan out also records timings, and fanout.py is small.
        An `TokenBucketLimiter` is not the same thing as the `Limiter`.
        """
    )
    found = {t.text: t for t in terms(d)}
    limiter = found["Limiter"]
    assert limiter.ignore_case and limiter.lines == (2, 4)  # `limiter`, `Limiter.peak` too
    assert "limiter" not in found and "Limiter.peak" not in found
    assert found["fan_out"].lines == (3,) and "fan out" not in found  # phrase == name
    assert "TokenBucketLimiter" in found  # containing a name is not being it
    q = {pq.term.text: pq.query for pq in plan(d).queries}
    assert q["Limiter"].ignore_case and q["Limiter"].mode == "word"
    assert not q["TokenBucketLimiter"].ignore_case


def test_prose_fenced_code_urls_and_markdown_are_not_names():
    d = doc(
        """
        # Notes

        We use GitHub and JavaScript, i.e. nothing special, e.g. a _quick_ fix.
        The site https://example.com/load_config.py explains [it](https://x.io/RetryPolicy).
        Node.js is fine.

        ```python
        def inside_a_fence(): return SecretName
        ```
        """
    )
    assert [t.text for t in terms(d)] == []


def test_key_phrases_recur_or_head_a_section_and_skip_stop_words():
    d = doc(
        """
        # Response time

        The response time of the server matters. We want the response time down.
        This is the plan and it should be good.
        """
    )
    (q,) = plan(d).queries
    assert (q.term.text, q.term.kind) == ("response time", "phrase")
    assert q.term.lines == (0, 2)
    assert q.query == CodeQuery(pattern=r"response[\s_-]?time", mode="regex", ignore_case=True)


def test_quoted_phrases_and_other_code_are_literal_substrings():
    d = doc(
        """
        # Logs

        The log says "executing (3) queries*" and the flag `--serial` turns it off.
        """
    )
    q = {pq.term.text: pq.query for pq in plan(d).queries}
    assert q["executing (3) queries*"] == CodeQuery(
        pattern="executing (3) queries*", mode="literal", ignore_case=True
    )
    assert q["--serial"] == CodeQuery(pattern="--serial", mode="literal")


def test_the_word_being_typed_at_the_cursor_is_not_searched():
    text = "# Plan\n\nCall load_config and then fetch_pa"
    d = Document(text, (2, len("Call load_config and then fetch_pa")))
    assert [t for t, *_ in ranked(d)] == ["load_config"]
    d = Document(text, (2, len("Call load_config")))  # cursor right after a name being typed
    assert [t for t, *_ in ranked(d)] == ["fetch_pa"]


def test_plan_for_gives_every_caller_the_same_query_objects():
    d = doc("# P\n\nUse `RetryPolicy` and `load_config`.")
    a, b = plan_for(d, 5), plan_for(d, 5)
    assert a is b
    assert all(x.query is y.query for x, y in zip(a.queries, b.queries, strict=True))
    assert plan_for(Document(d.text, d.cursor), 5) is not a  # another request, its own plan


async def test_user_text_in_queries_is_escaped_for_the_real_rg(tmp_path: Path):
    """Brackets in a path become glob-escaped, dots in names regex-escaped: both find
    exactly what the plan names and nothing else."""
    write(tmp_path, "src/[id]/view.py", "def show():\n    pass\n")
    write(tmp_path, "src/i/view.py", "def other():\n    pass\n")
    write(tmp_path, "app.py", "cfg.retry.limit = 1\ncfgXretryXlimit = 2\nCFG.retry.limit = 3\n")
    d = doc("# P\n\nSee `src/[id]/view.py` and `cfg.retry.limit`.")
    q = {pq.term.text: pq.query for pq in plan(d).queries}
    rg = RipgrepBackend()
    outline = await rg.search(q["src/[id]/view.py"], tmp_path)
    assert [m.citation for m in outline.matches] == ["src/[id]/view.py:1"]
    dotted = await rg.search(q["cfg.retry.limit"], tmp_path)
    assert [m.citation for m in dotted.matches] == ["app.py:1", "app.py:3"]


# --- open spots ----------------------------------------------------------------------------


def spots(text: str) -> list[tuple[int, str, str]]:
    return [(s.line, s.kind, s.cue) for s in open_spots(doc(text))]


def open_spots(d: Document):
    return read(d).open_decisions


def test_each_kind_of_open_spot_with_its_line():
    assert spots(
        """
        # Plan

        The TTL is TBD.
        Should the cache survive restarts?
        Either we poll, or we watch the files.
        Log hits and/or misses.
        Maybe we also warm it at start.
        We count hits, misses, etc.
        The cache must be fast.
        Its memory use should stay small.
        - TODO: pick a name

        ## Goals

        Keep many entries around.
        """
    ) == [
        (2, "todo", "TBD"),
        (3, "question", "?"),
        (4, "either_or", "either … or"),
        (5, "and_or", "and/or"),
        (6, "maybe", "Maybe"),
        (7, "etc", "etc."),
        (8, "vague", "fast"),
        (9, "vague", "small"),
        (10, "todo", "TODO"),
        (14, "vague", "many"),  # an amount without a number counts where goals are stated
    ]


def test_prose_that_describes_leaves_nothing_open():
    """A cue counts where the plan decides or promises, not where prose describes: an FAQ
    heading, a rhetorical question, "either of" in a licence, "possibly surprising", "some
    objects", "a lot more readable" and "etc." in a description are not open spots; the same
    words in a promise ("must", a Goals section) or a decision ("we could") are."""
    described = """
        # How does it work?

        Hate type annotations!?
        Why do we need them if we already have `decorate`?
        Licensed under either of Apache or MIT at your option.
        It should keep many entries, with a lot more readable names.
        They come with several possibly surprising gotchas.
        Some objects have hash codes which are expensive to compute.
        This makes the changelog a lot more readable, with fixes, features, etc.
        """
    assert spots(described) == []
    goals = """
        # Plan

        ## Goals

        Lookups stay fast for big tables.
        """
    assert spots(goals) == [(4, "vague", "fast")]


def test_a_number_nearby_quantifies_a_vague_word():
    assert spots("Searches must be fast (under 50 ms). Keep a few hundred entries.") == []
    assert spots("We must keep it small. The limit is 4, we decided that last week.") == [
        (0, "vague", "small")
    ]


def test_code_quotes_urls_and_fences_are_not_prose():
    assert (
        spots(
            """
            Use `maybe_retry()` and the "fast path" label, see https://x.io/a?b=c.

            ```
            TODO: this is code, maybe
            ```
            """
        )
        == []
    )


def test_a_sentence_wraps_lines_and_takes_its_strongest_cue():
    (s,) = open_spots(
        doc(
            """
            When many queries time out, maybe the limit should
            shrink (TBD: by how much), e.g. halve it.
            """
        )
    )
    assert (s.line, s.kind, s.lines) == (1, "todo", (0, 1))
    assert s.sentence == (
        "When many queries time out, maybe the limit should shrink (TBD: by how much), "
        "e.g. halve it."
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- [ ] Decide the size? Later.", "Decide the size?"),
        ("## Open: what about retries?", "Open: what about retries?"),
        ("> Maybe we quote it.", "Maybe we quote it."),
    ],
)
def test_quotes_drop_markdown_markers(text, expected):
    (s,) = open_spots(doc(text))
    assert s.sentence == expected


def test_a_long_document_is_read_around_the_cursor_only():
    lines = ["# Log", "", "Early on we used `early_name`. TBD: what else?"]
    lines += ["Just prose, line after line."] * 3000
    lines += ["Now we use `late_name`, maybe."]
    d = Document("\n".join(lines), (len(lines) - 1, 0))
    assert [t.text for t in terms(d)] == ["late_name"]
    assert [(s.kind, s.line) for s in plan(d).open_spots] == [("maybe", len(lines) - 1)]
    d = Document("\n".join(lines), (2, 0))
    assert [t.text for t in terms(d)] == ["early_name"]


def test_absurd_tokens_are_not_queries():
    d = doc("# P\n\nSee `" + "x_" * 200 + "` and `ok_name`, and " + "y_" * 150 + "z.")
    assert [t.text for t in terms(d)] == ["ok_name"]


def test_the_reading_window_of_a_huge_plan_is_bounded_around_the_cursor():
    from parallizer.document import WINDOW, WINDOW_CHARS, window

    long_lines = Document("\n".join("x" * 2000 for _ in range(600)), (300, 5))
    many_lines = Document("\n".join(f"- item {i}" for i in range(100_000)), (99_990, 0))
    for doc in (long_lines, many_lines):
        w = window(doc)
        assert doc.cursor[0] in w and len(w) <= WINDOW
        assert sum(len(doc.lines[i]) + 1 for i in w) <= WINDOW_CHARS + 2001
    assert window(many_lines).stop == 100_000  # at the end, it grows upwards only
    small = Document("# a\n\nb\n", (1, 0))
    assert window(small) == range(0, 4)  # a small plan is read whole


# --- closeness to the cursor, names for resolution -----------------------------------------


def test_names_near_the_cursor_win_ties_not_the_alphabet_or_the_first_line():
    """A summary line naming everything, then a last section where the cursor sits: the
    names mentioned next to the cursor rank first (this took the first names in alphabetical
    order: all tied on score and on their first line, the summary)."""
    names = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot", "Golf", "Hotel"]
    summary = "Touches " + ", ".join(f"`{n}Store`" for n in reversed(names)) + "."
    body = "\n".join(f"- then `{n}Store` handles step {k}" for k, n in enumerate(names))
    d = doc(f"# Plan\n\n{summary}\n\n## Steps\n\n{body}\n")
    top = [q.term.text for q in plan(d, 5).queries]
    assert top == ["HotelStore", "GolfStore", "FoxtrotStore", "EchoStore", "DeltaStore"]
    cursor_in_first = doc(f"# Plan\n\n{summary}\n\n## Steps\n\n{body}\n", cursor=(6, 0))
    assert [q.term.text for q in plan(cursor_in_first, 2).queries] == [
        "AlphaStore",
        "BravoStore",
    ]


def test_every_name_is_handed_on_ranked_with_arity_owner_and_introduced():
    d = doc(
        """
        # Retries

        We add `TooManyRetries` (new), raised when `client.send(req, timeout)` fails.
        The `data` and `head` are common words; `self` is a keyword.
        `RetryPolicy.next_delay()` decides; see `src/net/retry.py`.
        """
    )
    p = plan(d, 2)
    assert len(p.queries) == 2
    names = {t.text: t for t in p.names}
    assert set(names) == {"TooManyRetries", "client.send", "RetryPolicy.next_delay"}
    send = names["client.send"]
    assert (send.kind, send.args, send.owner, send.introduced) == ("dotted", 2, "client", False)
    # `name()` in prose or a span names the function, it is no call with nothing
    assert names["RetryPolicy.next_delay"].args is None
    assert names["TooManyRetries"].introduced
    # introduced: it cannot be missing, so it ranks below the names still to check
    assert p.names[-1].text == "TooManyRetries"
    assert [t.text for t in p.paths] == ["src/net/retry.py"]


def test_quotes_around_nothing_make_no_search_and_no_crash():
    """An HTML link whose URL holds a query (`href="…?v=…"`) leaves a pair of quotes around
    spaces in the prose: no quoted phrase, no empty search pattern."""
    text = '# Talks\n\nSee <a href="https://www.youtube.com/watch?v=abc">the talk</a> and "  " or "x".\n'
    doc = Document(text, (0, 0))
    assert not [m for m in read(doc).mentions if m.kind == "quoted"]
    assert all(q.query.pattern for q in plan(doc).queries)
