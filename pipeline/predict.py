"""Batch prediction: each sentence of any input labeled with stance, bloc and claim type.

Rows stream through in batches (read, predict, write), so memory stays flat however large the
input. The output has the columns of every input (their union, in order of appearance), an
`input_file` column naming the input of each row when there are several inputs, then per task
the label and its probability (`stance`, `stance_p`, ...; with `probs`, one `stance_p_<label>`
column per class). An input with a column of the name of an added column is refused, so that no
input column (gold labels, say) is lost.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import InputError
from pipeline.tables import ReadOptions, expand_inputs, open_output, reader, require_column

INPUT_COLUMN = "input_file"
TEXT_HINT = "name the text column with --text-column"
TARGET_HINT = "the models label the stance toward the target this column names"


@dataclass
class Predictor:
    """Adds each task's predicted label and probability to a batch of sentences.

    The models see the text as `model_text`, with the document context columns (`group`, `order`)
    when a batch has them (context is taken within a batch). Rows whose text is empty or blank
    get empty labels. The labels keep the schema's `rules` (`pipeline.consistency`); each label's
    probability is its model's probability of that label.
    """

    models: dict[str, Any]
    text_column: str = "text"
    probs: bool = False
    model_text: str = "text"
    group: str | None = "doc"
    order: str | None = "index"
    target: str | None = None  # the stance target column, which the models read as it is
    rules: tuple = ()
    params: dict = field(default_factory=dict)  # the parameters it predicts with
    prefix: str = ""  # of the added columns' names

    @property
    def columns(self) -> list[str]:
        """The columns `labels` returns, in order."""
        return [
            self.prefix + name
            for task, model in self.models.items()
            for name in [task, f"{task}_p", *([f"{task}_p_{label}" for label in model.labels] if self.probs else [])]
        ]

    def model_input(self, frame: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
        """The rows to predict, in the columns the models were trained with."""
        texts = frame[self.text_column].iloc[rows].astype(str).to_numpy(dtype=object)
        inputs = pd.DataFrame({self.model_text: texts})
        if self.group in frame.columns:
            inputs[self.group] = frame[self.group].to_numpy()[rows]
        if self.order in frame.columns:
            inputs[self.order] = pd.to_numeric(pd.Series(frame[self.order].to_numpy()[rows]), errors="coerce")
        if self.target:
            inputs[self.target] = frame[self.target].to_numpy()[rows]
        return inputs

    @property
    def required(self) -> list[str]:
        """The input columns every row must have: the text, and the target of target models."""
        return [self.text_column, *([self.target] if self.target else [])]

    def labels(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The added columns for a batch (same row order and index)."""
        from pipeline.reuse import reused_fits  # scikit-learn: only once there is something to predict

        text = frame[self.text_column].fillna("").astype(str)
        rows = np.flatnonzero(text.str.strip().ne("").to_numpy())
        computed, decoded = {}, {}
        if len(rows):
            from pipeline.consistency import consistent_labels

            inputs = self.model_input(frame, rows)
            with reused_fits():  # the task models' equal vectorizers transform the batch once
                computed = {task: model.probabilities(inputs) for task, model in self.models.items()}
            decoded = consistent_labels(computed, {task: list(m.labels) for task, m in self.models.items()}, self.rules)
        added: dict[str, np.ndarray] = {}
        for task, model in self.models.items():
            probabilities = np.full((len(frame), len(model.labels)), np.nan)
            label, best = np.full(len(frame), None, dtype=object), np.full(len(frame), np.nan)
            if task in computed:
                probabilities[rows] = computed[task]
                label[rows] = decoded[task]
                columns = np.array([list(model.labels).index(value) for value in decoded[task]])
                best[rows] = computed[task][np.arange(len(rows)), columns]
            added[task], added[f"{task}_p"] = label, best
            if self.probs:
                added.update({f"{task}_p_{name}": probabilities[:, i] for i, name in enumerate(model.labels)})
        return pd.DataFrame(added, index=frame.index).add_prefix(self.prefix)

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The batch with the added columns."""
        return frame.assign(**self.labels(frame))


def load_predictor(params: dict | None, model_sources: list[str], tasks: list[str] | None, text_column: str | None,
                   probs: bool) -> Predictor:
    """A predictor with the models of `model_sources`, set up as they were trained (the parameters
    each model carries), or by `params` and checked against its label schema when given; the text
    is read from `text_column`, by default the one the models were trained on."""
    from pipeline.config import Columns, Schema
    from pipeline.models import load_models

    schema = Schema.load(params["data"]["schema"]) if params else None
    unknown = [task for task in tasks or [] if schema and task not in schema.tasks]
    if unknown:
        raise InputError(f"unknown task '{unknown[0]}' (the schema's tasks: {', '.join(schema.tasks)})")
    models = load_models(model_sources, schema.tasks if schema else None, list(dict.fromkeys(tasks)) if tasks else None)
    settings = params or carried_params([(model.source, model.params) for model in models.values()])
    columns = Columns.from_params(settings)
    rules = schema.rules if schema else Schema.from_mapping({"tasks": {t: list(m.labels) for t, m in models.items()},
                                                             "rules": settings["rules"]}, "the models' rules").rules
    return Predictor(models, text_column=text_column or columns.text, probs=probs, model_text=columns.text,
                     group=columns.group, order=columns.order, target=columns.target, rules=rules, params=settings)


def carried_params(carried: list[tuple[str, dict]]) -> dict:
    """The parameters that models were trained with, as (source, what the model carries) pairs,
    joined into one parameters mapping: they must agree on everything but each task's headline."""
    (first, first_params), *others = carried
    for source, params in carried:
        if not params:
            raise InputError(f"{source}: the model does not carry its settings (trained by an older"
                             " version): retrain it, or give the parameters it was trained with by --params")
    for source, params in others:
        for key in ("data", "segment", "rules"):
            if params[key] != first_params[key]:
                raise InputError(f"{source}: trained with other '{key}' settings than {first}")
    headlines = {task: spec for _, params in carried for task, spec in params["evaluate"]["headline"].items()}
    return {**first_params, "evaluate": {"headline": headlines}}


