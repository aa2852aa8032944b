"""What the evaluation reports about one candidate's cross-validated predictions."""

from __future__ import annotations

import itertools
import time

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.metrics import Headline, bootstrap_intervals, scores


@dataclass
class Evaluation:
    """Metrics (with 95% intervals), confusion pairs and errors of out-of-fold predictions."""

    metrics: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    headline: float
    predicted: np.ndarray
    confidence: np.ndarray

    @classmethod
    def of_labels(cls, gold: np.ndarray, predicted: np.ndarray, confidence: np.ndarray, labels: list[str],
                  headline: Headline, resamples: int, seed: int) -> "Evaluation":
        """Of given predicted labels (e.g. decoded jointly with another task's)."""
        metrics = scores(gold, predicted, labels, headline.labels)
        intervals = bootstrap_intervals(gold, predicted, labels, headline.labels, resamples, seed)
        return cls(metrics, intervals, headline.score(gold, predicted, labels), predicted, confidence)

    def flat_metrics(self, prefix: str) -> dict[str, float]:
        """Metrics and interval bounds as flat names (`logo.macro_f1`, `logo.macro_f1.ci_low`)."""
        flat = {f"{prefix}.{name}": value for name, value in self.metrics.items()}
        for name, (low, high) in self.intervals.items():
            flat[f"{prefix}.{name}.ci_low"] = low
            flat[f"{prefix}.{name}.ci_high"] = high
        return flat

    def confusion_pairs(self, gold: np.ndarray) -> pd.DataFrame:
        """One row per sentence: actual and predicted label (DVC's `confusion` plot data)."""
        return pd.DataFrame({"actual": gold, "predicted": self.predicted})

    def errors(self, table: pd.DataFrame, gold: np.ndarray, keep: list[str], limit: int) -> pd.DataFrame:
        """Misclassified sentences, the most confident mistakes first."""
        frame = table[[c for c in keep if c in table.columns]].copy()
        frame["gold"], frame["predicted"], frame["probability"] = gold, self.predicted, self.confidence.round(4)
        wrong = frame[frame["gold"] != frame["predicted"]]
        return wrong.sort_values("probability", ascending=False, kind="stable").head(limit).reset_index(drop=True)


SPEED_ROWS = 300  # distinct sentences a prediction speed is measured on
_MEASUREMENTS = itertools.count()


def prediction_speed(model, table: pd.DataFrame, text_column: str, seed: int, rows: int = SPEED_ROWS) -> float:
    """Sentences per second a fitted model predicts on `rows` sentences of `table` made distinct
    (a reference number appended), so that no per-text feature cache helps."""
    sample = table.sample(rows, replace=True, random_state=seed).reset_index(drop=True)
    run = next(_MEASUREMENTS)  # texts of an earlier measurement in this process are cached
    sample[text_column] = sample[text_column].astype(str) + [f" (ref {run}.{i})" for i in range(rows)]
    started = time.perf_counter()
    model.predict_proba(sample)
    return rows / (time.perf_counter() - started)
