"""The `parallizer` Typer app and the one way a command reports bad input. Each sub-command
module imports this (never the package) and adds its command to `app`."""

from __future__ import annotations

import typer

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
