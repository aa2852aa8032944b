"""Cross-validated predictions of a candidate, with hyper-parameters searched inside each fold."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold, cross_validate
from sklearn.utils.metadata_routing import get_routing_for_object

from pipeline.candidates import Candidate, CandidateSettings, build
from pipeline.config import Columns, Schema
from pipeline.errors import InputError
from pipeline.examples import WithExamples
from pipeline.pertarget import PerTarget

sklearn.set_config(enable_metadata_routing=True)


def load_table(path: str | Path, schema: Schema) -> pd.DataFrame:
    """A labeled data set (Parquet written by `dataset`, CSV or JSONL) with label names as strings;
    `InputError` naming the file and row of a label outside the schema."""
    import pyarrow.parquet
    from datasets import ClassLabel, Dataset

    path = Path(path)
    # Parquet is read as one Arrow table: its metadata keeps the labels' ClassLabel features, and
    # a data set with no rows (no written examples) reads too.
    readers = {".parquet": lambda file: Dataset(pyarrow.parquet.read_table(file)), ".csv": Dataset.from_csv,
               ".jsonl": Dataset.from_json}
    if path.suffix not in readers:
        raise InputError(f"{path}: unknown data set format (use .parquet, .csv or .jsonl)")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    dataset = readers[path.suffix](str(path))
    missing = [task for task in schema.tasks if task not in dataset.column_names]
    if missing:
        raise InputError(f"{path}: no label column(s) {missing} (columns: {', '.join(dataset.column_names)})")
    frame = dataset.to_pandas()
    for task in schema.tasks:
        feature = dataset.features[task]
        if isinstance(feature, ClassLabel):
            frame[task] = [feature.int2str(int(v)) for v in frame[task]]
        frame[task] = frame[task].astype(str)
        unknown = np.flatnonzero(~frame[task].isin(schema.tasks[task]))
        if len(unknown):
            row = int(unknown[0])
            raise InputError(f"{path}: row {row + 1}: {task}={frame[task].iloc[row]!r} is not one of"
                             f" {list(schema.tasks[task])}")
    return frame


def load_training_tables(dataset: Path, examples: Path | None, schema: Schema,
                         columns: Columns) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The labeled corpus and the written training examples (no rows without an examples file),
    each checked for the columns the models read."""
    table = load_table(dataset, schema)
    extra = load_table(examples, schema) if examples else pd.DataFrame(columns=[*columns.inputs(), *schema.tasks])
    for path, frame in ((dataset, table), (examples, extra)):
        missing = [column for column in columns.inputs() if column not in frame.columns]
        if missing:
            raise InputError(f"{path}: no column '{missing[0]}' (columns: {', '.join(frame.columns)})")
    return table, extra


@dataclass
class FoldPredictions:
    """Out-of-fold class probabilities of one protocol (one block of rows per repeat)."""

    probabilities: np.ndarray  # (repeats * rows, classes), rows in table order within a repeat
    classes: list[str]
    predict_seconds: float
    fold_params: list[dict]

    def labels(self) -> np.ndarray:
        return np.asarray(self.classes)[self.probabilities.argmax(axis=1)]


def searched(estimator, grid: dict, inner_folds: int, scorer, grouped: bool = True):
    """The estimator with the grid's one-value entries set, wrapped in a GridSearchCV when an entry
    has several values to search (folds grouped, or stratified by label when not `grouped`).

    The grid names the steps of a candidate's Pipeline; with written examples it is addressed to
    the Pipeline inside `WithExamples`, so that the search validates on corpus rows only.
    """
    if isinstance(estimator, WithExamples):
        grid = {f"estimator__{name}": values for name, values in grid.items()}
    fixed = {name: values[0] for name, values in grid.items() if len(values) == 1}
    searched_grid = {name: values for name, values in grid.items() if len(values) > 1}
    estimator = estimator.set_params(**fixed) if fixed else estimator
    if not searched_grid:
        return estimator
    cv = GroupKFold(n_splits=inner_folds) if grouped else StratifiedKFold(n_splits=inner_folds)
    return GridSearchCV(estimator, searched_grid, cv=cv, scoring=scorer)


def candidate_model(candidate: Candidate, settings: CandidateSettings, columns: Columns, seed: int, inner_folds: int,
                    scorer, examples: pd.DataFrame | None = None, task: str | None = None):
    """The candidate ready to fit: built, its fixed hyper-parameters set, the others searched, and
    one such model per target when the candidate is `per_target`."""
    model = searched(build(candidate, settings, columns, seed, examples, task), candidate.settings(), inner_folds,
                     scorer, grouped=bool(columns.group))
    return PerTarget(model, columns.target) if candidate.per_target else model


def chosen_params(model) -> dict:
    """The hyper-parameters a fitted search chose, named as in its candidate's grid (per target for
    a per-target model)."""
    if isinstance(model, PerTarget):
        return {target: chosen_params(fitted) for target, fitted in model.estimators_.items()}
    if not hasattr(model, "best_params_"):
        return {}
    prefix = "estimator__" if isinstance(model.estimator, WithExamples) else ""
    return {name.removeprefix(prefix): value for name, value in model.best_params_.items()}


def fitted_pipeline(model):
    """The fitted Pipeline inside a fitted model: the best of a search, without its examples (for
    a per-target model, itself holding those of each target)."""
    if isinstance(model, PerTarget):
        return model.with_estimators(fitted_pipeline)
    model = getattr(model, "best_estimator_", model)
    return model.estimator_ if isinstance(model, WithExamples) else model


def passage_splits(corpus_rows: int, example_groups: np.ndarray, folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Splits of a table of `corpus_rows` corpus rows followed by the written examples: each fold
    tests on the examples of some passages and trains on the corpus and every other passage."""
    examples = np.arange(len(example_groups))
    return [
        (np.concatenate([np.arange(corpus_rows), corpus_rows + train]), corpus_rows + test)
        for train, test in GroupKFold(n_splits=folds).split(examples, groups=example_groups)
    ]


def group_params(groups, estimator, cv=None) -> dict:
    """`{"groups": groups}` when the splitter or the estimator asks for groups, else nothing."""
    wanted = get_routing_for_object(estimator).consumes("fit", ["groups"])
    if cv is not None:
        wanted = wanted or get_routing_for_object(cv).consumes("split", ["groups"])
    return {"groups": groups} if wanted else {}


def cross_validated(estimator, X: pd.DataFrame, y: np.ndarray, groups: np.ndarray, cv,
                    classes: list[str]) -> FoldPredictions:
    """Fit on each training fold (inner search included) and predict the held-out rows."""
    result = cross_validate(
        estimator, X, y, cv=cv, params=group_params(groups, estimator, cv), return_estimator=True,
        return_indices=True, scoring=None, error_score="raise",
    )
    n_repeats = max(1, sum(len(t) for t in result["indices"]["test"]) // len(X))
    probabilities = np.zeros((n_repeats * len(X), len(classes)))
    seen = np.zeros(len(X), dtype=int)
    seconds = 0.0
    fold_params = []
    for fitted, test in zip(result["estimator"], result["indices"]["test"]):
        start = time.perf_counter()
        fold = fitted.predict_proba(X.iloc[test])
        seconds += time.perf_counter() - start
        rows = seen[test] * len(X) + test
        seen[test] += 1
        for column, label in enumerate(fitted.classes_):
            probabilities[rows, classes.index(label)] = fold[:, column]
        fold_params.append(chosen_params(fitted))
    return FoldPredictions(probabilities, classes, seconds, fold_params)
