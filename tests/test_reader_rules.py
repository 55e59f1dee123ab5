"""The reader's rules, one test per rule: what a mention in a Markdown document is before
anything is called wrong. Each test feeds the smallest text a writer would write through
`read(Document(text))` and checks the rule's effect and a near miss it must not swallow.
Each was seen to fail with its rule removed (`scripts/rule_mutations.py`).

Rules already pinned elsewhere (not repeated here):

| rule                                                    | the test that pins it                                                         |
|---------------------------------------------------------|-------------------------------------------------------------------------------|
| mentions: calls carry their arity, dotted their owner   | test_document::test_calls_carry_their_arity_and_dotted_names_their_owner       |
| mentions: a span declaring or calling a name            | test_document::test_a_span_declaring_or_calling_a_name_is_that_name            |
| mentions: `name()` in a span is a reference (no arity)  | test_document::test_a_span_declaring_or_calling_a_name_is_that_name (`ErrPrefix() string`) |
| mentions: keywords and common words are never names     | test_document::test_keywords_and_common_words_are_never_identifiers            |
| markdown: code/URL/link segmentation                    | test_document::test_links_with_parentheses_autolinks_and_bare_urls_are_urls_not_names, test_code_spans_of_any_backtick_count |
| markdown: raw HTML blocks are not prose                 | test_fulfillers::test_what_an_api_reference_writes_is_not_taken_for_a_mistake  |
| introduced: names the plan introduces                   | test_document::test_names_the_plan_introduces                                  |
| introduced: names proposed unless called existing       | test_document::test_names_in_sentences_that_add_things_are_proposed_unless_called_existing |
| introduced: names defined in the plan's code blocks     | test_document::test_names_defined_in_the_plans_own_code_blocks_are_introduced  |
| contexts_in: external (another project's `X's`)         | test_document::test_a_name_another_project_owns_is_external_across_a_long_subject |
| reader: `_about_another_site`                           | test_document::test_an_item_opening_with_a_link_to_another_site_is_that_projects |
| reader: `_history_lines`, a section about removals      | test_document::test_a_section_about_what_was_removed_is_history                |
| reader: `_code_use`, `.member()` spans                  | test_document::test_a_member_written_without_its_owner_is_a_use                |
| reader: a past release's either/or is no open decision  | test_fulfillers::test_what_maintained_docs_write_is_not_taken_for_a_mistake    |
| open spots: todo; code, URLs and fences never flagged   | test_document::test_open_decisions_ignore_code_urls_and_fences_but_wrap_lines   |
"""

from __future__ import annotations

from parallizer.document import Document, read


def names(text: str) -> dict[str, tuple[str, str]]:
    """Each name mentioned: (kind, what) — `what` is `name_kind`'s reading."""
    return {m.text: (m.kind, m.what) for m in read(Document(text)).mentions if m.kind != "phrase"}


def contexts(text: str) -> dict[str, str]:
    """Each name or path used: what its sentence or section says of it."""
    return {u.text: u.context for u in read(Document(text)).uses}


def spots(text: str) -> list[str]:
    return [s.kind for s in read(Document(text)).open_decisions]


# --- mentions.py: what a name written this way is --------------------------------------------


def test_a_release_is_not_a_name_but_a_name_holding_one_is():
    got = names("Since `v16` the client reads `v2_client` from the settings.")
    assert got["v16"] == ("code", "")
    assert got["v2_client"] == ("identifier", "")


def test_a_placeholder_of_an_example_is_read_as_one():
    got = names("Register `my_handler` on the app, then `food_order` runs.")
    assert got["my_handler"] == ("identifier", "example")
    assert got["food_order"] == ("identifier", "")  # `foo` inside a real word
    for word in ("mypy_config", "myriad", "barrier", "food", "someone"):
        assert names(f"Then `{word}` runs.")[word][1] != "example", word
    for word in ("foobar", "foo2", "testfoo", "example_app", "my_handler2", "myFirstPlugin"):
        assert names(f"Then `{word}` runs.")[word][1] == "example", word


def test_a_constant_or_setting_is_told_from_a_type():
    got = names("Raise `MAX_RETRIES` when `MaxRetries` is not enough.")
    assert got["MAX_RETRIES"][1] == "constant"
    assert got["MaxRetries"][1] == ""


def test_an_acronym_is_not_a_code_name():
    got = names("The body is `JSON`, read by `JSONDecoder`.")
    assert got["JSON"][1] == "acronym"
    assert got["JSONDecoder"][1] == ""


def test_a_command_is_not_a_code_name():
    got = names("Install it with `pip`, which reads `pip_options`.")
    assert got["pip"][1] == "command"
    assert got["pip_options"][1] == ""


def test_a_word_written_like_a_name_is_a_term():
    got = names("See `Security` and `Pattern_White_Space`; `SecurityPolicy` checks both.")
    assert got["Security"][1] == "term"
    assert got["Pattern_White_Space"][1] == "term"
    assert got["SecurityPolicy"][1] == ""


