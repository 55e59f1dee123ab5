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


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"parallizer {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: bool = typer.Option(
        False, "--version", is_eager=True, callback=_version, help="print the version and exit"
    ),
) -> None:
    """Parallizer: reads a plan as it is written and surfaces cards, in parallel."""


class CliError(Exception):
    """Bad usage or bad input: one line on stderr, exit code 2."""


def fail(message: str) -> CliError:
    return CliError(message)
