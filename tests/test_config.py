"""Where settings come from: the environment and a dotenv file for a real process; in a test
only what the test gives (tests/hermetic.py, applied to every test by conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from parallizer.config import ENV_FILE_VARIABLE, Settings, load_settings

from .hermetic import clean_env

HOSTILE = {
    "PARALLIZER_LLM_URL": "http://127.0.0.1:9/v1",
    "PARALLIZER_LLM_API_KEY": "bogus",
    "PERPLEXITY_API_KEY": "bogus",
    "PARALLIZER_ALLOWED_ROOTS": "/nonexistent",
}


def dotenv(where: Path) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    (where / ".env").write_text("".join(f"{k}={v}\n" for k, v in HOSTILE.items()))
    return where


def test_a_test_sees_no_setting_of_the_environment():
    assert not [k for k in os.environ if k.startswith(("PARALLIZER_", "PERPLEXITY_", "OPENAI_"))
                and not k.startswith("PARALLIZER_TEST_")
                and k not in (ENV_FILE_VARIABLE, "PARALLIZER_INDEX_DIR")]  # fmt: skip
    assert os.environ[ENV_FILE_VARIABLE] == ""
    assert os.environ["PARALLIZER_INDEX_DIR"] == ""  # memory only: nothing in ~/.cache


def test_a_test_reads_no_dotenv_file(tmp_path, monkeypatch):
    monkeypatch.chdir(dotenv(tmp_path))
    s = load_settings()
    assert s.llm_url is None and s.perplexity_api_key is None and s.llm_api_key is None
    assert s.allowed_root_paths == (tmp_path.resolve(),)  # the default: the working directory


def test_a_real_process_reads_dotenv_then_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(dotenv(tmp_path))
    monkeypatch.delenv(ENV_FILE_VARIABLE)  # as outside the test suite
    s = load_settings()
    assert s.llm_url == HOSTILE["PARALLIZER_LLM_URL"]
    assert s.perplexity_api_key is not None and s.perplexity_api_key.get_secret_value() == "bogus"
    monkeypatch.setenv("PARALLIZER_LLM_URL", "http://127.0.0.1:1/v1")
    assert load_settings().llm_url == "http://127.0.0.1:1/v1"
    assert load_settings(llm_url="http://given/v1").llm_url == "http://given/v1"


def test_the_env_file_variable_names_the_file_or_none(tmp_path, monkeypatch):
    other = dotenv(tmp_path / "elsewhere") / ".env"
    monkeypatch.setenv(ENV_FILE_VARIABLE, str(other))
    assert load_settings().allowed_roots == "/nonexistent"
    monkeypatch.chdir(dotenv(tmp_path / "cwd"))
    monkeypatch.setenv(ENV_FILE_VARIABLE, "")
    assert load_settings().llm_url is None


def test_settings_alone_never_read_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(dotenv(tmp_path))
    monkeypatch.delenv(ENV_FILE_VARIABLE)
    assert Settings().llm_url is None


def test_a_child_process_gets_no_setting(monkeypatch):
    monkeypatch.setenv("PARALLIZER_LLM_URL", "http://127.0.0.1:9/v1")  # set after the scrub
    monkeypatch.setenv("OPENAI_API_KEY", "bogus")
    env = clean_env(PARALLIZER_TIMEOUT="5")
    assert "PARALLIZER_LLM_URL" not in env and "OPENAI_API_KEY" not in env
    assert env[ENV_FILE_VARIABLE] == "" and env["PARALLIZER_TIMEOUT"] == "5"
    assert env["PATH"] == os.environ["PATH"]


@pytest.mark.parametrize("name", ["PARALLIZER_TEST_DELAY", "PATH"])
def test_what_is_not_a_setting_is_kept(name, monkeypatch):
    monkeypatch.setenv(name, os.environ.get(name, "1"))
    assert name in clean_env()
