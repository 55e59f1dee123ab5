"""Configuration, as listed in SPEC.md, and the allowed roots a client's paths must stay in.

`load_settings()` is what the CLI and the service use: the process environment, then the
dotenv file (`.env` in the working directory, or the file `PARALLIZER_ENV_FILE` names; set
it empty to read none). `Settings(...)` alone reads the environment and the values given,
never a file; the test suite clears the environment, so there a `Settings(...)` holds only
what the test gives.

`scope_root` and `plan_path` must resolve, symlinks followed, inside an allowed root
(`Settings.allowed_root_paths`): `resolve_inside` is the one check of a client's path;
`project_root` is the default scope of a plan.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import BadInput, PathNotAllowed


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PARALLIZER_",
        env_file=None,  # load_settings() names the file
        extra="ignore",
        frozen=True,
    )

    # --- web search -------------------------------------------------------------------
    perplexity_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("PERPLEXITY_API_KEY", "PARALLIZER_PERPLEXITY_API_KEY"),
    )
    perplexity_url: str = "https://api.perplexity.ai"
    perplexity_model: str = "sonar"
    searxng_url: str | None = None
    web_max_concurrent: int = Field(
        default=64,
        ge=1,
        le=1000,
        description="ceiling of the adaptive web search limit (SPEC's default: 64)",
    )
    web_start_concurrent: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="where the adaptive web search limit starts; it grows to what the "
        "provider takes (429s and rising latency cut it)",
    )
    web_cache_ttl: float = Field(
        default=600.0, ge=0, description="seconds a web answer is reused; 0 turns the cache off"
    )

    # --- LLM (any OpenAI-compatible endpoint) -----------------------------------------
    llm_url: str | None = None
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_max_concurrent: int = Field(
        default=256, ge=1, le=4096, description="ceiling of the adaptive LLM call limit"
    )
    llm_start_concurrent: int = Field(
        default=128,
        ge=1,
        le=4096,
        description="where the adaptive LLM call limit starts (at most its ceiling); it grows "
        "while calls take their normal time, 429s and rising latency cut it",
    )

    # --- ripgrep ----------------------------------------------------------------------
    rg_max_concurrent: int = Field(default=4, ge=1, le=256)
    rg_timeout: float = Field(default=10.0, gt=0, description="seconds per ripgrep run")
    rg_max_filesize: str = "2M"

    # --- code index (tree-sitter definitions per scope) ---------------------------------
    index_workers: int = Field(
        default_factory=lambda: max(1, min(os.cpu_count() or 2, 64)),
        ge=0,
        le=64,
        description="worker processes that parse (default: one per core); 0: parse in a thread",
    )
    index_max_files: int = Field(default=100_000, ge=1, description="files listed per scope")
    read_workers: int = Field(
        # two where there are two cores: 50 plans arriving at once queued ~0.5 s for one
        # reader (capacity-llm p99 1.77-1.97x with one, 1.60-1.66x with two on 2 cores)
        default_factory=lambda: max(1, min(2, os.cpu_count() or 1)),
        ge=0,
        le=32,
        description="worker processes that read plans (off the GIL; default: two, one on a "
        "single core); 0: read in a thread",
    )
    index_max_file_bytes: int = Field(
        default=1024 * 1024, ge=1, description="larger files are not parsed"
    )
    index_build_budget: float = Field(
        default=120.0, gt=0, description="seconds per build; files left over wait for the next"
    )
    index_max_scopes: int = Field(
        default=4, ge=1, description="scopes kept (least recently used out)"
    )
    index_dir: str = Field(
        default="~/.cache/parallizer/index",
        description="where code indexes persist between runs (per scope and per dependency "
        "version), shared by the workers of a host; empty: memory only",
    )

    # --- dependencies (code/sources/: what the project has installed) ------------------
    python: str | None = Field(
        default=None,
        description="the interpreter (or virtualenv) whose installed packages are the "
        "project's Python dependencies; unset: the scope's .venv or venv, else $VIRTUAL_ENV",
    )
    virtual_env: str | None = Field(
        default=None,
        validation_alias=AliasChoices("VIRTUAL_ENV"),
        description="the active virtualenv (read from $VIRTUAL_ENV): a scope without one uses it",
    )
    deps_wait: float = Field(
        default=20.0,
        gt=0,
        description="seconds a request waits for the packages it names to be indexed (the "
        "others are ready for the next request)",
    )

    # --- request shape ----------------------------------------------------------------
    timeout: float = Field(default=30.0, gt=0, description="seconds, per remote call")
    request_timeout: float = Field(
        default=60.0, gt=0, description="seconds, a deadline for a whole request"
    )
    max_queries: int = Field(default=5, ge=1, le=50)
    max_questions: int = Field(default=3, ge=1, le=20)
    max_document_bytes: int = Field(default=1024 * 1024, ge=1)
    allowed_roots: str = Field(default_factory=os.getcwd)

    # --- service ----------------------------------------------------------------------
    max_runs: int = Field(
        default=2000, ge=1, description="requests in flight per process; more get 503"
    )
    body_timeout: float = Field(
        default=30.0, gt=0, description="seconds to receive a request's whole body; then 408"
    )
    api_token: SecretStr | None = None
    cors_origins: str = ""
    feed_ttl: float = Field(default=3600.0, gt=0, description="seconds before an idle feed expires")
    feed_max_per_type: int = Field(default=3, ge=1)
    redis_url: str | None = Field(
        default=None,
        description="shared feed, cache, request registry and limits for several workers",
    )
    mcp: bool = Field(
        default=False, description="serve the MCP tool at /mcp (streamable HTTP) as well"
    )

    # --- logging ----------------------------------------------------------------------
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator(
        "perplexity_api_key", "llm_api_key", "api_token", "searxng_url", "llm_url", "llm_model",
        "redis_url", "python", "virtual_env", mode="before",
    )  # fmt: skip
    @classmethod
    def _empty_is_unset(cls, v: object) -> object:
        """`FOO=` in a .env file means unset, not an empty key or URL."""
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, v: str) -> str:
        v = v.strip().upper()
        if v not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return v

    @cached_property
    def allowed_root_paths(self) -> tuple[Path, ...]:
        """Allowed roots, resolved (symlinks followed); empty entries ignored."""
        roots = [p for p in self.allowed_roots.split(os.pathsep) if p.strip()]
        return tuple(_root(p) for p in roots)

    def secrets(self) -> list[str]:
        """Secret values that must never reach a log line or an error message."""
        out = []
        for s in (self.perplexity_api_key, self.llm_api_key, self.api_token):
            if s is not None and s.get_secret_value():
                out.append(s.get_secret_value())
        return out


def _root(text: str) -> Path:
    try:
        return Path(text).expanduser().resolve()
    except (OSError, RuntimeError):  # `~nosuchuser`, a loop: taken literally, matches nothing
        return Path(text).absolute()


def resolve_inside(
    raw: str | Path,
    roots: Sequence[Path],
    *,
    what: str,
    kind: str = "any",
) -> Path:
    """Resolve `raw` (following every symlink) and require it inside one of `roots`.

    kind: "dir" or "file" also require that it exists as that. Raises `PathNotAllowed`
    (403) when outside, `BadInput` (422) when malformed or of the wrong kind. Messages name
    the field, not the resolved target, so they leak nothing about the server's tree.
    """
    text = str(raw)
    if not text.strip() or "\x00" in text:
        raise BadInput(f"{what} is empty or malformed")
    path = Path(text)  # no `~` expansion: a client names paths on the server as they are
    if not path.is_absolute():
        raise BadInput(f"{what} must be an absolute path")
    try:
        resolved = path.resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # symlink loops and the like
        raise BadInput(f"{what} cannot be resolved") from exc
    if not any(resolved == r or resolved.is_relative_to(r) for r in roots):
        raise PathNotAllowed(f"{what} is outside the allowed roots")
    try:
        if kind == "dir" and not resolved.is_dir():
            raise BadInput(f"{what} is not a directory")
        if kind == "file" and not resolved.is_file():
            raise BadInput(f"{what} is not a file")
    except OSError as exc:  # a name too long, no permission to look
        raise BadInput(f"{what} cannot be accessed ({exc.strerror or 'error'})") from exc
    return resolved


def project_root(path: Path) -> Path:
    """The default scope of a plan: the top of the git work tree holding `path` (a `.git`
    directory, or the `.git` file of a worktree or submodule), else the plan's directory."""
    start = path if path.is_dir() else path.parent
    start = start.absolute()
    for d in (start, *start.parents):
        if (d / ".git").exists():
            return d
    return start


ENV_FILE_VARIABLE = "PARALLIZER_ENV_FILE"


def env_file() -> str | None:
    """The dotenv file `load_settings` reads: `.env` unless PARALLIZER_ENV_FILE says
    otherwise (empty: none)."""
    name = os.environ.get(ENV_FILE_VARIABLE)
    if name is None:
        return ".env"
    return name.strip() or None


def load_settings(**overrides: object) -> Settings:
    """Settings for a real process: `overrides`, then the environment, then the dotenv file."""
    return Settings(_env_file=env_file(), **overrides)  # type: ignore[arg-type]
