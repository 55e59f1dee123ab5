"""`parallizer` command line. Each sub-command lives in its own module and registers itself."""

from __future__ import annotations

import sys

import typer

try:  # recent typer vendors click
    from typer._click.exceptions import ClickException as _ClickException
except ImportError:  # pragma: no cover - older typer on real click
    from click.exceptions import ClickException as _ClickException

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Parallizer: reads a plan as it is written and surfaces cards, in parallel.",
)


@app.callback()
def _root() -> None:
    """Parallizer: reads a plan as it is written and surfaces cards, in parallel."""


class CliError(Exception):
    """Bad usage or bad input: one line on stderr, exit code 2."""


def fail(message: str) -> CliError:
    return CliError(message)


def _register() -> None:
    from . import bench, emulate, evaluate, fulfill, index, serve  # noqa: F401  (each module adds its command to `app`)


def main(argv: list[str] | None = None) -> None:
    _register()
    try:
        code = app(args=argv, prog_name="parallizer", standalone_mode=False)
    except CliError as exc:
        print(f"parallizer: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except _ClickException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `parallizer`: the help text
            print(exc.format_message(), file=sys.stderr)
        else:
            print(f"parallizer: error: {exc.format_message()}", file=sys.stderr)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        print("parallizer: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
