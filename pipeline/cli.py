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
    rich_markup_mode=None,  # plain help: rendering it with rich doubles `stance --help`'s start-up
)
labels_app = typer.Typer(help="Check, compare and grow the hand labels in labels/.", no_args_is_help=True)
app.add_typer(labels_app, name="labels")

Command = TypeVar("Command", bound=Callable)


def one_line_errors(command: Command) -> Command:
    """Report bad input, and what the operating system refuses (a full disk, a read-only folder),
    as one line on standard error with exit code 2, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except InputError as error:
            print(f"error: {error}", file=sys.stderr)
            raise typer.Exit(2) from None
        except OSError as error:
            where = f"{error.filename}: " if error.filename else ""
            print(f"error: {where}{error.strerror or error}", file=sys.stderr)
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
    stop_on_terminate()


def stop_on_terminate() -> None:
    """SIGTERM (what `timeout`, docker and systemd send) stops a command as Ctrl-C does, so that it
    removes its temporary output instead of dying with it in place."""
    import signal

    signal.signal(signal.SIGTERM, signal.default_int_handler)


PARAMS_OPTION = typer.Option(Path("configs/params.yaml"), "--params", help="Stage parameters (YAML).")


@labels_app.command("check")
@one_line_errors
def labels_check(
    gold: Path = typer.Option(Path("labels/gold.jsonl"), "--gold", help="Gold label file (JSONL) to check."),
    corpus: Path = typer.Option(Path("seeds"), "--corpus", help="Folder of the corpus documents (.txt)."),
    examples: Path = typer.Option(
        None, "--examples", help="Written training examples (JSONL) to check too [default: data.examples of --params]."
    ),
    params: Path = PARAMS_OPTION,
) -> None:
    """Check the gold labels (and any written examples) against the corpus and the label schema;
    exit 1 on any problem."""
    from pipeline.config import Columns, Schema, load_params
    from pipeline.labels import check_examples, check_labels
    from pipeline.segmentation import SegmentationSettings, Segmenter

    settings = load_params(params)
    schema = Schema.load(settings["data"]["schema"])
    examples = examples or (Path(settings["data"]["examples"]) if settings["data"].get("examples") else None)
    for path in filter(None, (gold, examples)):
        if not path.is_file():
            raise InputError(f"{path}: no such file")
    sentences = Segmenter(SegmentationSettings.from_params(settings)).segment_folder(corpus)
    problems = check_labels(gold, sentences, schema)
    if examples:
        problems += check_examples(examples, sentences, schema, Columns.from_params(settings),
                                   settings["data"].get("examples_overlap_words"))
    for problem in problems:
        print(problem, file=sys.stderr)
    checked = " and ".join(str(path) for path in filter(None, (gold, examples)))
    if problems:
        print(f"{checked}: {len(problems)} problem(s)", file=sys.stderr)
        raise typer.Exit(1)
    print(f"{checked}: {len(sentences)} sentences labeled, no problem")


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
    from pipeline.files import read_jsonl, refuse_overwrite, write_json

    if json_out:
        refuse_overwrite(json_out, [first, second])
    schema = Schema.load(load_params(params)["data"]["schema"])
    passes = [read_jsonl(path) for path in (first, second)]
    figures = agreement(*passes, tasks=list(schema.tasks))
    table = Table("dimension", "sentences", "raw agreement", "Cohen's kappa")
    for task, row in figures.items():
        table.add_row(task, str(row["n"]), f"{row['raw_agreement']:.3f}", f"{row['cohen_kappa']:.3f}")
    Console().print(table)
    if json_out:
        write_json(figures, json_out)


@labels_app.command("todo")
@one_line_errors
def labels_todo(
    output: Path = typer.Option(Path("labels/todo.jsonl"), "--output", "-o", help="File to write the queue to (JSONL)."),
    gold: Path = typer.Option(Path("labels/gold.jsonl"), "--gold", help="Gold label file (JSONL)."),
    corpus: Path = typer.Option(Path("seeds"), "--corpus", help="Folder of the corpus documents (.txt)."),
    model: Path = typer.Option(
        Path("models"), "--model", help="Models folder for suggestions; without trained models the queue has none."
    ),
    params: Path = PARAMS_OPTION,
) -> None:
    """Write the corpus sentences that have no gold label yet, ready to fill in.

    With trained models the least confident sentences come first, pre-filled with the models'
    labels and marked "suggested"; review them, delete the mark and append to the gold file.
    """
    from pipeline.config import Schema, load_params
    from pipeline.files import read_jsonl, refuse_overwrite, write_jsonl
    from pipeline.models import load_models
    from pipeline.segmentation import SegmentationSettings, Segmenter
    from pipeline.todo import todo_records

    refuse_overwrite(output, [gold, corpus, model, params])
    settings = load_params(params)
    schema = Schema.load(settings["data"]["schema"])
    sentences = Segmenter(SegmentationSettings.from_params(settings)).segment_folder(corpus)
    labeled = {record.get("id") for record in read_jsonl(gold)} if gold.is_file() else set()
    models = load_models([str(model)], schema.tasks) if model.is_dir() and any(model.glob("*/MLmodel")) else None
    records = todo_records(sentences, labeled, list(schema.tasks), models)
    try:
        write_jsonl(records, output)
    except FileNotFoundError as missing:
        raise InputError(str(missing)) from None
    source = "with model suggestions" if models else "without suggestions (no trained models)"
    print(f"{output}: {len(records)} sentences to label, {source}")


MODEL_OPTION = typer.Option(
    ["models"], "--model",
    help="Models directory (one subfolder per task), one model's folder, or an MLflow model URI such as"
    " models:/natostance-stance@champion or runs:/RUN/model; repeat to combine sources, one per task.",
)
def model_sources(sources: list[str], fast: bool) -> list[str]:
    """The model sources to load: with `fast`, the fast set's subfolder of each models directory."""
    if not fast:
        return sources
    uris = [source for source in sources if ":/" in source]
    if uris:
        raise InputError(f"{uris[0]}: --fast takes models directories; name a fast model's URI"
                         " (models:/natostance-fast-<task>@champion) with --model instead")
    return [str(Path(source) / FAST_SET) for source in sources]


