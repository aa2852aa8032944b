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
models_app = typer.Typer(help="The registered models in MLflow: their versions and @champion.", no_args_is_help=True)
app.add_typer(models_app, name="models")

Command = TypeVar("Command", bound=Callable)


def one_line_errors(command: Command) -> Command:
    """Report bad input, and what the operating system refuses (a full disk, a read-only folder),
    as one line on standard error with exit code 2, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except InputError as error:
            for line in str(error).splitlines():  # several problems: one line each
                print(f"error: {line}", file=sys.stderr)
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


PARAMS_OPTION = typer.Option(Path("configs/params.yaml"), "--params", metavar="FILE", help="Stage parameters (YAML).")


@labels_app.command("check")
@one_line_errors
def labels_check(
    gold: Path = typer.Option(Path("labels/gold.jsonl"), "--gold", metavar="FILE", help="Gold label file (JSONL) to check."),
    corpus: Path = typer.Option(Path("seeds"), "--corpus", metavar="FOLDER", help="Folder of the corpus documents (.txt)."),
    examples: Path = typer.Option(
        None, "--examples", metavar="FILE", help="Written training examples (JSONL) to check too [default: data.examples of --params]."
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
    first: Path = typer.Argument(..., metavar="FIRST", help="First annotation pass (JSONL)."),
    second: Path = typer.Argument(..., metavar="SECOND", help="Second annotation pass (JSONL)."),
    json_out: Path = typer.Option(
        None, "--json", metavar="FILE", help="Also write the figures and the disagreements to this JSON file."
    ),
    texts: Path = typer.Option(
        Path("labels/gold.jsonl"), "--texts", metavar="FILE",
        help="JSONL with the id and text of sentences, to show the text of passes without one (when it exists).",
    ),
    params: Path = PARAMS_OPTION,
) -> None:
    """Cohen's kappa and raw agreement between two annotation passes, per dimension, then every
    sentence the passes label differently, with both labels and notes."""
    from rich.console import Console
    from rich.table import Table

    from pipeline.agreement import agreement, disagreements
    from pipeline.config import Schema, load_params
    from pipeline.files import read_jsonl, refuse_overwrite, write_json

    if json_out:
        refuse_overwrite(json_out, [first, second])
    tasks = list(Schema.load(load_params(params)["data"]["schema"]).tasks)
    passes = [read_jsonl(path) for path in (first, second)]
    figures = agreement(*passes, tasks=tasks)
    known = {record.get("id"): record.get("text", "") for record in read_jsonl(texts)} if texts.is_file() else {}
    differ = disagreements(*passes, tasks=tasks, texts=known)
    table = Table("dimension", "sentences", "raw agreement", "Cohen's kappa")
    for task, row in figures.items():
        table.add_row(task, str(row["n"]), f"{row['raw_agreement']:.3f}", f"{row['cohen_kappa']:.3f}")
    console = Console()
    console.print(table)
    listed = Table("id", "text", f"labels: {first.name} / {second.name}", "notes",
                   title=f"{len(differ)} disagreement(s)")
    for row in differ:
        labels = "\n".join(f"{task}: {a} / {b}" for task, (a, b) in row["labels"].items())
        notes = "\n".join(f"{path.name}: {note}" for path, note in zip((first, second), row["notes"]) if note)
        listed.add_row(row["id"], row["text"], labels, notes)
    console.print(listed)
    if json_out:
        write_json({**figures, "disagreements": differ}, json_out)


GOLD_OPTION = typer.Option(Path("labels/gold.jsonl"), "--gold", metavar="FILE", help="Gold label file (JSONL).")
CORPUS_OPTION = typer.Option(Path("seeds"), "--corpus", metavar="FOLDER", help="Folder of the corpus documents (.txt).")
SUGGESTIONS_OPTION = typer.Option(
    Path("models"), "--model", metavar="FOLDER",
    help="Models folder for suggestions; without trained models the queue has none.",
)
CONTEXT_OPTION = typer.Option(
    2, "--context", min=0, metavar="N", help="Sentences of the same document shown before and after each one."
)


def labeling_queue(gold: Path, corpus: Path, model: Path, params: Path, context: int):
    """The label schema, the corpus sentences without a gold label (`pipeline.todo`) and the models
    that suggested their labels (None without trained models)."""
    from pipeline.config import Schema, load_params
    from pipeline.files import read_jsonl
    from pipeline.models import load_models
    from pipeline.segmentation import SegmentationSettings, Segmenter
    from pipeline.todo import todo_records

    settings = load_params(params)
    schema = Schema.load(settings["data"]["schema"])
    sentences = Segmenter(SegmentationSettings.from_params(settings)).segment_folder(corpus)
    labeled = {record.get("id") for record in read_jsonl(gold)} if gold.is_file() else set()
    models = load_models([str(model)], schema.tasks) if model.is_dir() and any(model.glob("*/MLmodel")) else None
    return schema, todo_records(sentences, labeled, list(schema.tasks), models, context), models


def suggestions(models: dict | None) -> str:
    """Where the queue's labels come from, for the summary line."""
    return "with model suggestions" if models else "without suggestions (no trained models)"


