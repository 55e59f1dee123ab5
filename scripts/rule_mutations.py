"""Remove each rule of the reader and of the claims once, and see that a test notices.

For each entry of `MUTATIONS` (rule, file, exact source snippet, replacement, test node id)
the file is patched in place (the snippet must occur exactly once), that one test is run
with pytest, and the file is restored (in `finally`, and checked byte for byte). "killed":
the test failed with the rule removed; "SURVIVED": nothing depends on the rule as tested.

    .venv/bin/python scripts/rule_mutations.py            # every entry
    .venv/bin/python scripts/rule_mutations.py history    # entries whose rule holds "history"

Run from the repository root, with no other process reading src/ meanwhile (the patch is
in place, for the few seconds a test takes).

Last run (2026-12-07): 78 killed, 0 survived (each rule, then the test
that fails without it):

    killed  mentions: `v16` is a release, not a name
            test_reader_rules::test_a_release_is_not_a_name_but_a_name_holding_one_is
    killed  name_kind: placeholder
            test_reader_rules::test_a_placeholder_of_an_example_is_read_as_one
    killed  name_kind: constant
            test_reader_rules::test_a_constant_or_setting_is_told_from_a_type
    killed  name_kind: acronym
            test_reader_rules::test_an_acronym_is_not_a_code_name
    killed  name_kind: command
            test_reader_rules::test_a_command_is_not_a_code_name
    killed  name_kind: term
            test_reader_rules::test_a_word_written_like_a_name_is_a_term
    killed  mentions: prose `name()` is a reference (no arity)
            test_reader_rules::test_empty_parentheses_in_prose_refer_to_a_function_without_calling_it
    killed  mentions: a dotted name's owner
            test_document::test_calls_carry_their_arity_and_dotted_names_their_owner
    killed  mentions: a span declaring a name is that name
            test_document::test_a_span_declaring_or_calling_a_name_is_that_name
    killed  mentions: a Rust generic in a span (`Vec::<u8>::f`)
            test_reader_rules::test_a_rust_path_call_with_a_generic_in_a_span_is_a_call
    killed  mentions: a common word is never a name
            test_document::test_keywords_and_common_words_are_never_identifiers
    killed  contexts_in: history (`removed X`)
            test_reader_rules::test_a_name_the_plan_says_was_removed_is_history
    killed  contexts_in: history (`X was renamed`)
            test_reader_rules::test_a_name_said_to_have_been_renamed_is_history
    killed  contexts_in: asked
            test_reader_rules::test_a_name_in_the_plans_own_question_is_asked
    killed  contexts_in: existing (`the existing X`)
            test_reader_rules::test_a_name_the_plan_says_exists_is_existing
    killed  contexts_in: existing (`X already handles`)
            test_reader_rules::test_a_name_said_to_be_there_already_is_existing
    killed  contexts_in: example
            test_reader_rules::test_a_name_given_as_an_example_is_an_examples
    killed  contexts_in: setting (`the X environment variable`)
            test_reader_rules::test_an_environment_variable_is_the_environments
    killed  contexts_in: setting (`env var X`)
            test_reader_rules::test_a_name_after_env_var_is_the_environments
    killed  contexts_in: external (`Sentry's ... X`)
            test_document::test_a_name_another_project_owns_is_external_across_a_long_subject
    killed  introduced: names the plan introduces
            test_document::test_names_the_plan_introduces
    killed  introduced: names proposed
            test_document::test_names_in_sentences_that_add_things_are_proposed_unless_called_existing
    killed  introduced: names the plan's code blocks define
            test_document::test_names_defined_in_the_plans_own_code_blocks_are_introduced
    killed  _history_lines: a changelog's release section
            test_reader_rules::test_a_changelogs_past_release_is_history_with_its_subsections
    killed  _history_lines: a section titled as removed
            test_document::test_a_section_about_what_was_removed_is_history
    killed  _history_lines: a section opening with 'have been removed'
            test_document::test_a_section_about_what_was_removed_is_history
    killed  reader: a past release's either/or is no open decision
            test_fulfillers::test_what_maintained_docs_write_is_not_taken_for_a_mistake
    killed  _about_another_site
            test_document::test_an_item_opening_with_a_link_to_another_site_is_that_projects
    killed  reader: an Examples section's names are its data
            test_reader_rules::test_names_in_an_examples_section_are_its_data
    killed  _code_use: `.member()` spans
            test_document::test_a_member_written_without_its_owner_is_a_use
    killed  _code_use: a macro (`format!`)
            test_reader_rules::test_a_macro_in_a_span_is_a_use
    killed  _code_use: `raise X(...)`, `throw new X(...)`
            test_reader_rules::test_a_call_after_raise_or_throw_in_a_span_is_a_use
    killed  _code_use: a turbofish without a call (`Chain::f::<E>`)
            test_reader_rules::test_a_turbofish_without_a_call_in_a_span_is_a_use
    killed  _block_uses: calls in the plan's code blocks
            test_reader_rules::test_a_types_function_called_in_the_plans_code_block_is_a_use
    killed  _block_uses: a constant's method is no type's
            test_reader_rules::test_a_types_function_called_in_the_plans_code_block_is_a_use
    killed  open spots: a question must ask what to do
            test_reader_rules::test_a_question_asking_what_to_do_is_open
    killed  open spots: a rhetorical question
            test_reader_rules::test_a_heading_or_rhetorical_question_is_not_open
    killed  open spots: a sentence to the reader
            test_reader_rules::test_a_question_to_the_reader_is_not_open
    killed  open spots: a todo counts everywhere
            test_reader_rules::test_a_todo_is_open_even_when_it_addresses_the_reader
    killed  open spots: a heading's question only when labelled open
            test_reader_rules::test_a_heading_question_is_open_only_when_labelled_so
    killed  open spots: either/or only where the plan decides
            test_reader_rules::test_either_or_is_open_where_the_plan_decides
    killed  open spots: vague only in a promise
            test_reader_rules::test_a_vague_word_is_open_only_in_a_promise_without_a_number
    killed  open spots: a vague word with a number is quantified
            test_reader_rules::test_a_vague_word_is_open_only_in_a_promise_without_a_number
    killed  open spots: an amount only among the goals
            test_reader_rules::test_an_amount_without_a_number_is_open_only_among_the_goals
    killed  markdown: raw HTML blocks are not prose
            test_fulfillers::test_what_an_api_reference_writes_is_not_taken_for_a_mistake
    killed  markdown: a link to another site is external
            test_document::test_an_item_opening_with_a_link_to_another_site_is_that_projects
    killed  _weigh: a past release is no claim
            test_claim_rules::test_a_changelogs_past_release_makes_no_claim
    killed  _weigh: an environment variable is no claim
            test_claim_rules::test_an_environment_variable_makes_no_claim
    killed  _weigh: another project's name is no claim
            test_claim_rules::test_another_projects_name_makes_no_claim
    killed  _weigh: an acronym is no claim
            test_claim_rules::test_an_acronym_makes_no_claim
    killed  _weigh: a command is no claim
            test_claim_rules::test_a_command_makes_no_claim
    killed  _weigh: an example's name is never missing
            test_claim_rules::test_a_placeholder_of_an_example_is_never_missing
    killed  _weigh: a name in the plan's question is never missing
            test_claim_rules::test_a_name_in_the_plans_own_question_is_never_missing
    killed  _weigh: a declared name is never missing
            test_claim_rules::test_a_name_the_plan_declares_is_never_missing
    killed  _weigh: a term or constant is never missing
            test_claim_rules::test_a_term_or_constant_is_missing_only_when_called_existing
    killed  _weigh: ... unless called existing
            test_claim_rules::test_a_term_or_constant_is_missing_only_when_called_existing
    killed  _weigh: a term near a function is a word
            test_claim_rules::test_a_term_near_a_functions_name_is_a_word_but_near_a_class_a_slip
    killed  _weigh: existing raises
            test_claim_rules::test_existing_raises_and_a_plain_word_lowers_a_missing_claim
    killed  _weigh: a plain word lowers
            test_claim_rules::test_existing_raises_and_a_plain_word_lowers_a_missing_claim
    killed  _weigh: only in the plan's code lowers
            test_claim_rules::test_a_name_only_in_the_plans_own_code_is_a_weaker_claim
    killed  _weigh: an example lowers
            test_claim_rules::test_an_examples_name_is_a_weaker_claim
    killed  _weigh: a bare word of prose lowers
            test_claim_rules::test_a_bare_word_of_prose_is_a_weaker_claim_than_a_span
    killed  wrong_name: another case style is worth a look only
            test_fulfillers::test_a_near_name_in_another_case_style_is_only_worth_a_look
    killed  wrong_name: 'Returns: `retryHandler`' is an instance
            test_fulfillers::test_what_an_api_reference_writes_is_not_taken_for_a_mistake
    killed  wrong_name: a type beside a member of the same name
            test_claim_rules::test_a_type_beside_a_member_of_the_same_name_is_only_worth_a_look
    killed  missing_path: a well-known file alone
            test_claim_rules::test_a_well_known_file_alone_is_the_readers_not_the_trees
    killed  _owner_may_have: a body assigning the member
            test_claim_rules::test_a_member_the_class_assigns_is_not_on_the_wrong_class
    killed  _owner_may_have: a base class having it
            test_claim_rules::test_a_member_the_class_inherits_is_not_on_the_wrong_class
    killed  _owner_may_have: an unread body is no claim
            test_claim_rules::test_a_wrong_owner_whose_class_body_was_not_read_makes_no_claim
    killed  _with_ancestors: a base's base
            test_fulfillers::test_what_an_api_reference_writes_is_not_taken_for_a_mistake
    killed  _fits: JavaScript may leave parameters out
            test_claim_rules::test_a_javascript_call_may_leave_parameters_out_but_not_add_any
    killed  _fits: a JS function declaring none takes any call
            test_fulfillers::test_what_an_api_reference_writes_is_not_taken_for_a_mistake
    killed  _competing: twice in one file without overloading
            code/test_resolve_unit::test_ambiguity_needs_rival_source_definitions
    killed  _competing: an alias is no rival
            code/test_resolve_unit::test_ambiguity_needs_rival_source_definitions
    killed  _typed_variable: a variable named after a type's last word
            code/test_resolve_unit::test_a_variable_named_after_a_type_is_read_as_one
    killed  _absent: `PoolOptions` is `Pool.Options`
            test_fulfillers::test_what_an_api_reference_writes_is_not_taken_for_a_mistake
    killed  _found: a standard module aliased in many files
            test_claim_rules::test_a_standard_module_required_in_many_files_is_not_ambiguous
    killed  known names (`defaultdict`)
            code/test_resolve_unit::test_introduced_known_and_no_claims
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTEST = ROOT / ".venv" / "bin" / "pytest"

M = "src/parallizer/document/mentions.py"
R = "src/parallizer/document/reader.py"
K = "src/parallizer/document/markdown.py"
A = "src/parallizer/fulfillers/ambiguities.py"
S = "src/parallizer/code/resolve.py"

RR = "tests/test_reader_rules.py::"
CR = "tests/test_claim_rules.py::"
TD = "tests/test_document.py::"
TF = "tests/test_fulfillers.py::"
TU = "tests/code/test_resolve_unit.py::"
API = TF + "test_what_an_api_reference_writes_is_not_taken_for_a_mistake"


@dataclass(frozen=True)
class Mutation:
    rule: str
    file: str
    snippet: str
    replacement: str
    test: str


MUTATIONS = [
    # --- mentions.py ---
    Mutation("mentions: `v16` is a release, not a name", M,
             " or (_VERSION.fullmatch(text) and not call)", "",
             RR + "test_a_release_is_not_a_name_but_a_name_holding_one_is"),
    Mutation("name_kind: placeholder", M,
             'if _PLACEHOLDER.fullmatch(name.strip("_")) and not name[:1].isupper():', "if False:",
             RR + "test_a_placeholder_of_an_example_is_read_as_one"),
    Mutation("name_kind: constant", M,
             'if _CONSTANT.fullmatch(name):\n        return "constant"',
             'if False:\n        return "constant"',
             RR + "test_a_constant_or_setting_is_told_from_a_type"),
    Mutation("name_kind: acronym", M, "if _ACRONYM.fullmatch(name):", "if False:",
             RR + "test_an_acronym_is_not_a_code_name"),
    Mutation("name_kind: command", M, "if name in COMMANDS:", "if False:",
             RR + "test_a_command_is_not_a_code_name"),
    Mutation("name_kind: term", M,
             "if _TITLE_SNAKE.fullmatch(name) or _WORD_CASE.fullmatch(name):", "if False:",
             RR + "test_a_word_written_like_a_name_is_a_term"),
    Mutation("mentions: prose `name()` is a reference (no arity)", M,
             "return None if not args.strip() else arity(args)", "return arity(args)",
             RR + "test_empty_parentheses_in_prose_refer_to_a_function_without_calling_it"),
    Mutation("mentions: a dotted name's owner", M,
             "return None if is_keyword(parts[-2]) else parts[-2]", "return None",
             TD + "test_calls_carry_their_arity_and_dotted_names_their_owner"),
    Mutation("mentions: a span declaring a name is that name", M,
             "m := (_CALL_FULL.fullmatch(bare) or _DECLARED.match(bare))",
             "m := _CALL_FULL.fullmatch(bare)",
             TD + "test_a_span_declaring_or_calling_a_name_is_that_name"),
    Mutation("mentions: a Rust generic in a span (`Vec::<u8>::f`)", M,
             'bare = _GENERIC.sub("", content)', "bare = content",
             RR + "test_a_rust_path_call_with_a_generic_in_a_span_is_a_call"),
    Mutation("mentions: a common word is never a name", M,
             "if is_common(text):", "if False:",
             TD + "test_keywords_and_common_words_are_never_identifiers"),
    # --- mentions.py: what the sentence says of a name ---
    Mutation("contexts_in: history (`removed X`)", M,
             "if (past and _PAST.search(before)) or (past_after and _PAST_AFTER.search(after)):",
             "if past_after and _PAST_AFTER.search(after):",
             RR + "test_a_name_the_plan_says_was_removed_is_history"),
    Mutation("contexts_in: history (`X was renamed`)", M,
             "if (past and _PAST.search(before)) or (past_after and _PAST_AFTER.search(after)):",
             "if past and _PAST.search(before):",
             RR + "test_a_name_said_to_have_been_renamed_is_history"),
    Mutation("contexts_in: asked", M,
             'elif text[lo:hi].rstrip().endswith("?"):', "elif False:",
             RR + "test_a_name_in_the_plans_own_question_is_asked"),
    Mutation("contexts_in: existing (`the existing X`)", M,
             "(exists and _SAYS_EXISTS.search(before)) or (",
             "(",
             RR + "test_a_name_the_plan_says_exists_is_existing"),
    Mutation("contexts_in: existing (`X already handles`)", M,
             "exists_after and _EXISTS_AFTER.search(after)",
             "False",
             RR + "test_a_name_said_to_be_there_already_is_existing"),
    Mutation("contexts_in: example", M, "elif example and _EXAMPLE.search(before):", "elif False:",
             RR + "test_a_name_given_as_an_example_is_an_examples"),
    Mutation("contexts_in: setting (`the X environment variable`)", M,
             "elif setting and (_SETTING_AFTER.match(after) or _SETTING_BEFORE.search(before)):",
             "elif setting and _SETTING_BEFORE.search(before):",
             RR + "test_an_environment_variable_is_the_environments"),
    Mutation("contexts_in: setting (`env var X`)", M,
             "elif setting and (_SETTING_AFTER.match(after) or _SETTING_BEFORE.search(before)):",
             "elif setting and _SETTING_AFTER.match(after):",
             RR + "test_a_name_after_env_var_is_the_environments"),
    Mutation("contexts_in: external (`Sentry's ... X`)", M,
             "elif owned and _OWNED.search(text[lo:start]):", "elif False:",
             TD + "test_a_name_another_project_owns_is_external_across_a_long_subject"),
    Mutation("introduced: names the plan introduces", M,
             "            out.append(mention)\n    return out", "            pass\n    return out",
             TD + "test_names_the_plan_introduces"),
    Mutation("introduced: names proposed", M, "return out + described", "return described",
             TD + "test_names_in_sentences_that_add_things_are_proposed_unless_called_existing"),
    Mutation("introduced: names the plan's code blocks define", M,
             "out |= defined_in(block)", "pass",
             TD + "test_names_defined_in_the_plans_own_code_blocks_are_introduced"),
    # --- reader.py ---
    Mutation("_history_lines: a changelog's release section", R,
             "if sec.level and _RELEASE.search(sec.title):", "if False:",
             RR + "test_a_changelogs_past_release_is_history_with_its_subsections"),
    Mutation("_history_lines: a section titled as removed", R,
             "_REMOVED_TITLE.search(sec.title) or ", "",
             TD + "test_a_section_about_what_was_removed_is_history"),
    Mutation("_history_lines: a section opening with 'have been removed'", R,
             ' or _REMOVED_SAID.search(firsts.get(sec.start, ""))', "",
             TD + "test_a_section_about_what_was_removed_is_history"),
    Mutation("reader: a past release's either/or is no open decision", R,
             "if not history.intersection(s.lines)", "if True",
             TF + "test_what_maintained_docs_write_is_not_taken_for_a_mistake"),
    Mutation("_about_another_site", R, "            return s.external", "            return False",
             TD + "test_an_item_opening_with_a_link_to_another_site_is_that_projects"),
    Mutation("reader: an Examples section's names are its data", R,
             "showing = _EXAMPLES.search(doc.section_at(block.line).title) is not None",
             "showing = False",
             RR + "test_names_in_an_examples_section_are_its_data"),
    Mutation("_code_use: `.member()` spans", R, "        text = text[1:]\n    macro", "        pass\n    macro",
             TD + "test_a_member_written_without_its_owner_is_a_use"),
    Mutation("_code_use: a macro (`format!`)", R,
             'macro = text.endswith("!") or "!(" in text', "macro = False",
             RR + "test_a_macro_in_a_span_is_a_use"),
    Mutation("_code_use: `raise X(...)`, `throw new X(...)`", R,
             '_LEADING_WORD.sub("", m.text.strip())', "m.text.strip()",
             RR + "test_a_call_after_raise_or_throw_in_a_span_is_a_use"),
    Mutation("_code_use: a turbofish without a call (`Chain::f::<E>`)", R,
             'text = _TURBOFISH.sub("", text).replace', "text = text.replace",
             RR + "test_a_turbofish_without_a_call_in_a_span_is_a_use"),
    Mutation("_block_uses: calls in the plan's code blocks", R,
             "uses += _block_uses(code, doc.lines)", "uses += []",
             RR + "test_a_types_function_called_in_the_plans_code_block_is_a_use"),
    Mutation("_block_uses: a constant's method is no type's", R,
             "if m.group(1).isupper():", "if False:",
             RR + "test_a_types_function_called_in_the_plans_code_block_is_a_use"),
    # --- reader.py: open spots ---
    Mutation("open spots: a question must ask what to do", R,
             "return goals or bool(_ASKS.search(sentence) or _YES_NO.match(sentence))",
             "return True", RR + "test_a_question_asking_what_to_do_is_open"),
    Mutation("open spots: a rhetorical question", R,
             "if _RHETORICAL.match(sentence):", "if False:",
             RR + "test_a_heading_or_rhetorical_question_is_not_open"),
    Mutation("open spots: a sentence to the reader", R,
             "if _TO_READER.search(sentence) and not _FIRST_PERSON.search(sentence):",
             "if False:", RR + "test_a_question_to_the_reader_is_not_open"),
    Mutation("open spots: a todo counts everywhere", R,
             '    if kind == "todo":\n        return True', '    if False:\n        return True',
             RR + "test_a_todo_is_open_even_when_it_addresses_the_reader"),
    Mutation("open spots: a heading's question only when labelled open", R,
             '    if heading:\n        return kind == "and_or"', '    if False:\n        return kind == "and_or"',
             RR + "test_a_heading_question_is_open_only_when_labelled_so"),
    Mutation("open spots: either/or only where the plan decides", R,
             "return goals or bool(_DECIDES.search(sentence) or _IMPERATIVE.match(sentence))",
             "return True", RR + "test_either_or_is_open_where_the_plan_decides"),
    Mutation("open spots: vague only in a promise", R,
             "return goals or bool(_PROMISES.search(sentence))", "return True",
             RR + "test_a_vague_word_is_open_only_in_a_promise_without_a_number"),
    Mutation("open spots: a vague word with a number is quantified", R,
             'if kind == "vague" and _quantified(', 'if False and _quantified(',
             RR + "test_a_vague_word_is_open_only_in_a_promise_without_a_number"),
    Mutation("open spots: an amount only among the goals", R,
             '    if kind == "amount":\n        return goals', '    if kind == "amount":\n        return True',
             RR + "test_an_amount_without_a_number_is_open_only_among_the_goals"),
    # --- markdown.py ---
    Mutation("markdown: raw HTML blocks are not prose", K,
             '_BLOCKS = MarkdownIt("commonmark", {"html": True})',
             '_BLOCKS = MarkdownIt("commonmark", {"html": False})', API),
    Mutation("markdown: a link to another site is external", K,
             "away = _EXTERNAL.match(str(href)) is not None", "away = False",
             TD + "test_an_item_opening_with_a_link_to_another_site_is_that_projects"),
    # --- ambiguities.py: _weigh ---
    Mutation("_weigh: a past release is no claim", A,
             'if contexts and contexts <= {"history"}:', "if False:",
             CR + "test_a_changelogs_past_release_makes_no_claim"),
    Mutation("_weigh: an environment variable is no claim", A,
             'if contexts and contexts <= {"external", "setting"} and v is not Verdict.found:',
             "if False:", CR + "test_an_environment_variable_makes_no_claim"),
    Mutation("_weigh: another project's name is no claim", A,
             'if contexts and contexts <= {"external", "setting"} and v is not Verdict.found:',
             "if False:", CR + "test_another_projects_name_makes_no_claim"),
    Mutation("_weigh: an acronym is no claim", A,
             'if r.what in ("acronym", "command"):', 'if r.what in ("command",):',
             CR + "test_an_acronym_makes_no_claim"),
    Mutation("_weigh: a command is no claim", A,
             'if r.what in ("acronym", "command"):', 'if r.what in ("acronym",):',
             CR + "test_a_command_makes_no_claim"),
    Mutation("_weigh: an example's name is never missing", A,
             '        example or contexts & {"asked", "declared", "external"}',
             '        contexts & {"asked", "declared", "external"}',
             CR + "test_a_placeholder_of_an_example_is_never_missing"),
    Mutation("_weigh: a name in the plan's question is never missing", A,
             '{"asked", "declared", "external"}', '{"declared", "external"}',
             CR + "test_a_name_in_the_plans_own_question_is_never_missing"),
    Mutation("_weigh: a declared name is never missing", A,
             '{"asked", "declared", "external"}', '{"asked", "external"}',
             CR + "test_a_name_the_plan_declares_is_never_missing"),
    Mutation("_weigh: a term or constant is never missing", A,
             'if v is Verdict.missing and r.what in ("term", "constant") and "existing" not in contexts:',
             "if False:", CR + "test_a_term_or_constant_is_missing_only_when_called_existing"),
    Mutation("_weigh: ... unless called existing", A,
             'r.what in ("term", "constant") and "existing" not in contexts:',
             'r.what in ("term", "constant"):',
             CR + "test_a_term_or_constant_is_missing_only_when_called_existing"),
    Mutation("_weigh: a term near a function is a word", A,
             'if r.what == "term" and v is Verdict.wrong_name and r.suggestions:', "if False:",
             CR + "test_a_term_near_a_functions_name_is_a_word_but_near_a_class_a_slip"),
    Mutation("_weigh: existing raises", A, "confidence += 0.2", "confidence += 0.0",
             CR + "test_existing_raises_and_a_plain_word_lowers_a_missing_claim"),
    Mutation("_weigh: a plain word lowers", A, "confidence -= 0.2  #", "confidence -= 0.0  #",
             CR + "test_existing_raises_and_a_plain_word_lowers_a_missing_claim"),
    Mutation("_weigh: only in the plan's code lowers", A,
             "confidence -= 0.15  # only in the plan's own code",
             "confidence -= 0.0  # only in the plan's own code",
             CR + "test_a_name_only_in_the_plans_own_code_is_a_weaker_claim"),
    Mutation("_weigh: an example lowers", A,
             "    if example:\n        confidence -= 0.15", "    if False:\n        confidence -= 0.15",
             CR + "test_an_examples_name_is_a_weaker_claim"),
    Mutation("_weigh: a bare word of prose lowers", A,
             "    if not r.coded:\n        confidence -= 0.15", "    if False:\n        confidence -= 0.15",
             CR + "test_a_bare_word_of_prose_is_a_weaker_claim_than_a_span"),
    # --- ambiguities.py: _about, _owner_may_have ---
    Mutation("wrong_name: another case style is worth a look only", A,
             "confidence = 0.95 if same else 0.8 if style else 0.5",
             "confidence = 0.95 if same else 0.8",
             TF + "test_a_near_name_in_another_case_style_is_only_worth_a_look"),
    Mutation("wrong_name: 'Returns: `retryHandler`' is an instance", A,
             'return None  # "Returns: `retryHandler`"', 'pass  # "Returns: `retryHandler`"', API),
    Mutation("wrong_name: a type beside a member of the same name", A,
             "confidence = 0.5  # `DownloadProgress`", "confidence = confidence  # `DownloadProgress`",
             CR + "test_a_type_beside_a_member_of_the_same_name_is_only_worth_a_look"),
    Mutation("missing_path: a well-known file alone", A,
             "r.name in WELL_KNOWN_FILES or not r.near_paths", "not r.near_paths",
             CR + "test_a_well_known_file_alone_is_the_readers_not_the_trees"),
    Mutation("_owner_may_have: a body assigning the member", A,
             "            if assigned.search(body):", "            if False:",
             CR + "test_a_member_the_class_assigns_is_not_on_the_wrong_class"),
    Mutation("_owner_may_have: a base class having it", A,
             r'd.owner and re.search(rf"\b{re.escape(d.owner)}\b", head) for d in r.definitions',
             "False for d in r.definitions",
             CR + "test_a_member_the_class_inherits_is_not_on_the_wrong_class"),
    Mutation("_owner_may_have: an unread body is no claim", A,
             "        if not bodies:\n            return True", "        if not bodies:\n            return False",
             CR + "test_a_wrong_owner_whose_class_body_was_not_read_makes_no_claim"),
    Mutation("_with_ancestors: a base's base", A, "ANCESTRY = 4", "ANCESTRY = 0", API),
    # --- resolve.py ---
    Mutation("_fits: JavaScript may leave parameters out", S,
             "        lo = 0\n        if hi == 0:", "        if hi == 0:",
             CR + "test_a_javascript_call_may_leave_parameters_out_but_not_add_any"),
    Mutation("_fits: a JS function declaring none takes any call", S,
             "        if hi == 0:\n            return True", "        if False:\n            return True",
             API),
    Mutation("_competing: twice in one file without overloading", S,
             'if len(defs) >= 2 and defs[0].language not in _OVERLOADING and defs[0].kind != "field":',
             "if False:", TU + "test_ambiguity_needs_rival_source_definitions"),
    Mutation("_competing: an alias is no rival", S, "    if real:  #", "    if False:  #",
             TU + "test_ambiguity_needs_rival_source_definitions"),
    Mutation("_typed_variable: a variable named after a type's last word", S,
             "return exact or index.type_tails.get(owner, [])", "return exact",
             TU + "test_a_variable_named_after_a_type_is_read_as_one"),
    Mutation("_absent: `PoolOptions` is `Pool.Options`", S,
             "        if same:\n            return replace(base, verdict=Verdict.found",
             "        if False:\n            return replace(base, verdict=Verdict.found", API),
    Mutation("_found: a standard module aliased in many files", S,
             "if use.name in STANDARD_MODULES and all(d.kind in VALUE_KINDS for d in defs):",
             "if False:", CR + "test_a_standard_module_required_in_many_files_is_not_ambiguous"),
    Mutation("known names (`defaultdict`)", S,
             "            return self._found(use, defs, base)\n        if name in self.known:",
             "            return self._found(use, defs, base)\n        if False:",
             TU + "test_introduced_known_and_no_claims"),
]  # fmt: skip


def run_test(node: str) -> bool:
    """Does the test pass? (pytest's exit status 0)"""
    done = subprocess.run(
        [str(PYTEST), "-x", "-q", "-p", "no:cacheprovider", node],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode not in (0, 1):
        sys.exit(
            f"pytest could not run {node} (status {done.returncode}):\n{done.stdout}{done.stderr}"
        )
    return done.returncode == 0


def mutate(m: Mutation) -> bool:
    """Patch, run, restore: True when the test still passes (the mutation survived)."""
    path = ROOT / m.file
    original = path.read_bytes()
    text = original.decode()
    count = text.count(m.snippet)
    if count != 1:
        sys.exit(f"{m.rule}: the snippet occurs {count} times in {m.file}:\n{m.snippet}")
    try:
        path.write_text(text.replace(m.snippet, m.replacement), encoding="utf-8")
        return run_test(m.test)
    finally:
        path.write_bytes(original)
        assert path.read_bytes() == original, f"{m.file} was not restored"


def main(argv: list[str]) -> int:
    chosen = [m for m in MUTATIONS if not argv or any(a in m.rule for a in argv)]
    baseline = sorted({m.test for m in chosen})
    for node in baseline:  # a test failing unpatched would count every mutation as killed
        if not run_test(node):
            print(f"fails before any mutation: {node}")
            return 2
    survived = 0
    for m in chosen:
        started = time.monotonic()
        alive = mutate(m)
        survived += alive
        verdict = "SURVIVED" if alive else "killed"
        print(f"{verdict:8}  {m.rule}  [{m.test}]  {time.monotonic() - started:.1f}s", flush=True)
    print(f"\n{len(chosen) - survived} killed, {survived} survived, of {len(chosen)}")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
