"""Classification metrics of a task, with bootstrap 95% intervals.

Point estimates come from `sklearn.metrics`. The bootstrap resamples sentences; its statistics
are computed from per-class counts of all resamples at once, which gives the same values as
`sklearn.metrics` on each resample (tested) at a fraction of the cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, make_scorer, precision_recall_fscore_support


@dataclass(frozen=True)
class Headline:
    """The metric that ranks candidates of a task: macro-F1, or F_avg over some classes."""

    metric: str = "macro_f1"
    labels: tuple[str, ...] = ()

    @classmethod
    def from_params(cls, task: str, params: dict) -> "Headline":
        spec = (params.get("evaluate", {}).get("headline") or {}).get(task) or {}
        return cls(spec.get("metric", "macro_f1"), tuple(spec.get("labels", ())))

    def score(self, y_true, y_pred, labels: list[str]) -> float:
        if self.metric == "f_avg":
            return f_avg(y_true, y_pred, list(self.labels))
        return float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0))

    def scorer(self, labels: list[str]):
        return make_scorer(lambda y_true, y_pred: self.score(y_true, y_pred, labels))


def f_avg(y_true, y_pred, labels: list[str]) -> float:
    """SemEval-2016 stance metric: mean F1 of the given classes (favor and against)."""
    return float(np.mean(f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0)))


def f_avg_at_share(y_true, y_pred, labels: list[str], share: float) -> float:
    """F_avg with the sentences weighted so that those whose gold label is one of `labels` (the
    stance-taking ones) make up `share` of the total, whatever their share in `y_true`; so
    that test sets with different mixes give comparable figures."""
    y_true = np.asarray(y_true)
    taking = np.isin(y_true, labels)
    observed = taking.mean()
    if observed in (0.0, 1.0):
        return f_avg(y_true, y_pred, labels)
    weights = np.where(taking, share / observed, (1 - share) / (1 - observed))
    return float(np.mean(f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0, sample_weight=weights)))


def scores(y_true, y_pred, labels: list[str], f_avg_labels: tuple[str, ...] = ()) -> dict[str, float]:
    """macro-F1, accuracy, F_avg (when given classes) and per-class precision, recall and F1."""
    precision, recall, f1, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    result = {"macro_f1": float(np.mean(f1)), "accuracy": float(accuracy_score(y_true, y_pred))}
    if f_avg_labels:
        result["f_avg"] = f_avg(y_true, y_pred, list(f_avg_labels))
    for label, p, r, f in zip(labels, precision, recall, f1):
        result.update({f"precision.{label}": float(p), f"recall.{label}": float(r), f"f1.{label}": float(f)})
    return result


def bootstrap_intervals(
    y_true, y_pred, labels: list[str], f_avg_labels: tuple[str, ...] = (), resamples: int = 1000, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """Percentile 95% interval of every statistic of `scores`, resampling sentences."""
    codes = {label: number for number, label in enumerate(labels)}
    truth = np.array([codes[v] for v in y_true])
    predicted = np.array([codes.get(v, -1) for v in y_pred])
    rows = np.random.default_rng(seed).integers(0, len(truth), size=(resamples, len(truth)))
    t, p = truth[rows], predicted[rows]
    stats = {"accuracy": (t == p).mean(axis=1)}
    f1_by_label = {}
    for label, code in codes.items():
        true_positive = ((t == code) & (p == code)).sum(axis=1)
        predicted_n, true_n = (p == code).sum(axis=1), (t == code).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            stats[f"precision.{label}"] = np.where(predicted_n > 0, true_positive / predicted_n, 0.0)
            stats[f"recall.{label}"] = np.where(true_n > 0, true_positive / true_n, 0.0)
            f1_by_label[label] = np.where(predicted_n + true_n > 0, 2 * true_positive / (predicted_n + true_n), 0.0)
        stats[f"f1.{label}"] = f1_by_label[label]
    stats["macro_f1"] = np.mean([f1_by_label[label] for label in labels], axis=0)
    if f_avg_labels:
        stats["f_avg"] = np.mean([f1_by_label[label] for label in f_avg_labels], axis=0)
    return {name: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) for name, v in stats.items()}
