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
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.model_selection import LeaveOneGroupOut, RepeatedStratifiedKFold
from threadpoolctl import threadpool_limits

from pipeline import tracking
from pipeline.candidates import Candidate, CandidateSettings, MissingExtra, build
from pipeline.config import Columns, Schema, load_params
from pipeline.crossval import FoldPredictions, cross_validated, load_training_tables, searched
from pipeline.errors import InputError
from pipeline.evaluation import Evaluation, repeated_scores
from pipeline.files import atomic_path, write_json
from pipeline.metrics import Headline
from pipeline.reuse import reused_fits


METRIC_KEYS = ("chosen", "headline_metric", "leave_one_document_out", "ci95_low", "ci95_high",
               "repeated_stratified_kfold", "candidates")


@dataclass
class CandidateResult:
    """One candidate's leave-one-document-out predictions for one task, and their evaluation."""

    candidate: Candidate
    predictions: FoldPredictions
    evaluation: Evaluation


@dataclass
class Study:
    """What the evaluation needs of the data and configuration, sent whole to each worker."""

    table: pd.DataFrame
    schema: Schema
    settings: CandidateSettings
    columns: Columns
    params: dict
    examples: pd.DataFrame = field(default_factory=pd.DataFrame)  # written training examples, if any
    groups: np.ndarray = field(init=False)

    def __post_init__(self):
        self.groups = self.table[self.columns.group].to_numpy()

    def task(self, task: str) -> tuple[list[str], np.ndarray, Headline]:
        return list(self.schema.tasks[task]), self.table[task].to_numpy(), Headline.from_params(task, self.params)

    def model(self, candidate: Candidate, task: str):
        """The candidate's unfitted model for a task, trained with the written examples."""
        return build(candidate, self.settings, self.columns, self.params["seed"], self.examples, task)


@contextmanager
def one_worker():
    """How each worker computes: one thread, shared TF-IDF fits, no floating-point warnings."""
    with threadpool_limits(1), reused_fits(), np.errstate(all="ignore"):
        yield


def evaluate_candidate(candidate: Candidate, study: Study) -> dict[str, CandidateResult]:
    """Leave-one-document-out predictions of one candidate for every task it can be fit on."""
    section = study.params["evaluate"]
    results = {}
    with one_worker():
        for task in study.schema.tasks:
            labels, gold, headline = study.task(task)
            started = time.perf_counter()
            try:
                model = searched(study.model(candidate, task), candidate.grid, study.params["train"]["inner_folds"],
                                 headline.scorer(labels))
                predictions = cross_validated(model, study.table, gold, study.groups, LeaveOneGroupOut(), labels)
            except MissingExtra as missing:
                print(f"evaluate: skipping {task}/{candidate.name}: {missing}", file=sys.stderr)
                continue
            except ValueError as unfit:  # e.g. too few examples of a class for the SVM's calibration folds
                print(f"evaluate: skipping {task}/{candidate.name}: cannot be fit on these folds: {unfit}",
                      file=sys.stderr)
                continue
            evaluation = Evaluation.of(gold, predictions, labels, headline, section["bootstrap_resamples"],
                                       study.params["seed"])
            results[task] = CandidateResult(candidate, predictions, evaluation)
            print(f"evaluate: {task + '/' + candidate.name:40s} {headline.metric}={evaluation.headline:.3f}"
                  f" ({time.perf_counter() - started:.1f} s)", flush=True)
    return results


def repeated_protocol(task: str, candidate: Candidate, study: Study) -> FoldPredictions:
    """Repeated stratified k-fold predictions of the chosen candidate, with its default
    hyper-parameters (no inner search: nothing is tuned, and it stays quick)."""
    labels, gold, _ = study.task(task)
    section, seed = study.params["evaluate"], study.params["seed"]
    with one_worker():
        return cross_validated(
            study.model(candidate, task), study.table, gold, study.groups,
            RepeatedStratifiedKFold(n_splits=section["folds"], n_repeats=section["repeats"], random_state=seed), labels,
        )


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


def log_candidate(parent_id: str, task: str, result: CandidateResult, gold, labels: list[str], errors: pd.DataFrame,
                  tags: dict, inputs: dict) -> str:
    """The candidate's MLflow child run: parameters, metrics, confusion image, error table."""
    import matplotlib.pyplot as plt

    name, evaluation = f"{task}/{result.candidate.name}", result.evaluation
    figure = confusion_figure(gold, evaluation.predicted, labels, f"{name} (leave-one-document-out)")
    speed = len(gold) / max(result.predictions.predict_seconds, 1e-9)
    try:
        return tracking.log_candidate(
            parent_id, name, {"task": task, **result.candidate.params(), "protocol": "leave-one-document-out"},
            {**evaluation.flat_metrics("logo"), "headline": evaluation.headline, "sentences_per_second": speed},
            {**tags, "dvc_stage": "evaluate", "task": task}, figure, errors, inputs,
        )
    finally:
        plt.close(figure)