def segmenter_factory(params: dict) -> Callable:
    """A function returning the corpus segmenter, built (spaCy imported) on first use."""

    @cache
    def segmenter():
        from pipeline.segmentation import SegmentationSettings, Segmenter

        return Segmenter(SegmentationSettings.from_params(params))

    return segmenter


def coalesce(batches: Iterable[pd.DataFrame], size: int) -> Iterator[pd.DataFrame]:
    """Consecutive small batches with the same columns (one per document) joined up to `size` rows;
    a batch is never split, so a document keeps its sentences together."""
    pending: list[pd.DataFrame] = []
    rows = 0
    for batch in batches:
        if pending and (rows + len(batch) > size or not batch.columns.equals(pending[0].columns)):
            yield pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]
            pending, rows = [], 0
        pending.append(batch)
        rows += len(batch)
    if pending:
        yield pd.concat(pending, ignore_index=True) if len(pending) > 1 else pending[0]


class ProgressBar:
    """How much of the inputs has been read, how fast and how long the rest will take, and the
    sentences written, as a rich progress bar on standard error; silent when not enabled.

    The inputs are measured as their readers measure them (bytes of text files, rows of Parquet
    tables and of standard input): one bar per unit, so that a folder of CSV and Parquet files
    shows two. Standard input has no size: its bar counts rows and their rate, with no time left.
    """

    def __init__(self, enabled: bool, readers: list[Any]):
        self.enabled, self.readers, self.bar, self.tasks, self.rows = enabled, readers, None, {}, 0

    def __enter__(self) -> "ProgressBar":
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("predicting"), BarColumn(), TextColumn("{task.fields[amount]}"), TimeRemainingColumn(),
                TextColumn("{task.fields[written]}"), console=Console(stderr=True),
            )
            self.bar.start()
            for unit in dict.fromkeys(reader.unit for reader in self.readers):
                sizes = [reader.size() for reader in self.readers if reader.unit == unit]
                total = None if None in sizes else sum(sizes)
                self.tasks[unit] = self.bar.add_task("predicting", total=total, unit=unit, amount="", written="")
            self.update()
        return self

    def update(self) -> None:
        """Show how much the readers have consumed, and how fast."""
        if self.bar:
            for unit, task in self.tasks.items():
                self.bar.update(task, completed=sum(reader.consumed for reader in self.readers if reader.unit == unit))
            for task in self.bar.tasks:
                self.bar.update(task.id, amount=measured(task.completed, task.total, task.speed, task.fields["unit"]))

    def wrote(self, rows: int) -> None:
        """`rows` more sentences written."""
        if self.bar:
            self.rows += rows
            self.bar.update(next(iter(self.tasks.values())), written=f"{self.rows:,} sentences")
            self.update()

    def __exit__(self, *exc) -> None:
        if self.bar:
            self.update()
            self.bar.stop()


