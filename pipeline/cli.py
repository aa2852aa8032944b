"""The `stance` command line: batch prediction, evaluation, reports and label tools.

Each command imports what it needs when it runs, so `stance --help` starts quickly.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

import typer

from pipeline import __version__
from pipeline.errors import InputError

app = typer.Typer(
    help="Stance toward NATO expansion, speaker bloc and claim type for news sentences.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
labels_app = typer.Typer(help="Check, compare and grow the hand labels in labels/.", no_args_is_help=True)
app.add_typer(labels_app, name="labels")

Command = TypeVar("Command", bound=Callable)


def one_line_errors(command: Command) -> Command:
    """Report bad input as one line on standard error with exit code 2, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except InputError as error:
            print(f"error: {error}", file=sys.stderr)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def show_version(value: bool) -> None:
    if value:
        print(f"natostance {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=show_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Stance toward NATO expansion, speaker bloc and claim type for news sentences."""
