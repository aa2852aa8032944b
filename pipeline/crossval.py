"""Cross-validated predictions of a candidate, with hyper-parameters searched inside each fold."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_validate
from sklearn.utils.metadata_routing import get_routing_for_object

from pipeline.config import Schema
from pipeline.errors import InputError

sklearn.set_config(enable_metadata_routing=True)


def load_table(path: str | Path, schema: Schema) -> pd.DataFrame:
    """A labeled data set (Parquet written by `dataset`, CSV or JSONL) with label names as strings."""
    from datasets import ClassLabel, Dataset

    path = Path(path)
    readers = {".parquet": Dataset.from_parquet, ".csv": Dataset.from_csv, ".jsonl": Dataset.from_json}
    if path.suffix not in readers:
        raise InputError(f"{path}: unknown data set format (use .parquet, .csv or .jsonl)")
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
    return frame


@dataclass
class FoldPredictions:
    """Out-of-fold class probabilities of one protocol (one block of rows per repeat)."""

    probabilities: np.ndarray  # (repeats * rows, classes), rows in table order within a repeat
    classes: list[str]
    predict_seconds: float
    fold_params: list[dict]

    def labels(self) -> np.ndarray:
        return np.asarray(self.classes)[self.probabilities.argmax(axis=1)]


def searched(estimator, grid: dict, inner_folds: int, scorer):
    """The estimator wrapped in a grouped GridSearchCV when it has hyper-parameters to search."""
    if not grid:
        return estimator
    return GridSearchCV(estimator, grid, cv=GroupKFold(n_splits=inner_folds), scoring=scorer)


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
        fold_params.append(getattr(fitted, "best_params_", {}))
    return FoldPredictions(probabilities, classes, seconds, fold_params)
