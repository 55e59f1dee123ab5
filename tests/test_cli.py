"""`parallizer fulfill` end to end, as a subprocess: the exact `--json` shape of SPEC (the
example plan against this project, as `make run` does), the cards a plan gets in a small
project of the test's own, and one clear line plus exit code 2 for each bad input."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import write
from .hermetic import clean_env

PROJECT = Path(__file__).resolve().parents[1]
EXAMPLE = PROJECT / "examples" / "plan.md"


def script() -> str:
    here = Path(sys.executable).parent / "parallizer"
    found = str(here) if here.exists() else shutil.which("parallizer")
    assert found, "the `parallizer` console script must be installed (make test does it)"
    return found


def run(
    args: list[str], *, roots: Path | str = PROJECT, cwd: Path = PROJECT, module: bool = False
) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "parallizer"] if module else [script()]
    env = clean_env(PARALLIZER_ALLOWED_ROOTS=str(roots), COLUMNS="160")
    return subprocess.run(
        cmd + args, capture_output=True, text=True, env=env, cwd=cwd, timeout=50, check=False
    )


def line_of(path: Path, needle: str) -> int:
    return next(i for i, ln in enumerate(path.read_text().split("\n"), 1) if needle in ln)


@pytest.fixture(scope="module")
def example_json() -> dict:
    proc = run(["fulfill", str(EXAMPLE), "--scope", str(PROJECT), "--json"])
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_json_is_exactly_the_post_fulfill_body(example_json):
    body = example_json
    assert set(body) == {"cards", "processing", "timings"}
    assert body["processing"] is False
    for card in body["cards"]:
        assert set(card) == {"header", "text", "type", "metadata", "new"}
        assert card["new"] is True  # the CLI has no feed: every card is this request's
        meta = card["metadata"]
        wanted = {"source", "citations", "id"} | ({"findings"} if "findings" in meta else set())
        assert set(meta) == wanted and len(meta["id"]) == 16
        if card["type"] == "question" and card["header"].startswith("`"):
            assert meta["findings"], "a question about a name carries its finding"
        for f in meta.get("findings", []):
            assert set(f) >= {"name", "kind", "range", "severity", "fix"}
        assert card["type"] in ("question", "context")
        assert card["metadata"]["source"] in ("ambiguities", "code_search")
        assert all(isinstance(c, str) for c in card["metadata"]["citations"])
    timings = body["timings"]
    assert isinstance(timings["total_ms"], float)
    # no web backend configured: web_context is not run; completions has nothing to
    # complete at the end of the plan (an empty last line) and says so
    assert list(timings["fulfillers"]) == ["ambiguities", "code_search", "completions"]
    assert timings["fulfillers"]["completions"]["skipped"]
    for name in ("ambiguities", "code_search"):
        ft = timings["fulfillers"][name]
        assert isinstance(ft["ms"], float) and ft["ok"] is True
        assert ft["queries"]
        for q in ft["queries"]:
            assert {"query", "backend", "start_ms", "ms", "ok"} <= set(q)
            assert q["backend"] in ("ripgrep", "dependencies") and q["ok"] is True
            assert isinstance(q["start_ms"], float) and isinstance(q["ms"], float)
            assert "error" not in q  # absent, not null, when nothing failed


# A small project of our own, so that what the cards say depends on this file only, not on
# the state of Parallizer's source: a `Limiter`, `timeout` defined twice, and a plan that
# introduces an `AdaptiveLimiter` nobody has written yet and misspells `Memo`.
SHOP = {
    "src/shop/limits.py": '''
        """Concurrency limits."""


        class Limiter:
            """At most `capacity` searches at once."""

            def __init__(self, capacity: int) -> None:
                self.capacity = capacity
                self.in_flight = 0
                self.peak = 0
        ''',
    "src/shop/search.py": '''
        """Code search through ripgrep."""

        from .limits import Limiter

        timeout = 10.0


        class RipgrepBackend:
            def __init__(self, limiter: Limiter) -> None:
                self.limiter = limiter
        ''',
    "src/shop/web.py": '''
        """Web search."""

        timeout = 30.0
        ''',
    "src/shop/fanout.py": '''
        class Memo:
            """Single flight within one request."""


        async def fan_out(calls, memo: Memo):
            return [await c() for c in calls]
        ''',
    "docs/plan.md": """
        # Plan: adapt ripgrep concurrency

        ## Why

        Each request gets a fresh `Memo`, so the single-flight de-duplication in `fan_out`
        only helps within one request.

        ## Adaptive concurrency

        Replace the fixed capacity of `Limiter` with an `AdaptiveLimiter` that moves between
        1 and twice the capacity:

        1. After each search, `RipgrepBackend` reports its duration to the limiter.
        2. A search that hits the `timeout` counts as slow; `fan_out` keeps its `Memmo`.

        `Limiter.peak` and `in_flight` keep working as they do now.
        """,
}


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "shop"
    for rel, text in SHOP.items():
        write(root, rel, text)
    return root


def run_shop(shop: Path, *args: str, module: bool = False) -> subprocess.CompletedProcess[str]:
    return run(
        ["fulfill", str(shop / "docs/plan.md"), "--scope", str(shop), *args],
        roots=shop,
        cwd=shop,
        module=module,
    )


@pytest.fixture(scope="module")
def shop_json(shop) -> dict:
    proc = run_shop(shop, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_a_plan_gets_grounded_questions_and_context(shop, shop_json):
    cards = shop_json["cards"]
    questions = [c for c in cards if c["type"] == "question"]
    context = [c for c in cards if c["type"] == "context"]
    limiter_def = f"src/shop/limits.py:{line_of(shop / 'src/shop/limits.py', 'class Limiter')}"
    timeouts = [
        f"src/shop/{f}:{line_of(shop / 'src/shop' / f, 'timeout =')}"
        for f in ("search.py", "web.py")
    ]
    memo_def = f"src/shop/fanout.py:{line_of(shop / 'src/shop/fanout.py', 'class Memo')}"
    by_header = {q["header"]: q for q in questions}
    # a name the plan misspells, answered with the real `Memo` and where it is defined
    memmo = by_header["`Memmo`: did you mean `Memo`?"]
    assert memo_def in memmo["metadata"]["citations"]
    # a name defined twice: which one?
    which = by_header["Which `timeout`?"]
    assert set(timeouts) <= set(which["metadata"]["citations"])
    assert f"`Limiter` — class {limiter_def}" in [c["header"] for c in context]
    # the class the plan introduces, and names that exist once, get no question
    assert not [
        q for q in questions if "AdaptiveLimiter" in q["header"] + q["text"]
    ], "the plan introduces AdaptiveLimiter"
    assert not [h for h in by_header if "RipgrepBackend" in h or "`Memo`?" == h]
    # every citation is a real, non-blank line: code relative to the scope, the plan too
    for card in cards:
        for cite in card["metadata"]["citations"]:
            path, line = cite.rsplit(":", 1)
            lines = (shop / path).read_text().split("\n")
            assert lines[int(line) - 1].strip(), cite
    plan_cites = [c for card in questions for c in card["metadata"]["citations"]]
    assert any(c.startswith("docs/plan.md:") for c in plan_cites)


def test_the_queries_overlap(shop_json):
    """CodeSearch's planned searches run side by side; Ambiguities needs only the code index
    and one text check for the names the index lacks."""
    amb = shop_json["timings"]["fulfillers"]["ambiguities"]["queries"]
    cs = shop_json["timings"]["fulfillers"]["code_search"]["queries"]
    overlapping = [
        (a["query"], b["query"])
        for a in cs
        for b in cs
        if a is not b and a["start_ms"] < b["start_ms"] < a["start_ms"] + a["ms"]
    ]
    assert overlapping, "planned queries should run side by side"
    [check] = [q["query"] for q in amb]  # one rg pass for every name the index lacks
    assert check.startswith("are they in the code: ") and "Memmo" in check.split()


def test_people_get_cards_by_type_and_a_timing_table_via_python_m(shop, shop_json):
    proc = run_shop(shop, module=True)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    types = [c["type"] for c in shop_json["cards"]]
    n_questions, n_context = types.count("question"), types.count("context")
    assert n_questions >= 2 and n_context >= 1  # what the test above checks, one by one
    assert f"Questions ({n_questions})" in out and f"Context ({n_context})" in out
    for card in shop_json["cards"]:
        assert card["header"] in out
    assert "Timings —" in out and "(parallel)" in out
    assert out.index("Questions") < out.index("Context") < out.index("Timings")
    assert "are they in the code" in out
    assert "executing" in proc.stderr  # the INFO story of the request goes to stderr


def test_serial_flag_is_reported_in_the_table(shop, shop_json):
    proc = run_shop(shop, "--serial", "--only", "code_search")
    assert proc.returncode == 0, proc.stderr
    n_context = [c["type"] for c in shop_json["cards"]].count("context")
    assert "(serial)" in proc.stdout and f"Context ({n_context})" in proc.stdout
    assert "Questions" not in proc.stdout


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory) -> dict[str, list[str]]:
    root = tmp_path_factory.mktemp("cli")
    plan = write(root, "allowed/plan.md", "# Plan\n\nUse `fan_out`.\n")
    (root / "allowed/blob.md").write_bytes(b"# Plan\x00\x01binary")
    (root / "outside").mkdir()
    p = str(plan)
    return {
        "root": [str(root / "allowed")],
        "missing file": [str(root / "allowed/nope.md")],
        "binary file": [str(root / "allowed/blob.md")],
        "scope is a file": [p, "--scope", p],
        "scope does not exist": [p, "--scope", str(root / "allowed/nowhere")],
        "scope outside the allowed roots": [p, "--scope", str(root / "outside")],
        "cursor not numbers": [p, "--cursor", "abc"],
        "cursor one number": [p, "--cursor", "3"],
        "cursor three numbers": [p, "--cursor", "1:2:3"],
        "cursor negative": [p, "--cursor=-1:0"],
        "cursor past the last line": [p, "--cursor", "99:0"],
        "cursor past the end of the line": [p, "--cursor", "0:99"],
        "unknown fulfiller": [p, "--only", "ambiguities,nope"],
        "empty --only": [p, "--only", ","],
        "file name too long": [str(root / "allowed" / ("x" * 300))],
        "scope name too long": [p, "--scope", str(root / "allowed" / ("x" * 300))],
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing file",
        "binary file",
        "scope is a file",
        "scope does not exist",
        "scope outside the allowed roots",
        "cursor not numbers",
        "cursor one number",
        "cursor three numbers",
        "cursor negative",
        "cursor past the last line",
        "cursor past the end of the line",
        "unknown fulfiller",
        "empty --only",
        "file name too long",
        "scope name too long",
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_2(bad_inputs, case):
    allowed = Path(bad_inputs["root"][0])
    args = bad_inputs[case]
    if "--scope" not in args and "--scope" not in " ".join(args):
        args = [*args, "--scope", str(allowed)]
    proc = run(["fulfill", *args], roots=allowed, cwd=allowed)
    assert proc.returncode == 2, (case, proc.stdout, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("parallizer: error: "), proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_good_input_in_the_same_setup_succeeds(bad_inputs):
    """The bad-input cases fail for their own reason, not the setup's."""
    allowed = Path(bad_inputs["root"][0])
    proc = run(
        ["fulfill", str(allowed / "plan.md"), "--scope", str(allowed), "--cursor", "2:3", "--json"],
        roots=allowed,
        cwd=allowed,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["processing"] is False


def test_the_command_line_raises_the_collectors_thresholds_before_its_imports():
    """A CLI run on an indexed tree loads ~1 million objects from the index file after
    importing ~500 modules: the collector's thresholds are raised first (collector.py)."""
    from parallizer.collector import THRESHOLDS

    probe = (
        "import gc, sys\n"
        "from parallizer.cli import main\n"
        "class Seen:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'typer' and not hasattr(self, 'at'):\n"
        "            self.at = gc.get_threshold()\n"
        "seen = Seen(); sys.meta_path.insert(0, seen)\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(list(seen.at))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=clean_env(), timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == list(THRESHOLDS)