FAST_SET = "fast"  # the model set of configs/candidates.yaml without the sentence encoder
FAST_OPTION = typer.Option(
    False, "--fast",
    help="Use the fast model set (the fast/ subfolder of each --model directory): no sentence encoder,"
    " several times faster, somewhat less accurate (see README).",
)
TASK_OPTION = typer.Option(None, "--task", help="Predict only this task (stance, bloc, claim); repeatable.")
TEXT_COLUMN_OPTION = typer.Option("text", "--text-column", help="Column of tables that holds the sentence.")
ENCODING_OPTION = typer.Option("utf-8", "--encoding", help="Encoding of text inputs (.txt, .md, .csv, .tsv, .jsonl, -).")
BATCH_SIZE_OPTION = typer.Option(10_000, "--batch-size", min=1, help="Rows read, predicted and written at a time.")
PROBS_OPTION = typer.Option(False, "--probs", help="Add one probability column per class (stance_p_favor, ...).")


def read_options(settings: dict, text_column: str, encoding: str, batch_size: int):
    """How `predict` and `evaluate` read their inputs: a table's text may be as long as a document
    (`segment.max_chars`), no longer."""
    from pipeline.segmentation import SegmentationSettings
    from pipeline.tables import ReadOptions

    return ReadOptions(text_column, encoding, batch_size, SegmentationSettings.from_params(settings).max_chars)


@app.command()
@one_line_errors
def predict(
    inputs: list[str] = typer.Argument(
        ..., help="Files, directories (every supported file inside) or - (standard input, one sentence per line)."
    ),
    output: Path = typer.Option(
        None, "--output", "-o", help="Output file: .csv, .jsonl or .parquet (format from the extension); CSV on standard output without it."
    ),
    model: list[str] = MODEL_OPTION,
    fast: bool = FAST_OPTION,
    task: list[str] = TASK_OPTION,
    text_column: str = TEXT_COLUMN_OPTION,
    probs: bool = PROBS_OPTION,
    encoding: str = ENCODING_OPTION,
    batch_size: int = BATCH_SIZE_OPTION,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    params: Path = PARAMS_OPTION,
) -> None:
    """Label every sentence with stance, bloc and claim type, each with its probability.

    Documents (.txt, .md) are segmented like the training corpus into rows of id, doc, index, \
start, end, date and text; tables (.csv, .tsv, .jsonl, .parquet) have one sentence per row and \
keep all their columns.

    The output has the union of the inputs' columns, an input_file column when there are several \
inputs, then stance, stance_p, bloc, bloc_p, claim and claim_p (an input with a column of one of these \
names is refused). A blank text gets empty labels. An output file appears only when the run succeeds, \
and never replaces an input.
    """
    from pipeline.config import load_params
    from pipeline.predict import Inputs, load_predictor, predict_files, segmenter_factory, show_progress
    from pipeline.tables import check_output

    check_output(output, inputs)
    settings = load_params(params)
    sources = Inputs.open(inputs, read_options(settings, text_column, encoding, batch_size), segmenter_factory(settings))
    predictor = load_predictor(settings, model_sources(model, fast), task, text_column, probs)
    try:
        predict_files(sources, output, predictor, batch_size, show_progress(quiet))
    except BrokenPipeError:  # the reader of standard output stopped early (`| head`)
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(1) from None