def measured(done: float, total: float | None, speed: float | None, unit: str) -> str:
    """How much has been read, of how much and how fast, in bytes ('1.2 MB of 4.0 MB, 300.0 kB/s')
    or rows ('1,200 of 4,000 rows, 300 rows/s')."""
    from rich.filesize import decimal

    def number(value: float) -> str:
        return decimal(int(value)) if unit == "bytes" else f"{int(value):,}"

    suffix = "" if unit == "bytes" else " rows"
    read = number(done) + (f" of {number(total)}" if total is not None else "") + suffix
    return read + (f", {number(speed)}{suffix}/s" if speed else "")


@dataclass
class Inputs:
    """The checked inputs of a run: a reader per input and the columns of each."""

    readers: dict[str, Any]
    found: dict[str, list[str]]

    @classmethod
    def open(cls, inputs: list[str], options: ReadOptions, segmenter: Callable, target: str | None = None) -> "Inputs":
        """Check every input (it exists, its format is known, it has the text column and the
        models' `target` column), before any output is written."""
        readers = {name: reader(name, options, segmenter) for name in expand_inputs(inputs)}
        found = {name: source.columns() for name, source in readers.items()}
        for name, columns in found.items():
            require_column(name, columns, options.text_column, TEXT_HINT)
            if target:
                require_column(name, columns, target, TARGET_HINT)
        return cls(readers, found)

    @property
    def columns(self) -> list[str]:
        """The union of the inputs' columns, in order of appearance."""
        return list(dict.fromkeys(column for columns in self.found.values() for column in columns))

    def refuse_columns(self, added: list[str]) -> None:
        """Fail when an input has a column named like one of the `added` columns, which would replace it."""
        for name, columns in self.found.items():
            taken = [column for column in columns if column in added]
            if taken:
                raise InputError(f"{name}: has column(s) {', '.join(taken)}, which the predictions would replace;"
                                 " rename or drop them first")


def predict_files(inputs: Inputs, target: Path | None, predictor: Predictor, batch_size: int, show_progress: bool) -> int:
    """Predict every sentence of `inputs` into `target` (None: CSV on standard output); the row count."""
    tagged = len(inputs.readers) > 1
    added = ([INPUT_COLUMN] if tagged else []) + predictor.columns
    inputs.refuse_columns(added)
    output_columns = inputs.columns + added

    def batches() -> Iterator[pd.DataFrame]:
        for name, source in inputs.readers.items():
            for batch in source.batches():
                yield batch.assign(**{INPUT_COLUMN: name}) if tagged else batch

    rows = 0
    bar = ProgressBar(show_progress, list(inputs.readers.values()))
    with open_output(target, output_columns) as writer, bar:
        for batch in coalesce(batches(), batch_size):
            writer.write(predictor.predict(batch).reindex(columns=output_columns))
            rows += len(batch)
            bar.wrote(len(batch))
        if rows == 0:
            empty = pd.DataFrame({column: pd.Series([], dtype=object) for column in inputs.columns})
            writer.write(predictor.predict(empty).reindex(columns=output_columns))
    return rows


def show_progress(quiet: bool) -> bool:
    """A progress bar only for a person watching: standard error is a terminal and not --quiet."""
    return not quiet and sys.stderr.isatty()