@labels_app.command("todo")
@one_line_errors
def labels_todo(
    output: Path = typer.Option(
        Path("labels/todo.jsonl"), "--output", "-o", metavar="FILE", help="File to write the queue to (JSONL)."
    ),
    gold: Path = GOLD_OPTION,
    corpus: Path = CORPUS_OPTION,
    model: Path = SUGGESTIONS_OPTION,
    context: int = CONTEXT_OPTION,
    params: Path = PARAMS_OPTION,
) -> None:
    """Write the corpus sentences that have no gold label yet, ready to fill in.

    Each record has the sentence's document, its position (index) and the sentences before and
    after it. With trained models the least confident sentences come first, pre-filled with the
    models' labels and marked "suggested"; review them, delete the mark and the context (before,
    after) and append to the gold file.
    """
    from pipeline.files import refuse_overwrite, write_jsonl

    refuse_overwrite(output, [gold, corpus, model, params])
    _, records, models = labeling_queue(gold, corpus, model, params, context)
    try:
        write_jsonl(records, output)
    except FileNotFoundError as missing:
        raise InputError(str(missing)) from None
    print(f"{output}: {len(records)} sentences to label, {suggestions(models)}")


@labels_app.command("export")
@one_line_errors
def labels_export(
    output: Path = typer.Option(
        Path("labels/labelstudio"), "--output", "-o", metavar="FOLDER",
        help="Folder to write tasks.json and config.xml to; an existing one may hold nothing else.",
    ),
    gold: Path = GOLD_OPTION,
    corpus: Path = CORPUS_OPTION,
    model: Path = SUGGESTIONS_OPTION,
    context: int = CONTEXT_OPTION,
    params: Path = PARAMS_OPTION,
) -> None:
    """Write the labeling queue for Label Studio: tasks.json (each sentence with its document,
    position and context, and the models' labels as pre-annotations) and config.xml (the
    labeling interface for the three dimensions)."""
    from pipeline.files import atomic_folder, refuse_overwrite, write_json
    from pipeline.labelstudio import CONFIG_FILE, TASKS_FILE, label_studio_tasks, labeling_config

    refuse_overwrite(output, [gold, corpus, model, params])
    if output.exists() and (not output.is_dir() or {p.name for p in output.iterdir()} - {TASKS_FILE, CONFIG_FILE}):
        raise InputError(f"{output}: exists and holds other files than {TASKS_FILE} and {CONFIG_FILE};"
                         " name a new folder")
    schema, records, models = labeling_queue(gold, corpus, model, params, context)
    version = ", ".join(f"{task}: {m.source}" for task, m in models.items()) if models else None
    with atomic_folder(output) as staging:
        (staging / CONFIG_FILE).write_text(labeling_config(schema), encoding="utf-8")
        write_json(label_studio_tasks(records, list(schema.tasks), version), staging / TASKS_FILE)
    print(f"{output / TASKS_FILE}: {len(records)} sentences to label, {suggestions(models)}")
    print(f"In Label Studio: create a project, paste {output / CONFIG_FILE} under Settings > Labeling Interface >"
          f" Code, import {output / TASKS_FILE}; when done, Export > JSON and run `stance labels import FILE`.")