@app.command("spark-predict")
@one_line_errors
def spark_predict(
    source: str = typer.Argument(
        ..., metavar="INPUT", help="A Parquet, CSV, TSV or JSONL file or folder, or any URI Spark reads (s3a://, hdfs://)."
    ),
    output: Path = typer.Argument(
        ..., metavar="OUTPUT", help="The Parquet folder to write (Spark's part files); an earlier Spark output there is replaced."
    ),
    master: str = typer.Option(
        None, "--master", help="Spark master URL (spark://host:7077, yarn, local[4]) [default: spark-submit's, else local[*]]."
    ),
    model: list[str] = MODEL_OPTION,
    fast: bool = FAST_OPTION,
    task: list[str] = TASK_OPTION,
    text_column: str = TEXT_COLUMN_OPTION,
    probs: bool = PROBS_OPTION,
    kind: str = typer.Option(
        None, "--format", help="Input format: parquet, csv, tsv or jsonl [default: from the input's extension or its files']."
    ),
    batch_size: int = BATCH_SIZE_OPTION,
    params: Path = PARAMS_OPTION,
) -> None:
    """Label a corpus on Apache Spark, with the same models and labels as `stance predict`.

    The output has every input column, then the columns `stance predict` adds. Each partition \
is predicted in batches by the executors; with document columns (doc, index), each document \
in one batch, so the context features see it whole. The output folder appears only when the \
run succeeds.
    """
    from pipeline.config import load_params
    from pipeline.predict import load_predictor
    from pipeline.spark import check_run, spark_predict as predict_on_spark

    settings = load_params(params)
    kind = check_run(source, output, kind)  # before the models load
    predictor = load_predictor(settings, model_sources(model, fast), task, text_column, probs)
    predict_on_spark(source, output, predictor, master, kind, batch_size)


@app.command()
@one_line_errors
def segment(
    inputs: list[str] = typer.Argument(..., help="Documents (.txt, .md) and folders of them."),
    output: Path = typer.Option(
        ..., "--output", "-o", help="The sentence table to write: .csv, .jsonl or .parquet (format from the extension)."
    ),
    encoding: str = ENCODING_OPTION,
    params: Path = PARAMS_OPTION,
) -> None:
    """Split documents into a sentence table (id, doc, index, start, end, date, text), exactly as
    `stance predict` splits them: an input for `stance spark-predict` or any other tool."""
    from pipeline.config import load_params
    from pipeline.predict import Inputs, segmenter_factory
    from pipeline.tables import DOCUMENT_COLUMNS, DOCUMENT_SUFFIXES, check_output, expand_inputs, open_output

    check_output(output, inputs)
    documents = expand_inputs(inputs)
    for name in documents:
        if Path(name).suffix.lower() not in DOCUMENT_SUFFIXES:
            raise InputError(f"{name}: not a document ({', '.join(DOCUMENT_SUFFIXES)}); `stance segment` splits documents")
    settings = load_params(params)
    options = read_options(settings, "text", encoding, batch_size=1)  # a document is read as one batch, whatever this
    sources = Inputs.open(documents, options, segmenter_factory(settings))
    with open_output(output, DOCUMENT_COLUMNS) as writer:
        for source in sources.readers.values():
            for batch in source.batches():
                writer.write(batch)


@app.command()
@one_line_errors
def evaluate(
    file: str = typer.Argument(..., help="A table (.csv, .tsv, .jsonl, .parquet) with the text and gold label columns."),
    model: list[str] = MODEL_OPTION,
    fast: bool = FAST_OPTION,
    task: list[str] = TASK_OPTION,
    text_column: str = TEXT_COLUMN_OPTION,
    encoding: str = ENCODING_OPTION,
    batch_size: int = BATCH_SIZE_OPTION,
    json_out: Path = typer.Option(None, "--json", help="Also write the figures to this JSON file."),
    params: Path = PARAMS_OPTION,
) -> None:
    """Predict on a file with gold labels and print per task macro-F1, accuracy, per-class scores
    and, for stance, F_avg (mean F1 of favor and against)."""
    from rich.console import Console

    from pipeline.config import Schema, load_params
    from pipeline.files import refuse_overwrite, write_json
    from pipeline.predict import Inputs, evaluate_file, gold_tasks, load_predictor, score_tables, segmenter_factory

    if json_out:
        if not json_out.parent.is_dir():
            raise InputError(f"{json_out}: output directory {json_out.parent} does not exist")
        refuse_overwrite(json_out, [file, params])
    settings = load_params(params)
    source = Inputs.open([file], read_options(settings, text_column, encoding, batch_size), segmenter_factory(settings))
    if len(source.readers) != 1:
        raise InputError(f"{file}: a directory; give one file")
    tasks = gold_tasks(file, source.columns, Schema.load(settings["data"]["schema"]).tasks, task)
    predictor = load_predictor(settings, model_sources(model, fast), tasks, text_column, probs=False)
    results = evaluate_file(source, predictor, settings)
    console = Console()
    for table in score_tables(results):
        console.print(table)
    if json_out:
        write_json(results, json_out)


@app.command()
@one_line_errors
def report(
    predictions: Path = typer.Argument(..., help="Predictions written by `stance predict` (.csv, .tsv, .jsonl, .parquet)."),
    output: Path = typer.Option(..., "--output", "-o", help="The HTML report to write."),
    encoding: str = ENCODING_OPTION,
    params: Path = PARAMS_OPTION,
) -> None:
    """A self-contained HTML report of predictions: stance by bloc, per document and over time."""
    from pipeline.config import Schema, load_params
    from pipeline.report import write_report

    schema = Schema.load(load_params(params)["data"]["schema"])
    write_report(predictions, output, schema.tasks, encoding)