def evaluate(dataset: Path, examples_path: Path | None, params: dict, outputs: argparse.Namespace) -> dict:
    """Evaluate all candidates of all tasks, track them, write the DVC outputs; return the
    summary the `train` stage reads."""
    schema = Schema.load(params["data"]["schema"])
    columns = Columns.from_params(params)
    settings = CandidateSettings.load(params["train"]["candidates"])
    table, examples = load_training_tables(dataset, examples_path, schema, columns)
    study = Study(table, schema, settings, columns, params, examples)
    section, tasks = params["evaluate"], list(schema.tasks)
    parallel = Parallel(n_jobs=section["processes"], return_as="generator_unordered")
    tags = {"git_commit": tracking.git_commit(), "labels_hash": tracking.labels_hash(table, "id", tasks),
            "examples_hash": tracking.labels_hash(examples, "id", tasks), "examples": str(len(examples))}
    error_columns = ["id", columns.group, columns.text]
    by_task: dict[str, dict[str, CandidateResult]] = {task: {} for task in tasks}
    run_ids: dict[tuple[str, str], str] = {}
    errors: dict[tuple[str, str], pd.DataFrame] = {}
    # The workers start at once; each candidate's results are logged as they arrive, while other
    # candidates still compute. Embedding candidates go first: loading the model makes them the longest.
    arriving = parallel(delayed(evaluate_candidate)(candidate, study)
                        for candidate in sorted(settings.candidates, key=lambda c: "embeddings" not in c.features))
    with tracking.parent_run("evaluate", tags, params) as parent_id:
        inputs = {task: {"training": tracking.training_data(table, str(dataset), task)} for task in tasks}
        if len(examples):
            for task in tasks:
                inputs[task]["training-examples"] = tracking.training_data(
                    examples, str(examples_path), task, "natostance-written-examples")
        for results in arriving:
            for task, result in results.items():
                labels, gold, _ = study.task(task)
                key = task, result.candidate.name
                errors[key] = result.evaluation.errors(table, gold, error_columns, section["errors"])
                run_ids[key] = log_candidate(parent_id, task, result, gold, labels, errors[key], tags, inputs[task])
                by_task[task][result.candidate.name] = result
    # In the order of configs/candidates.yaml, so that the first of the best wins a tie.
    ranked = {task: [results[c.name] for c in settings.candidates if c.name in results] for task, results in by_task.items()}
    for task, results in ranked.items():
        if not results:
            raise InputError(f"{task}: no candidate could be evaluated")
    chosen = {task: max(results, key=lambda result: result.evaluation.headline) for task, results in ranked.items()}
    repeated = dict(zip(tasks, Parallel(n_jobs=section["processes"])(
        delayed(repeated_protocol)(task, chosen[task].candidate, study) for task in tasks
    )))
    summary: dict = {"parent_run_id": parent_id, "tasks": {}}
    for task in tasks:
        labels, gold, headline = study.task(task)
        best, name = chosen[task], chosen[task].candidate.name
        write_csv(best.evaluation.confusion_pairs(gold), outputs.plots / f"confusion-{task}.csv")
        write_csv(errors[task, name], outputs.errors / f"{task}.csv")
        summary["tasks"][task] = {
            "chosen": name,
            "headline_metric": headline.metric,
            "leave_one_document_out": best.evaluation.metrics,
            "ci95_low": {metric: low for metric, (low, _) in best.evaluation.intervals.items()},
            "ci95_high": {metric: high for metric, (_, high) in best.evaluation.intervals.items()},
            "repeated_stratified_kfold": repeated_scores(gold, repeated[task], labels, headline),
            "candidates": {r.candidate.name: round(r.evaluation.headline, 4) for r in ranked[task]},
            "run_id": run_ids[task, name],
            "grid_choices": best.predictions.fold_params,
            "rows": len(table),
            "written_examples": len(examples),
            "groups": int(pd.Series(study.groups).nunique()),
            "label_counts": table[task].value_counts().to_dict(),
        }
        print(f"evaluate: {task} chose {name}")
    write_json({task: {k: v for k, v in entry.items() if k in METRIC_KEYS} for task, entry in summary["tasks"].items()},
               outputs.metrics)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset", type=Path, help="labeled data set (.parquet, .csv or .jsonl)")
    parser.add_argument("summary", type=Path, help="evaluation summary for the train stage (.json)")
    parser.add_argument("--examples", type=Path, help="written training examples (.parquet from `dataset`, .csv or .jsonl)")
    parser.add_argument("--metrics", type=Path, default=Path("models/metrics.json"))
    parser.add_argument("--plots", type=Path, default=Path("models/plots"))
    parser.add_argument("--errors", type=Path, default=Path("models/errors"))
    parser.add_argument("--params", type=Path, default=Path("configs/params.yaml"))
    args = parser.parse_args()
    params = load_params(args.params)
    try:
        summary = evaluate(args.dataset, args.examples, params, args)
    except InputError as error:
        sys.exit(f"evaluate: {error}")
    args.summary.parent.mkdir(parents=True, exist_ok=True)
    write_json(summary, args.summary)


if __name__ == "__main__":
    main()
