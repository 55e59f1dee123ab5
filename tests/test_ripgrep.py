"""The ripgrep backend against a real tree with the real `rg`."""

from __future__ import annotations

import asyncio

import pytest

from parallizer.backends.base import CodeQuery
from parallizer.backends.ripgrep import MAX_TEXT, RipgrepBackend, match_line
from parallizer.errors import BackendError

from .conftest import write


@pytest.fixture
def rg() -> RipgrepBackend:
    return RipgrepBackend()


async def test_word_query_finds_definitions_and_uses_with_paths_relative_to_root(rg, code_tree):
    res = await rg.search(CodeQuery(pattern="RetryPolicy"), code_tree)
    cites = [m.citation for m in res.matches]
    assert cites == [
        "src/app/client.py:1",
        "src/app/client.py:4",
        "src/app/client.py:5",
        "src/app/retry.py:5",
    ]
    assert res.matches[3].text == "class RetryPolicy:"
    assert res.matches[3].submatches == ["RetryPolicy"]
    # every cited line really is that line of that file
    for m in res.matches:
        lines = (code_tree / m.path).read_text().splitlines()
        assert lines[m.line - 1] == m.text


async def test_gitignored_hidden_and_binary_files_are_skipped(rg, code_tree):
    res = await rg.search(CodeQuery(pattern="RetryPolicy"), code_tree)
    assert not {m.path for m in res.matches} & {"build/generated.py", "debug.log", "blob.bin"}


async def test_context_lines_before_and_after(rg, code_tree):
    res = await rg.search(CodeQuery(pattern="max_retries", context=2), code_tree)
    by_line = {m.line: m for m in res.matches if m.path == "src/app/retry.py"}
    assert sorted(by_line) == [8, 9]
    m = by_line[9]
    assert [(c.line, c.text) for c in m.before] == [
        (7, ""),
        (8, "    def __init__(self, max_retries: int = 3) -> None:"),  # itself a match
    ]
    assert [(c.line, c.text) for c in m.after] == [
        (10, ""),
        (11, "    def delay(self, attempt: int) -> float:"),
    ]
    assert [c.line for c in by_line[8].before] == [6, 7]
    assert [c.line for c in by_line[8].after] == [9, 10]
    first = next(x for x in res.matches if x.path == "src/app/client.py")
    assert first.line == 4 and [c.line for c in first.before] == [2, 3]
    assert [(c.line, c.text) for c in first.after] == [(5, 'naïve_café = "unicode ✓ RetryPolicy"')]


async def test_context_zero(rg, code_tree):
    res = await rg.search(CodeQuery(pattern="load_config", context=0), code_tree)
    assert all(not m.before and not m.after for m in res.matches)


async def test_global_cap_truncates_and_keeps_the_first_matches_in_path_order(rg, tmp_path):
    for i in range(6):
        write(tmp_path, f"f{i}.txt", "needle\nneedle\nhay\n")
    res = await rg.search(CodeQuery(pattern="needle", max_results=5, context=1), tmp_path)
    assert len(res.matches) == 5 and res.truncated
    assert [m.citation for m in res.matches] == [
        "f0.txt:1",
        "f0.txt:2",
        "f1.txt:1",
        "f1.txt:2",
        "f2.txt:1",
    ]
    assert [c.line for c in res.matches[-1].after] == [2]  # after-context of the last kept match


async def test_per_file_cap(rg, tmp_path):
    write(tmp_path, "a.txt", "x\n" * 50)
    res = await rg.search(CodeQuery(pattern="x", max_per_file=3, context=0), tmp_path)
    assert [m.line for m in res.matches] == [1, 2, 3]


async def test_exactly_at_cap_is_not_truncated(rg, tmp_path):
    write(tmp_path, "a.txt", "needle\nneedle\n")
    res = await rg.search(CodeQuery(pattern="needle", max_results=2), tmp_path)
    assert len(res.matches) == 2 and not res.truncated


async def test_unicode_lines_and_patterns(rg, code_tree):
    res = await rg.search(CodeQuery(pattern="naïve_café", mode="literal"), code_tree)
    assert [m.citation for m in res.matches] == ["src/app/client.py:5"]
    assert "✓" in res.matches[0].text


async def test_non_utf8_content_is_decoded_not_fatal(rg, tmp_path):
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9 needle\n")
    res = await rg.search(CodeQuery(pattern="needle"), tmp_path)
    assert res.matches[0].text == "caf\ufffd needle"


async def test_word_mode_respects_word_boundaries_and_literal_does_not(rg, tmp_path):
    write(tmp_path, "a.py", "retry = 1\nretry_count = 2\nmy.retry()\n")
    word = await rg.search(CodeQuery(pattern="retry", mode="word"), tmp_path)
    lit = await rg.search(CodeQuery(pattern="retry", mode="literal"), tmp_path)
    assert [m.line for m in word.matches] == [1, 3]
    assert [m.line for m in lit.matches] == [1, 2, 3]


