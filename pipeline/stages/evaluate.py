"""Stage `evaluate`: cross-validate every candidate for every task, choose the best, track it all.

Headline protocol: leave-one-document-out (a model never sees the article it is tested on);
secondary: repeated stratified k-fold, for the chosen candidate with its default
hyper-parameters. In the headline protocol hyper-parameters are searched by a grouped inner
cross-validation inside each training fold, never on the evaluation fold. Writes the DVC metrics, the
confusion plot data and the error tables, and one MLflow child run per task and candidate.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import LeaveOneGroupOut, RepeatedStratifiedKFold
from threadpoolctl import threadpool_limits

from pipeline import tracking
from pipeline.candidates import CandidateSettings, Columns, MissingExtra, build
from pipeline.config import Schema, load_params
from pipeline.crossval import cross_validated, load_table, searched
from pipeline.errors import InputError
from pipeline.evaluation import Evaluation, repeated_scores
from pipeline.files import atomic_path, write_json
from pipeline.metrics import Headline
from pipeline.reuse import reused_fits


METRIC_KEYS = ("chosen", "headline_metric", "leave_one_document_out", "ci95_low", "ci95_high",
               "repeated_stratified_kfold", "candidates")


def jobs(candidate, params: dict) -> int:
    """Parallel fits for a candidate: one process for embeddings, whose model loads once per process."""
    return 1 if "embeddings" in candidate.features else params["train"]["n_jobs"]


def confusion_figure(gold, predicted, labels: list[str], title: str):
    import matplotlib

    matplotlib.use("Agg")
    from sklearn.metrics import ConfusionMatrixDisplay

    display = ConfusionMatrixDisplay.from_predictions(gold, predicted, labels=labels, colorbar=False)
    display.ax_.set_title(title)
    display.figure_.tight_layout()
    return display.figure_


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        frame.to_csv(temporary, index=False)


def log_candidate(parent_id: str, name: str, candidate, evaluation: Evaluation, predictions, table: pd.DataFrame,
                  gold, labels: list[str], errors: pd.DataFrame, tags: dict, dataset: Path, task: str) -> str:
    """The candidate's MLflow child run: parameters, metrics, confusion image, error table."""
    import matplotlib.pyplot as plt

    figure = confusion_figure(gold, evaluation.predicted, labels, f"{name} (leave-one-document-out)")
    speed = len(table) / max(predictions.predict_seconds, 1e-9)
    try:
        return tracking.log_candidate(
            parent_id, name, {"task": task, **candidate.params(), "protocol": "leave-one-document-out"},
            {**evaluation.flat_metrics("logo"), "headline": evaluation.headline, "sentences_per_second": speed},
            {**tags, "dvc_stage": "evaluate", "task": task}, figure, errors, table, str(dataset), task,
        )
    finally:
        plt.close(figure)