def test_empty_parentheses_in_prose_refer_to_a_function_without_calling_it():
    uses = [
        (u.text, u.args) for u in read(Document("Call reset_cache() or reset_cache(force).")).uses
    ]
    assert uses == [("reset_cache", None), ("reset_cache", 1)]


# --- mentions.py: what the sentence says of a name -------------------------------------------


def test_a_name_the_plan_says_was_removed_is_history():
    got = contexts("We removed `legacy_auth` in the last release; `session_auth` stays.")
    assert got == {"legacy_auth": "history", "session_auth": ""}


def test_a_name_said_to_have_been_renamed_is_history():
    got = contexts("`fetchAll` was renamed last year. `fetchPage` pages.")
    assert got == {"fetchAll": "history", "fetchPage": ""}


def test_a_name_in_the_plans_own_question_is_asked():
    got = contexts("Should `RetryPolicy` back off? `TokenBucket` limits the rate.")
    assert got == {"RetryPolicy": "asked", "TokenBucket": ""}


def test_a_name_the_plan_says_exists_is_existing():
    got = contexts("Reuse the existing `RetryPolicy` for uploads. `UploadQueue` holds them.")
    assert got == {"RetryPolicy": "existing", "UploadQueue": ""}


def test_a_name_said_to_be_there_already_is_existing():
    got = contexts("`RetryPolicy` already handles timeouts. `UploadQueue` holds uploads.")
    assert got == {"RetryPolicy": "existing", "UploadQueue": ""}


def test_a_name_given_as_an_example_is_an_examples():
    got = contexts("Pass a callback, for example `on_retry`. `RetryPolicy` calls it.")
    assert got == {"on_retry": "example", "RetryPolicy": ""}


def test_an_environment_variable_is_the_environments():
    got = contexts("Set the `APP_TOKEN_FILE` environment variable before `load_token` runs.")
    assert got == {"APP_TOKEN_FILE": "setting", "load_token": ""}


def test_a_name_after_env_var_is_the_environments():
    got = contexts("It reads the env var `TOKEN_PATH`, then `load_token` opens it.")
    assert got == {"TOKEN_PATH": "setting", "load_token": ""}


# --- reader.py: what a section or a code block says of its names -------------------------------


def test_a_changelogs_past_release_is_history_with_its_subsections():
    text = (
        "# Changelog\n\n## [1.2.0] - 2021-03-04\n\n### Fixed\n\n- `Client.retry` takes a timeout.\n\n"
        "## Upgrading\n\nCall `Client.send` with a timeout.\n"
    )
    assert contexts(text) == {"Client.retry": "history", "Client.send": ""}


def test_names_in_an_examples_section_are_its_data():
    text = "## Examples\n\nThe handler keeps `user_id`.\n\n## Design\n\nThe handler keeps `account_id`.\n"
    assert contexts(text) == {"user_id": "example", "account_id": ""}


def test_a_macro_in_a_span_is_a_use():
    uses = [(u.text, u.kind) for u in read(Document("Messages are built with `format!`.")).uses]
    assert uses == [("format", "identifier")]
    # a lone common word in backticks stays the reader's call: no use
    assert read(Document("Messages are built with `format`.")).uses == ()


def test_a_call_after_raise_or_throw_in_a_span_is_a_use():
    facts = read(Document("On failure, `raise RetryExhausted(attempts)` ends it."))
    assert [(u.text, u.args) for u in facts.uses] == [("RetryExhausted", 1)]


def test_a_rust_path_call_with_a_generic_in_a_span_is_a_call():
    facts = read(Document("Build it with `Vec::<u8>::with_capacity(n)` first."))
    assert [(m.text, m.kind, m.args) for m in facts.mentions] == [("Vec::with_capacity", "call", 1)]
    assert [(u.text, u.owner, u.args) for u in facts.uses] == [("Vec::with_capacity", "Vec", 1)]


def test_a_turbofish_without_a_call_in_a_span_is_a_use():
    facts = read(Document("Walk the causes with `Chain::downcast_ref::<E>` first."))
    assert [(u.text, u.owner) for u in facts.uses] == [("Chain::downcast_ref", "Chain")]


def test_a_types_function_called_in_the_plans_code_block_is_a_use():
    text = (
        'The error keeps its cause:\n\n```rust\nlet e = Error::msg("x", cause);\n'
        "if RE.is_match(line) { client.send(e); }\n```\n"
    )
    uses = [(u.text, u.args, u.lang) for u in read(Document(text)).uses]
    assert uses == [("Error.msg", 2, "rust")]  # not the constant's method, nor a variable's


# --- reader.py, open spots: the plan's own open decisions -------------------------------------


def test_a_question_asking_what_to_do_is_open():
    assert spots("Should we cache the parsed config?") == ["question"]
    assert spots("Where is the cache kept? In memory.") == []  # asks nothing of the plan