@labels_app.command("import")
@one_line_errors
def labels_import(
    export: Path = typer.Argument(..., metavar="EXPORT", help="Label Studio's JSON export of the project."),
    gold: Path = GOLD_OPTION,
    corpus: Path = CORPUS_OPTION,
    replace: bool = typer.Option(
        False, "--replace", help="Take the imported labels where the gold file labels a sentence otherwise."
    ),
    passes: Path = typer.Option(
        None, "--passes", metavar="FOLDER",
        help="Also write each annotator's labels to FOLDER/<annotator>.jsonl (replaced), for `labels agreement`.",
    ),
    params: Path = PARAMS_OPTION,
) -> None:
    """Add the labels of a Label Studio JSON export to the gold file, with the checks of `labels check`.

    Cancelled (skipped) annotations are ignored. A task gets one gold record when its annotators
    agree, or from the annotation marked ground truth; tasks whose annotators disagree are listed
    and left out. Nothing is written when any record has a problem.
    """
    from pipeline.config import Schema, load_params
    from pipeline.files import refuse_overwrite, write_jsonl
    from pipeline.labels import add_to_gold
    from pipeline.labelstudio import pass_file, read_annotations
    from pipeline.segmentation import SegmentationSettings, Segmenter

    settings = load_params(params)
    schema = Schema.load(settings["data"]["schema"])
    imported = read_annotations(export, schema)
    if passes:
        for annotator in imported.passes:
            refuse_overwrite(passes / pass_file(annotator), [export, gold, corpus, params])
        passes.mkdir(parents=True, exist_ok=True)
    sentences = Segmenter(SegmentationSettings.from_params(settings)).segment_folder(corpus)
    merged = add_to_gold(gold, imported.records, sentences, schema, replace)
    print(f"{gold}: {merged.added} added, {merged.replaced} replaced, {merged.unchanged} unchanged"
          f" ({imported.unlabeled} task(s) without annotation); {merged.unlabeled} corpus sentence(s) still unlabeled")
    for disagreement in imported.disagreements:
        print(f"left out: {disagreement}")
    if imported.disagreements:
        print(f"{len(imported.disagreements)} task(s) left out: mark one annotation as ground truth in Label Studio"
              " (or agree on the labels), export again and import")
    if passes:
        for annotator, records in imported.passes.items():
            write_jsonl(records, passes / pass_file(annotator))
            print(f"{passes / pass_file(annotator)}: the {len(records)} annotation(s) of {annotator}")


MODEL_OPTION = typer.Option(
    ["models"], "--model", metavar="MODELS",
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
TASK_OPTION = typer.Option(None, "--task", metavar="TASK", help="Predict only this task (stance, bloc, claim); repeatable.")
TEXT_COLUMN_OPTION = typer.Option(
    None, "--text-column", metavar="COLUMN",
    help="Column of tables that holds the sentence [default: the one the models were trained on].")
MODEL_PARAMS_OPTION = typer.Option(
    None, "--params", metavar="FILE",
    help="Parameters (YAML) to predict with instead of those each model carries: columns, segmentation, label schema.")
ENCODING_OPTION = typer.Option("utf-8", "--encoding", metavar="ENCODING", help="Encoding of text inputs (.txt, .md, .csv, .tsv, .jsonl, -).")
BATCH_SIZE_OPTION = typer.Option(10_000, "--batch-size", min=1, metavar="ROWS", help="Rows read, predicted and written at a time.")
PROBS_OPTION = typer.Option(False, "--probs", help="Add one probability column per class (stance_p_favor, ...).")


def open_inputs(inputs: list[str], predictor, encoding: str, batch_size: int):
    """The checked inputs of `predict` and `evaluate`, read as the predictor's models were trained:
    documents segmented alike, a table's text as long as a document (`segment.max_chars`), no longer."""
    from pipeline.predict import Inputs, segmenter_factory
    from pipeline.segmentation import SegmentationSettings
    from pipeline.tables import ReadOptions

    settings = predictor.params
    max_chars = SegmentationSettings.from_params(settings).max_chars
    options = ReadOptions(predictor.text_column, encoding, batch_size, max_chars)
    return Inputs.open(inputs, options, segmenter_factory(settings), predictor.target)


def given_params(params: Path | None) -> dict | None:
    """The parameters file of `--params`, read; None without one."""
    from pipeline.config import load_params

    return load_params(params) if params else None


@app.command()
@one_line_errors
def predict(
    inputs: list[str] = typer.Argument(
        ..., metavar="INPUTS", help="Files, directories (every supported file inside) or - (standard input, one sentence per line)."
    ),
    output: Path = typer.Option(
        None, "--output", "-o", metavar="FILE", help="Output file: .csv, .jsonl or .parquet (format from the extension); CSV on standard output without it."
    ),
    model: list[str] = MODEL_OPTION,
    fast: bool = FAST_OPTION,
    task: list[str] = TASK_OPTION,
    text_column: str = TEXT_COLUMN_OPTION,
    probs: bool = PROBS_OPTION,
    prefix: str = typer.Option(
        "", "--prefix", metavar="PREFIX",
        help="Prefix of the added columns' names (predicted_ gives predicted_stance, ...), so that input columns"
        " of the plain names, such as gold labels, are kept."),
    encoding: str = ENCODING_OPTION,
    batch_size: int = BATCH_SIZE_OPTION,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
    params: Path = MODEL_PARAMS_OPTION,
) -> None:
    """Label every sentence with stance, bloc and claim type, each with its probability.

    Documents (.txt, .md) are segmented like the training corpus into rows of id, doc, index, \
start, end, date and text; tables (.csv, .tsv, .jsonl, .parquet) have one sentence per row and \
keep all their columns.

    The output has the union of the inputs' columns, an input_file column when there are several \
inputs, then stance, stance_p, bloc, bloc_p, claim and claim_p (an input with a column of one of these \
names is refused: see --prefix). A blank text gets empty labels. Models trained with a target column \
read it from every input. The models carry the settings they were trained with (columns, segmentation, \
labels), so this runs from any folder. An output file appears only when the run succeeds, and never \
replaces an input.
    """
    from pipeline.predict import load_predictor, predict_files, show_progress
    from pipeline.tables import check_output, expand_inputs

    check_output(output, inputs)
    files = expand_inputs(inputs)  # a missing input fails before the models load
    predictor = load_predictor(given_params(params), model_sources(model, fast), task, text_column, probs)
    predictor.prefix = prefix
    sources = open_inputs(files, predictor, encoding, batch_size)
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
    params: Path = MODEL_PARAMS_OPTION,
) -> None:
    """Label a corpus on Apache Spark, with the same models and labels as `stance predict`.

    The output has every input column, then the columns `stance predict` adds. Each partition \
is predicted in batches by the executors; with document columns (doc, index), each document \
in one batch, so the context features see it whole. The output folder appears only when the \
run succeeds.
    """
    from pipeline.predict import load_predictor
    from pipeline.spark import check_run, spark_predict as predict_on_spark

    kind = check_run(source, output, kind)  # before the models load
    predictor = load_predictor(given_params(params), model_sources(model, fast), task, text_column, probs)
    predict_on_spark(source, output, predictor, master, kind, batch_size)