def evaluate(dataset: Path, params: dict, outputs: argparse.Namespace) -> dict:
    """Evaluate all candidates of all tasks; return the summary the `train` stage reads."""
    schema = Schema.load(params["data"]["schema"])
    columns = Columns.from_params(params)
    settings = CandidateSettings.load(params["train"]["candidates"])
    table = load_table(dataset, schema)
    for column in filter(None, [columns.text, columns.group, columns.target]):
        if column not in table.columns:
            raise InputError(f"{dataset}: no column '{column}' (columns: {', '.join(table.columns)})")
    seed, section = params["seed"], params["evaluate"]
    groups = table[columns.group].to_numpy()
    error_columns = ["id", columns.group, columns.text]
    tags = {"git_commit": tracking.git_commit(), "labels_hash": tracking.labels_hash(table, "id", list(schema.tasks))}
    summary: dict = {"tasks": {}}
    with tracking.parent_run("evaluate", tags, params) as parent_id:
        summary["parent_run_id"] = parent_id
        for task, labels in schema.tasks.items():
            labels, gold, headline = list(labels), table[task].to_numpy(), Headline.from_params(task, params)
            results = {}
            for candidate in settings.candidates:
                try:
                    model = searched(build(candidate, settings, columns, seed), candidate.grid,
                                     params["train"]["inner_folds"], headline.scorer(labels))
                except MissingExtra as missing:
                    print(f"evaluate: skipping {task}/{candidate.name}: {missing}", file=sys.stderr)
                    continue
                started = time.perf_counter()
                try:
                    predictions = cross_validated(model, table, gold, groups, LeaveOneGroupOut(), labels,
                                                  jobs(candidate, params))
                except ValueError as unfit:  # e.g. too few examples of a class for the SVM's calibration folds
                    print(f"evaluate: skipping {task}/{candidate.name}: cannot be fit on these folds: {unfit}",
                          file=sys.stderr)
                    continue
                evaluation = Evaluation.of(gold, predictions, labels, headline, section["bootstrap_resamples"], seed)
                errors = evaluation.errors(table, gold, error_columns, section["errors"])
                name = f"{task}/{candidate.name}"
                run_id = log_candidate(parent_id, name, candidate, evaluation, predictions, table, gold, labels,
                                       errors, tags, dataset, task)
                results[candidate.name] = (candidate, evaluation, run_id, predictions, errors)
                print(f"evaluate: {name:40s} {headline.metric}={evaluation.headline:.3f}"
                      f" ({time.perf_counter() - started:.1f} s)")
            chosen, evaluation, run_id, predictions, errors = max(results.values(), key=lambda r: r[1].headline)
            # Default hyper-parameters here (no inner search): nothing is tuned, and it stays quick.
            repeated = cross_validated(
                build(chosen, settings, columns, seed), table, gold, groups,
                RepeatedStratifiedKFold(n_splits=section["folds"], n_repeats=section["repeats"], random_state=seed),
                labels, jobs(chosen, params),
            )
            write_csv(evaluation.confusion_pairs(gold), outputs.plots / f"confusion-{task}.csv")
            write_csv(errors, outputs.errors / f"{task}.csv")
            summary["tasks"][task] = {
                "chosen": chosen.name,
                "headline_metric": headline.metric,
                "leave_one_document_out": evaluation.metrics,
                "ci95_low": {metric: low for metric, (low, _) in evaluation.intervals.items()},
                "ci95_high": {metric: high for metric, (_, high) in evaluation.intervals.items()},
                "repeated_stratified_kfold": repeated_scores(gold, repeated, labels, headline),
                "candidates": {name: round(r[1].headline, 4) for name, r in results.items()},
            }
            print(f"evaluate: {task} chose {chosen.name}")
            summary["tasks"][task].update(
                run_id=run_id, grid_choices=predictions.fold_params, rows=len(table),
                groups=int(pd.Series(groups).nunique()), label_counts=table[task].value_counts().to_dict(),
            )
    write_json({task: {k: v for k, v in entry.items() if k in METRIC_KEYS} for task, entry in summary["tasks"].items()},
               outputs.metrics)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset", type=Path, help="labeled data set (.parquet, .csv or .jsonl)")
    parser.add_argument("summary", type=Path, help="evaluation summary for the train stage (.json)")
    parser.add_argument("--metrics", type=Path, default=Path("models/metrics.json"))
    parser.add_argument("--plots", type=Path, default=Path("models/plots"))
    parser.add_argument("--errors", type=Path, default=Path("models/errors"))
    parser.add_argument("--params", type=Path, default=Path("configs/params.yaml"))
    args = parser.parse_args()
    params = load_params(args.params)
    try:
        with threadpool_limits(1), reused_fits():
            summary = evaluate(args.dataset, params, args)
    except InputError as error:
        sys.exit(f"evaluate: {error}")
    args.summary.parent.mkdir(parents=True, exist_ok=True)
    write_json(summary, args.summary)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