def gold_tasks(name: str, columns: list[str], schema_tasks: Iterable[str], tasks: list[str] | None) -> list[str]:
    """The tasks whose gold label column the file carries (of `tasks`, else of the schema)."""
    wanted = list(dict.fromkeys(tasks)) if tasks else list(schema_tasks)
    found = [task for task in wanted if task in columns]
    if not found:
        raise InputError(
            f"{name}: no gold label column (looked for {', '.join(wanted)}; its columns: {', '.join(map(str, columns))})"
        )
    return found


def evaluate_file(inputs: Inputs, predictor: Predictor, params: dict) -> dict[str, dict]:
    """Per task: the number of rows with a gold label, the scores of the predictions on them with
    each class's support, and, for models with a target column, the same per target (`by_target`).

    Rows with an empty gold label do not count; a gold label outside the schema is an error.
    """
    from pipeline.metrics import Headline, scores

    ((name, source),) = inputs.readers.items()
    gold: dict[str, list] = {task: [] for task in predictor.models}
    predicted: dict[str, list] = {task: [] for task in predictor.models}
    targets: dict[str, list] = {task: [] for task in predictor.models}
    offset = 0
    for batch in source.batches():
        labels = predictor.labels(batch)
        for task, model in predictor.models.items():
            truth = batch[task].fillna("").astype(str).str.strip()
            known = truth.ne("").to_numpy()
            outside = known & ~truth.isin(model.labels).to_numpy()
            if outside.any():
                row = int(np.flatnonzero(outside)[0])
                raise InputError(
                    f"{name}: row {offset + row + 1}: column '{task}': label '{truth.iat[row]}'"
                    f" is not one of {', '.join(model.labels)}"
                )
            gold[task].append(truth.to_numpy()[known])
            predicted[task].append(labels[predictor.prefix + task].fillna("").to_numpy()[known])
            if predictor.target:
                targets[task].append(batch[predictor.target].astype(str).to_numpy()[known])
        offset += len(batch)
    results = {}
    for task, model in predictor.models.items():
        if not any(len(part) for part in gold[task]):
            raise InputError(f"{name}: column '{task}' has no gold label")
        headline = Headline.from_params(task, params)
        f_avg_labels = headline.labels if headline.metric == "f_avg" else ()

        def scored(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
            support = {f"support.{label}": int((y_true == label).sum()) for label in model.labels}
            return {"n": int(len(y_true)), **scores(y_true, y_pred, list(model.labels), f_avg_labels), **support}

        y_true, y_pred = np.concatenate(gold[task]), np.concatenate(predicted[task])
        results[task] = scored(y_true, y_pred)
        if predictor.target:
            values = np.concatenate(targets[task])
            results[task]["by_target"] = {value: scored(y_true[values == value], y_pred[values == value])
                                          for value in sorted(set(values))}
    return results


def score_tables(results: dict[str, dict]) -> list:
    """Rich tables of evaluation results: headline figures per task (and per target), then
    per-class scores with their support."""
    from rich.table import Table

    overview = Table("task", "target", "sentences", "macro-F1", "accuracy", "F_avg", title="evaluation")
    classes = Table("task", "class", "precision", "recall", "F1", "support", title="per class")

    def figures_row(task: str, target: str, figures: dict) -> None:
        f_avg = f"{figures['f_avg']:.3f}" if "f_avg" in figures else "-"
        overview.add_row(task, target, str(figures["n"]), f"{figures['macro_f1']:.3f}", f"{figures['accuracy']:.3f}",
                         f_avg)

    for task, figures in results.items():
        for target, by_target in figures.get("by_target", {}).items():
            figures_row(task, target, by_target)
        figures_row(task, "all" if "by_target" in figures else "-", figures)
        for name in (key.removeprefix("f1.") for key in figures if key.startswith("f1.")):
            per_class = (f"{figures[f'{metric}.{name}']:.3f}" for metric in ("precision", "recall", "f1"))
            classes.add_row(task, name, *per_class, str(figures[f"support.{name}"]))
    return [overview, classes]