@app.command()
@one_line_errors
def segment(
    inputs: list[str] = typer.Argument(..., metavar="DOCUMENTS", help="Documents (.txt, .md) and folders of them."),
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
    from pipeline.segmentation import SegmentationSettings
    from pipeline.tables import ReadOptions

    settings = load_params(params)
    # A document is read as one batch, whatever the batch size says.
    options = ReadOptions("text", encoding, 1, SegmentationSettings.from_params(settings).max_chars)
    sources = Inputs.open(documents, options, segmenter_factory(settings))
    with open_output(output, DOCUMENT_COLUMNS) as writer:
        for source in sources.readers.values():
            for batch in source.batches():
                writer.write(batch)


@app.command()
@one_line_errors
def evaluate(
    file: str = typer.Argument(..., metavar="FILE", help="A table (.csv, .tsv, .jsonl, .parquet) with the text and gold label columns."),
    model: list[str] = MODEL_OPTION,
    fast: bool = FAST_OPTION,
    task: list[str] = TASK_OPTION,
    text_column: str = TEXT_COLUMN_OPTION,
    encoding: str = ENCODING_OPTION,
    batch_size: int = BATCH_SIZE_OPTION,
    json_out: Path = typer.Option(None, "--json", metavar="FILE", help="Also write the figures to this JSON file."),
    params: Path = MODEL_PARAMS_OPTION,
) -> None:
    """Predict on a file with gold labels and print per task macro-F1, accuracy, per-class scores
    and, where it is the task's headline, F_avg (mean F1 of the stance-taking classes)."""
    from rich.console import Console

    from pipeline.files import refuse_overwrite, write_json
    from pipeline.predict import evaluate_file, gold_tasks, load_predictor, score_tables
    from pipeline.tables import expand_inputs

    if json_out:
        if not json_out.parent.is_dir():
            raise InputError(f"{json_out}: output directory {json_out.parent} does not exist")
        refuse_overwrite(json_out, [file, *([params] if params else [])])
    if len(expand_inputs([file])) != 1 or Path(file).is_dir():
        raise InputError(f"{file}: a directory; give one file")
    predictor = load_predictor(given_params(params), model_sources(model, fast), task, text_column, probs=False)
    source = open_inputs([file], predictor, encoding, batch_size)
    tasks = gold_tasks(file, source.columns, predictor.models, task)
    predictor.models = {name: predictor.models[name] for name in tasks}
    results = evaluate_file(source, predictor, predictor.params)
    console = Console()
    for table in score_tables(results):
        console.print(table)
    if json_out:
        write_json(results, json_out)


def report_settings(params: Path | None, models: Path | None):
    """The parameters and label schema a report reads: from `params`, else from what the models
    carry, else from configs/params.yaml."""
    from pipeline.config import DEFAULT_PARAMS, Schema, load_params
    from pipeline.models import model_versions
    from pipeline.predict import carried_params

    carried = [version for version in model_versions(models) if version.params] if models and not params else []
    if carried:
        order = carried[0].params.get("tasks") or [version.task for version in carried]
        labels = {version.task: list(version.labels) for version in carried}
        tasks = {task: labels[task] for task in order if task in labels}
        settings = carried_params([(version.folder, version.params) for version in carried])
        return settings, Schema.from_mapping({"tasks": tasks, "rules": settings["rules"]}, models)
    if not params and not DEFAULT_PARAMS.is_file():
        raise InputError("no label schema: name the models that made the predictions with --model, or their"
                         " parameters with --params")
    settings = load_params(params or DEFAULT_PARAMS)
    return settings, Schema.load(settings["data"]["schema"])


REGISTERED_NAME = typer.Argument(..., metavar="NAME", help="Registered model name, e.g. natostance-stance.")


@models_app.command("list")
@one_line_errors
def models_list(name: str = REGISTERED_NAME) -> None:
    """List a registered model's versions, newest first: which is @champion, its candidate, headline
    score and labels, and why @champion moved to it or not."""
    from rich.console import Console
    from rich.table import Table

    from pipeline.tracking import versions

    rows = versions(name)
    table = Table(*rows[0], title=name)
    for row in rows:
        table.add_row(*row.values())
    Console().print(table)


@models_app.command("promote")
@one_line_errors
def models_promote(
    name: str = REGISTERED_NAME,
    version: str = typer.Argument(..., metavar="VERSION", help="The version to make @champion."),
) -> None:
    """Move @champion to a version by hand, whatever it scored (a retrain moves it only to a model
    at least as good on the same labels); the version's tags record the decision."""
    from pipeline.tracking import promote

    print(promote(name, version))


@app.command()
@one_line_errors
def report(
    predictions: Path = typer.Argument(..., metavar="PREDICTIONS", help="Predictions written by `stance predict` (.csv, .tsv, .jsonl, .parquet)."),
    output: Path = typer.Option(..., "--output", "-o", metavar="FILE", help="The HTML report to write."),
    model: Path = typer.Option(
        None, "--model", metavar="FOLDER",
        help="The models that made the predictions (a models directory or one model's folder), whose versions the"
        " report names from their MLmodel and model card [default: models, if there].",
    ),
    date_column: str = typer.Option(
        None, "--date-column", metavar="COLUMN", help="Column of the dates charted over time [default: date, if there]."),
    doc_column: str = typer.Option(
        None, "--doc-column", metavar="COLUMN", help="Column naming each row's document [default: doc or input_file, if there]."),
    text_column: str = typer.Option(
        None, "--text-column", metavar="COLUMN", help="Column of the sentences listed [default: the text column of --params]."),
    encoding: str = ENCODING_OPTION,
    params: Path = typer.Option(
        None, "--params", metavar="FILE",
        help="Parameters (YAML) naming the label schema [default: what the --model models carry, else"
        " configs/params.yaml]."),
) -> None:
    """A self-contained HTML report of predictions: stance by bloc, per document and over time, the
    sentences that take a side per bloc, and the models' versions."""
    from pipeline.config import Columns
    from pipeline.metrics import Headline
    from pipeline.report import ReportColumns, write_report

    if model and not model.is_dir():
        raise InputError(f"{model}: models directory does not exist")
    models = model or (Path("models") if Path("models").is_dir() else None)
    settings, schema = report_settings(params, models)
    sides = Headline.from_params("stance", settings).labels or tuple(s for s in schema.tasks["stance"] if s != "none")
    columns = ReportColumns(doc_column, date_column, text_column or Columns.from_params(settings).text, sides)
    write_report(predictions, output, schema.tasks, encoding, columns, models)