async def test_literal_mode_does_not_interpret_regex_syntax(rg, tmp_path):
    write(tmp_path, "a.py", "call foo(bar)\nfooXbar\n")
    res = await rg.search(CodeQuery(pattern="foo(bar", mode="literal"), tmp_path)
    assert [m.line for m in res.matches] == [1]


async def test_regex_mode_and_case(rg, tmp_path):
    write(tmp_path, "a.py", "def retry_fast():\ndef RETRY_SLOW():\n")
    res = await rg.search(
        CodeQuery(pattern=r"def retry_\w+", mode="regex", ignore_case=True), tmp_path
    )
    assert [m.line for m in res.matches] == [1, 2]


async def test_invalid_regex_is_a_clear_backend_error(rg, code_tree):
    with pytest.raises(BackendError) as err:
        await rg.search(CodeQuery(pattern="foo(", mode="regex"), code_tree)
    assert err.value.kind == "invalid_query"
    assert err.value.message.startswith("invalid regex:") and "unclosed group" in err.value.message


async def test_huge_regex_is_refused_by_the_size_limit_not_run(rg, code_tree):
    with pytest.raises(BackendError) as err:
        await rg.search(CodeQuery(pattern=r"(\w{50}){50}", mode="regex"), code_tree)
    assert err.value.kind == "invalid_query"


async def test_pattern_with_newline_is_rejected_before_spawning(rg, code_tree):
    with pytest.raises(BackendError) as err:
        await rg.search(CodeQuery(pattern="a\nb", mode="literal"), code_tree)
    assert err.value.kind == "invalid_query"


async def test_pattern_that_looks_like_a_flag_is_searched_for(rg, tmp_path):
    write(tmp_path, "a.sh", "rg --files here\n")
    res = await rg.search(CodeQuery(pattern="--files", mode="literal"), tmp_path)
    assert [m.line for m in res.matches] == [1]


async def test_no_match_is_an_empty_ok_result(rg, code_tree):
    res = await rg.search(CodeQuery(pattern="DefinitelyNotThere"), code_tree)
    assert res.matches == [] and not res.truncated and not res.warnings


async def test_missing_root_is_a_backend_error(rg, tmp_path):
    with pytest.raises(BackendError) as err:
        await rg.search(CodeQuery(pattern="x"), tmp_path / "nope")
    assert err.value.kind == "unreadable"


async def test_long_lines_are_clipped_around_the_match(rg, tmp_path):
    write(tmp_path, "min.js", "a" * 5000 + " needle " + "b" * 5000 + "\n")
    res = await rg.search(CodeQuery(pattern="needle"), tmp_path)
    text = res.matches[0].text
    assert "needle" in text and len(text) <= MAX_TEXT + 2


async def test_files_over_the_size_limit_are_skipped(tmp_path):
    write(tmp_path, "big.txt", "needle\n" + "x" * 200_000)
    write(tmp_path, "small.txt", "needle\n")
    res = await RipgrepBackend(max_filesize="100K").search(CodeQuery(pattern="needle"), tmp_path)
    assert [m.path for m in res.matches] == ["small.txt"]


async def test_list_files_honours_gitignore(rg, code_tree):
    files = await rg.list_files(code_tree)
    assert files == [
        "blob.bin",
        "src/app/client.py",
        "src/app/config.py",
        "src/app/retry.py",
        "src/legacy/config.py",
    ]
    assert await rg.list_files(code_tree, max_files=2) == files[:2]


async def test_a_search_whose_output_backed_up_is_still_reaped(rg, tmp_path):
    """asyncio reports a child's exit only once its pipes are closed. A search that stops
    reading at its cap leaves megabytes in a pipe whose transport has paused: reaping it
    must still end (it once waited for the query's whole timeout, 10 s)."""
    line = "plan " + "x" * 8000 + "\n"
    for f in range(8):
        write(tmp_path, f"f{f}.txt", line * 200)
    query = CodeQuery(pattern="plan", max_results=10_000, max_per_file=10_000)
    proc = await rg._spawn(rg.command(query), tmp_path)
    await asyncio.sleep(0.3)  # nobody reads: the buffer fills, reading pauses, rg blocks
    assert proc.returncode is None
    await asyncio.wait_for(rg._reap(proc), 10)
    assert proc.returncode is not None


def test_clip_keeps_short_lines_and_strips_newlines():
    assert match_line("abc\r\n") == "abc"
    long = "x" * 100 + "HIT" + "y" * 500
    out = match_line(long, focus=100, width=60)
    assert "HIT" in out and out.startswith("…") and out.endswith("…")