def test_a_question_to_the_reader_is_not_open():
    assert spots("Should you pin the version? Read on.") == []
    assert spots("Should we pin the version?") == ["question"]


def test_a_todo_is_open_even_when_it_addresses_the_reader():
    assert spots("TODO: you pick the cache size.") == ["todo"]
    assert spots("Maybe you pick the cache size.") == []


def test_a_heading_question_is_open_only_when_labelled_so():
    assert spots("## Should we cache the config?\n\nYes: once per run.\n") == []
    assert spots("## Open: should we cache the config?\n\nOnce per run.\n") == ["question"]


def test_a_heading_or_rhetorical_question_is_not_open():
    assert spots("## How does caching work?\n\nIt reads the file once.\n") == []
    assert spots("Why do we need a cache? Parsing is slow.") == []


def test_either_or_is_open_where_the_plan_decides():
    assert spots("We will either retry once or give up.") == ["either_or"]
    assert spots("You can either pass a path or a file object.") == []  # the reader's choice
    assert spots("The parser either skips the line or fails.") == []  # a description


def test_a_vague_word_is_open_only_in_a_promise_without_a_number():
    assert spots("Startup must be fast.") == ["vague"]
    assert spots("Startup is fast on most machines.") == []  # a description
    assert spots("Startup must be fast: under 50 ms.") == []  # quantified


def test_an_amount_without_a_number_is_open_only_among_the_goals():
    assert spots("## Goals\n\nServe many tenants.\n") == ["vague"]
    assert spots("## Background\n\nWe serve many tenants.\n") == []


def test_every_spelling_of_an_open_spot_cue_holds_one_of_its_words():
    """A block of ASCII prose skips the scan for a cue when it holds none of the cue's words
    (`_CUE_WORDS`): every spelling the cue matches must hold one, or that block's cue would
    go unflagged."""
    from parallizer.document.reader import _CUE_WORDS, _CUES

    spellings = (
        "TODO. FIXME. XXX. Tbd. TBC. To be decided. To be determined. to be confirmed. Why? "
        "Either this or that. And/or. and / or. Maybe. Perhaps. Possibly. Etc. etc and so on, "
        "and so forth, and the like. Fast, faster enough, quick, quickly, quicker, slow, "
        "slower, cheap, cheaper, negligible, noticeable, noticeably, measurable, measurably, "
        "reasonable, robust, instant, instantly, efficient, efficiently, scalable, responsive, "
        "lightweight, snappy, acceptable, significant, significantly, minimal, little memory, "
        "little overhead, little time, intuitive, seamless, seamlessly, high-performance, "
        "high performance, low-latency, low latency, large, larger, big, bigger, huge, small, "
        "smaller, soon. Many, few, several, lots of, a lot."
    )
    for kind, gate, rx in _CUES:
        found = [m.group(0) for m in rx.finditer(spellings)]
        assert found, kind
        for cue in found:
            assert any(word in cue.lower() for word in _CUE_WORDS[gate]), (gate, cue)


def test_every_spelling_of_a_sentence_rule_holds_one_of_its_words():
    """A block of ASCII prose skips a rule's scans when it holds none of the rule's words
    (`_X_WORDS` beside each rule `_X` of `mentions`): every spelling the rule matches must
    hold one, or names in such a block would lose their context."""
    from parallizer.document import mentions as m

    verbs = "new add adds adding introduce introduces introduced introducing create creates "
    verbs += "created creating "
    spellings = {
        "_PAST": "removed deleted dropped renamed replaced no_longer used_to formerly previously",
        "_PAST_AFTER": "was_removed were_deleted has_been_dropped have_been_renamed "
        "is_now_deprecated are_now_replaced",
        "_SAYS_EXISTS": "existing already currently current today's todays shared reuse reused "
        "re-uses reusing re-using as_today as_before as_now keep_using keeps_using still",
        "_EXISTS_AFTER": "already_exists still_has",
        "_EXAMPLE": "e.g. eg for_example for_instance such_as like say called named suppose "
        "imagine assume your my some a_custom a_hypothetical an_example",
        "_SETTING_AFTER": "environment_variable env_var env._variables",
        "_SETTING_BEFORE": "environment_variable env_var_named env._vars_called",
        "_OWNED": "Sentry's_SDK_provides_a",
        "_BEFORE": verbs + "added define defines defined defining",
        "_PROPOSING": verbs + "replace replaces replaced replacing",
        "_TAGGED": "(new) (added) (to_be_added) (to_be_written) (new_helper)",
        "_NEW_IN": "add_a_new_class_in creates_a_new_helper_in_the_file",
        "_EXISTING": "existing current today's already",
    }
    for name, written in spellings.items():
        rule, words = getattr(m, name), getattr(m, name + "_WORDS", None)
        if words is None:
            words = m._SETTING_WORDS
        for spelling in written.split():
            text = " " + spelling.replace("_", " ") + " "
            found = rule.search(text)
            assert found is not None, (name, spelling)
            assert any(word in found.group(0).lower() for word in words), (name, spelling)
