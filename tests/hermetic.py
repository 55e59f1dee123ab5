"""Settings in tests come only from what the test gives: not from the developer's (or CI's)
environment, not from a `.env` file.

`tests/conftest.py` applies `scrub(monkeypatch)` to every test; a test that starts a
process (`parallizer serve`, `parallizer fulfill`) gives it `clean_env(...)`.
"""

from __future__ import annotations

import os

import pytest

from parallizer.config import ENV_FILE_VARIABLE

# what configures Parallizer or the libraries it may call (OPENAI_* for OpenAI-style clients)
PREFIXES = ("PARALLIZER_", "PERPLEXITY_", "OPENAI_")
# the test suite's own knobs (tests/service/kit.py), not settings
KEEP = ("PARALLIZER_TEST_",)
OTHERS = ("PROMETHEUS_MULTIPROC_DIR", "VIRTUAL_ENV")


def is_setting(name: str) -> bool:
    return (name.startswith(PREFIXES) and not name.startswith(KEEP)) or name in OTHERS


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment minus every setting, with no dotenv file to read, plus
    `extra`: the environment for a child process."""
    env = {k: v for k, v in os.environ.items() if not is_setting(k)}
    env[ENV_FILE_VARIABLE] = ""
    env["PARALLIZER_INDEX_DIR"] = ""  # no index persisted in the developer's ~/.cache
    env.update(extra)
    return env


def scrub(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if is_setting(name):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(ENV_FILE_VARIABLE, "")
    monkeypatch.setenv("PARALLIZER_INDEX_DIR", "")  # memory only, unless a test says where
