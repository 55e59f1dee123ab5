"""`parallizer` command line. Each sub-command lives in its own module and registers itself
on the app of `root.py`.

Start-up is lazy: `parallizer --version` imports nothing but the version string, and a
command imports only its own module (the others are imported for `--help` or a name the
table does not know), so a command pays for what it uses."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["CliError", "app", "fail", "main"]

COMMANDS = {
    "bench": "bench", "check": "check", "emulate": "emulate", "eval": "evaluate",
    "fulfill": "fulfill", "index": "index", "lsp": "lsp", "mcp": "mcp", "serve": "serve",
    "watch": "watch",
}  # fmt: skip
"""Each command and the module (of this package) that adds it to `app`."""


def __getattr__(name: str) -> Any:  # `from parallizer.cli import app` keeps working
    if name in ("CliError", "app", "fail"):
        from . import root

        return getattr(root, name)
    raise AttributeError(name)


def _register(argv: list[str] | None = None) -> None:
    """Import the module of the command `argv` names (every one when it names none)."""
    first = next((a for a in argv if not a.startswith("-")), None) if argv else None
    names = [COMMANDS[first]] if first in COMMANDS else sorted(set(COMMANDS.values()))
    for name in names:
        _load(name)


def _load(name: str) -> None:
    """One plain import per command, so the import graph (tests/test_import_cycles.py) sees them."""
    if name == "bench":
        from . import bench  # noqa: F401
    elif name == "check":
        from . import check  # noqa: F401
    elif name == "emulate":
        from . import emulate  # noqa: F401
    elif name == "evaluate":
        from . import evaluate  # noqa: F401
    elif name == "fulfill":
        from . import fulfill  # noqa: F401
    elif name == "index":
        from . import index  # noqa: F401
    elif name == "lsp":
        from . import lsp  # noqa: F401
    elif name == "mcp":
        from . import mcp  # noqa: F401
    elif name == "serve":
        from . import serve  # noqa: F401
    elif name == "watch":
        from . import watch  # noqa: F401


def version() -> str:
    from .. import __version__

    return f"parallizer {__version__}"


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:  # the bare start: no Typer, no settings
        print(version())
        sys.exit(0)
    from .. import collector

    collector.tune()  # before the imports and the index load: see collector.py
    import typer

    from .root import CliError, app

    _register(args)
    try:
        code = app(args=argv, prog_name="parallizer", standalone_mode=False)
    except CliError as exc:
        print(f"parallizer: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        print("parallizer: interrupted", file=sys.stderr)
        sys.exit(130)
    except typer.TyperException as exc:  # click's usage errors (typer's public base of them)
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `parallizer`: the help text
            print(exc.format_message(), file=sys.stderr)
        else:
            print(f"parallizer: error: {exc.format_message()}", file=sys.stderr)
        sys.exit(2)
    code = code if isinstance(code, int) else 0
    if argv is None and next((a for a in args if not a.startswith("-")), None) in ONE_SHOT:
        _exit_now(code)
    sys.exit(code)


ONE_SHOT = frozenset({"check", "fulfill", "index"})
"""Commands whose process ends with their answer: it is written, their subprocesses reaped,
so the interpreter's teardown (freeing every object of a loaded index, one by one: ~0.1 s
over the standard library's) is skipped, as mypy does."""


def _exit_now(code: int) -> None:
    import logging
    import os

    logging.shutdown()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # the reader went away, or a stream is closed
        code = code or 1
    os._exit(code)
