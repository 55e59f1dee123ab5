"""The claim rules, one test per rule: how a resolution of a name the plan uses becomes a
claim with a confidence (`fulfillers/ambiguities.py`), and the resolver's rules that decide
the verdict (`code/resolve.py`). Each test reads a small plan with the real reader, resolves
it against a `Snapshot` built from definitions made here, and lets `Ambiguities.write` make
its questions, the text check's answer given (no name is a word of the tree), so no
subprocess runs. Each asserts the rule's effect and a near miss it must not swallow, and was
seen to fail with its rule removed (`scripts/rule_mutations.py`).

Rules already pinned elsewhere (not repeated here):

| rule                                                  | the test that pins it                                                        |
|-------------------------------------------------------|------------------------------------------------------------------------------|
| wrong_name: a slip keeps its case style (0.5 if not)  | test_fulfillers::test_a_near_name_in_another_case_style_is_only_worth_a_look |
| wrong_name: "Returns: `retryHandler`" is an instance  | test_fulfillers::test_what_an_api_reference_writes_is_not_taken_for_a_mistake |
| `_with_ancestors`: a member of a base's base          | test_fulfillers::test_what_an_api_reference_writes_is_not_taken_for_a_mistake |
| `_fits`: a JS function declaring no parameters        | test_fulfillers::test_what_an_api_reference_writes_is_not_taken_for_a_mistake |
| `_absent`: `PoolOptions` is the declared `Pool.Options` | test_fulfillers::test_what_an_api_reference_writes_is_not_taken_for_a_mistake |
| `_competing`: rivals in source, not overloads/aliases | code/test_resolve_unit::test_ambiguity_needs_rival_source_definitions         |
| `_fits`: arity against every definition               | code/test_resolve_unit::test_arity_counts_against_every_definition            |
| `_typed_variable`: `request.x` read as `FastifyRequest` | code/test_resolve_unit::test_a_variable_named_after_a_type_is_read_as_one    |
| known names (`defaultdict`, `asyncio.Semaphore`)      | code/test_resolve_unit::test_introduced_known_and_no_claims                   |
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from parallizer.code import BuildStats, Definition, Snapshot
from parallizer.config import Settings
from parallizer.document import Document, read
from parallizer.fanout import Flights
from parallizer.fulfillers.ambiguities import Ambiguities, Checked
from parallizer.fulfillers.base import FulfillerContext, Job
from parallizer.models import FulfillRequest

from .code.test_resolve_unit import d, row


def claims(
    text: str,
    defs: Sequence[Definition],
    files: Sequence[str] = (),
    bodies: dict[str, list[str]] | None = None,
) -> dict[str, tuple[str, float]]:
    """The claims an offline review makes about the names of `text`: name → (kind,
    confidence). `bodies`: the class bodies a wrong_owner claim reads (as `check` would)."""
    doc = Document(text)
    facts = read(doc)
    paths = sorted({x.path for x in defs} | set(files))
    index = Snapshot(Path("/tree"), paths, map(row, defs), BuildStats(files=len(paths)))
    resolutions = index.resolve(facts.uses, facts.introduced, facts.proposed)
    words = {w: False for r in resolutions for w in r.needs_text}  # rg found none of them
    checked = Checked(resolutions=resolutions, words=words, bodies=bodies or {}, index=index)
    request = FulfillRequest(user_id="u", document_text=text, cursor_position=(0, 0))
    job = Job(request=request, document=doc, settings=Settings(), flights=Flights())
    ctx = FulfillerContext(job=job, name="ambiguities")
    questions = Ambiguities(code=None, rg=None).write(ctx, facts, checked, opens=0)  # type: ignore[arg-type]
    return {
        q.about: (q.kind, round(q.finding.confidence, 2))
        for q in questions
        if q.finding is not None
    }


CLIENT = [
    d("Client", "class", "src/client.py", 1),
    d("Client.send", "method", "src/client.py", 3, params=(1, 1)),
]
TRANSPORT = [*CLIENT, d("HttpTransport", "class", "src/transport.py", 1)]


# --- _weigh: what the plan says of a name decides whether it is a claim -------------------------


def test_a_changelogs_past_release_makes_no_claim():
    text = (
        "# Changelog\n\n## 1.0.0\n\n- `Client.retry` takes a timeout.\n\n"
        "## Upgrading\n\nCall `Client.resend` once.\n"
    )
    assert claims(text, CLIENT) == {"Client.resend": ("missing", 0.55)}


def test_an_environment_variable_makes_no_claim():
    text = "It reads the `FooAlias` environment variable. `BarAlias` is read too."
    assert claims(text, CLIENT) == {"BarAlias": ("missing", 0.6)}


def test_another_projects_name_makes_no_claim():
    # a slip of another project's name is its own business, not a slip of this tree's
    text = "Sentry's SDK provides `HttpTransprt`. Our `HttpTranspory` wraps it."
    assert claims(text, TRANSPORT) == {"HttpTranspory": ("wrong_name", 0.8)}


def test_an_acronym_makes_no_claim():
    defs = [
        *CLIENT,
        d("Json", "class", "src/json.py", 1),
        d("JsonParser", "class", "src/json.py", 9),
    ]
    got = claims("The body is `JSON`; `JSONParser` reads it.", defs)
    assert got == {"JSONParser": ("wrong_name", 0.95)}


def test_a_command_makes_no_claim():
    got = claims("Install it with `pip`; `pip_args` holds the flags.", CLIENT)
    assert got == {"pip_args": ("missing", 0.6)}


def test_a_placeholder_of_an_example_is_never_missing():
    got = claims("For example `frobnicate_all` does it. `frobnicate_some` too.", CLIENT)
    assert got == {"frobnicate_some": ("missing", 0.6)}


def test_a_name_in_the_plans_own_question_is_never_missing():
    got = claims("Should `RateGate` throttle it? `RateValve` throttles it.", CLIENT)
    assert got == {"RateValve": ("missing", 0.6)}


def test_a_name_the_plan_declares_is_never_missing():
    got = claims("`retry_limit: int = 3` caps it; `retry_floor` floors it.", CLIENT)
    assert got == {"retry_floor": ("missing", 0.6)}


def test_a_term_or_constant_is_missing_only_when_called_existing():
    text = "See `Security` and `NO_COLOR`. The existing `Privacy` module reads the existing `NO_PAGER`."
    assert claims(text, CLIENT) == {"Privacy": ("missing", 0.8), "NO_PAGER": ("missing", 0.8)}


def test_a_term_near_a_functions_name_is_a_word_but_near_a_class_a_slip():
    defs = [*CLIENT, d("parse", "function", "src/p.py", 1, params=(1, 1)),
            d("Memo", "class", "src/m.py", 1)]  # fmt: skip
    assert claims("`Parses` and `Memmo` too.", defs) == {"Memmo": ("wrong_name", 0.8)}


def test_existing_raises_and_a_plain_word_lowers_a_missing_claim():
    text = "The `frobnicate_all` helper. The existing `frobnicate_some` helper. `workers` too."
    assert claims(text, CLIENT) == {
        "frobnicate_all": ("missing", 0.6),
        "frobnicate_some": ("missing", 0.8),
        "workers": ("missing", 0.4),
    }


def test_a_bare_word_of_prose_is_a_weaker_claim_than_a_span():
    got = claims("Use HttpTransprt here. Use `HttpTranspory` there.", TRANSPORT)
    assert got == {"HttpTransprt": ("wrong_name", 0.65), "HttpTranspory": ("wrong_name", 0.8)}


def test_an_examples_name_is_a_weaker_claim():
    got = claims("For example `HttpTransprt` here; `HttpTranspory` there.", TRANSPORT)
    assert got == {"HttpTransprt": ("wrong_name", 0.65), "HttpTranspory": ("wrong_name", 0.8)}


def test_a_name_only_in_the_plans_own_code_is_a_weaker_claim():
    text = "Sketch:\n\n```python\nClient.frobnicate(1)\n```\n\nThen `Client.frobnicates`.\n"
    got = claims(text, CLIENT)
    assert got == {"Client.frobnicate": ("missing", 0.4), "Client.frobnicates": ("missing", 0.55)}


# --- _about: the wrong_name, wrong_owner and missing_path rules ------------------------------------


def test_a_type_beside_a_member_of_the_same_name_is_only_worth_a_look():
    text = "Listen for `DownloadProgress`."
    member = [d("Request", "class", "src/req.py", 1),
              d("Request.downloadProgress", "property", "src/req.py", 5)]  # fmt: skip
    assert claims(text, member) == {"DownloadProgress": ("wrong_name", 0.5)}
    function = [d("downloadProgress", "function", "src/req.py", 5, params=(0, 0))]
    assert claims(text, function) == {"DownloadProgress": ("wrong_name", 0.95)}


POOL = [
    d("Pool", "class", "src/pool.py", 1),
    d("Stats", "class", "src/stats.py", 1),
    d("Stats.peak", "method", "src/stats.py", 4, params=(0, 0)),
]


def test_a_member_the_class_assigns_is_not_on_the_wrong_class():
    assigns = "class Pool:\n    def __init__(self):\n        self.peak = 0\n"
    other = "class Pool:\n    def __init__(self):\n        self.size = 0\n"
    assert claims("`Pool.peak` reads it.", POOL, bodies={"Pool.peak": [assigns]}) == {}
    got = claims("`Pool.peak` reads it.", POOL, bodies={"Pool.peak": [other]})
    assert got == {"Pool.peak": ("wrong_owner", 0.85)}


def test_a_member_the_class_inherits_is_not_on_the_wrong_class():
    derived = "class Pool(Stats):\n    pass\n"
    assert claims("`Pool.peak` reads it.", POOL, bodies={"Pool.peak": [derived]}) == {}


def test_a_wrong_owner_whose_class_body_was_not_read_makes_no_claim():
    assert claims("`Pool.peak` reads it.", POOL) == {}
    got = claims("`Pool.peak` reads it.", POOL, bodies={"Pool.peak": ["class Pool:\n    pass\n"]})
    assert got == {"Pool.peak": ("wrong_owner", 0.85)}


def test_a_well_known_file_alone_is_the_readers_not_the_trees():
    got = claims("Set it in `tox.ini` and in `ci/tox.ini`.", CLIENT, files=["toxx.ini"])
    assert set(got) == {"ci/tox.ini"}


# --- resolve.py ------------------------------------------------------------------------------


def test_a_javascript_call_may_leave_parameters_out_but_not_add_any():
    js = [d("Router", "class", "lib/router.js", 1, lang="javascript"),
          d("Router.route", "method", "lib/router.js", 3, lang="javascript", params=(2, 2))]  # fmt: skip
    py = [d("Router", "class", "src/router.py", 1),
          d("Router.route", "method", "src/router.py", 3, params=(2, 2))]  # fmt: skip
    assert claims("Call `Router.route(path)` once.", js) == {}
    assert claims("Call `Router.route(path)` once.", py) == {"Router.route": ("arity", 0.85)}
    assert claims("Call `Router.route(a, b, c)` once.", js) == {"Router.route": ("arity", 0.85)}


def test_a_standard_module_required_in_many_files_is_not_ambiguous():
    defs = [d(name, "constant", f"lib/{f}.js", 1, lang="javascript")
            for name in ("fs", "config") for f in ("a", "b")]  # fmt: skip
    assert claims("Read it with `fs` and `config`.", defs) == {"config": ("ambiguous", 0.65)}
