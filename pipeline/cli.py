"""The `stance` command line: batch prediction, evaluation, reports and label tools.

Each command imports what it needs when it runs, so `stance --help` starts quickly.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
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


PARAMS_OPTION = typer.Option(Path("configs/params.yaml"), "--params", help="Stage parameters (YAML).")


@labels_app.command("check")
@one_line_errors
def labels_check(
    gold: Path = typer.Option(Path("labels/gold.jsonl"), "--gold", help="Gold label file (JSONL) to check."),
    corpus: Path = typer.Option(Path("seeds"), "--corpus", help="Folder of the corpus documents (.txt)."),
    params: Path = PARAMS_OPTION,
) -> None:
    """Check the gold labels against the corpus and the label schema; exit 1 on any problem."""
    from pipeline.config import Schema, load_params
    from pipeline.labels import check_labels
    from pipeline.segmentation import SegmentationSettings, Segmenter

    settings = load_params(params)
    schema = Schema.load(settings["data"]["schema"])
    if not gold.is_file():
        raise InputError(f"{gold}: no such file")
    sentences = Segmenter(SegmentationSettings.from_params(settings)).segment_folder(corpus)
    problems = check_labels(gold, sentences, schema)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{gold}: {len(problems)} problem(s)", file=sys.stderr)
        raise typer.Exit(1)
    print(f"{gold}: {len(sentences)} sentences labeled, no problem")


@labels_app.command("agreement")
@one_line_errors
def labels_agreement(
    first: Path = typer.Argument(..., help="First annotation pass (JSONL)."),
    second: Path = typer.Argument(..., help="Second annotation pass (JSONL)."),
    json_out: Path = typer.Option(None, "--json", help="Also write the figures to this JSON file."),
    params: Path = PARAMS_OPTION,
) -> None:
    """Cohen's kappa and raw agreement between two annotation passes, per dimension."""
    from rich.console import Console
    from rich.table import Table

    from pipeline.agreement import agreement
    from pipeline.config import Schema, load_params
    from pipeline.files import read_jsonl, write_json

    schema = Schema.load(load_params(params)["data"]["schema"])
    passes = [read_jsonl(path) for path in (first, second)]
    figures = agreement(*passes, tasks=list(schema.tasks))
    table = Table("dimension", "sentences", "raw agreement", "Cohen's kappa")
    for task, row in figures.items():
        table.add_row(task, str(row["n"]), f"{row['raw_agreement']:.3f}", f"{row['cohen_kappa']:.3f}")
    Console().print(table)
    if json_out:
        write_json(figures, json_out)
