"""`parallizer` command line. Each sub-command lives in its own module and registers itself
on the app of `root.py`."""

from __future__ import annotations

import sys

import typer

from .root import CliError, app, fail

__all__ = ["CliError", "app", "fail", "main"]


def _register() -> None:
    from . import bench, check, emulate, evaluate, fulfill, index, lsp, mcp, serve, watch  # noqa: F401  (each module adds its command to `app`)


def main(argv: list[str] | None = None) -> None:
    _register()
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
    sys.exit(code if isinstance(code, int) else 0)
