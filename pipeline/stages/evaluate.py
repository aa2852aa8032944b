"""Stage `evaluate`: cross-validate every candidate for every task under two protocols, choose,
track it all.

- `seeds` (named by `evaluate.corpus_protocol`): cross-validation over the labeled corpus, every
  fit trained with the written examples too: leave-one-group-out over `data.group_column` (a model
  never sees the article it is tested on), or, with no group column, stratified k-fold
  (`evaluate.folds`) by target and label.
- `written`: held-out written passages (grouped k-fold over the passages of `labels/written/`):
  each fold trains on the corpus and the other passages and tests on its passages.

A task's model is the candidate with the best headline under `written` (larger, covering every era,
so its intervals are narrow enough to tell candidates apart); `seeds`, which played no part in the
choice, is the independent check on real articles. Without written examples, `seeds` chooses.
Hyper-parameters with several values are searched by an inner cross-validation inside each
training fold, never on a test fold. The chosen stance and bloc models are scored on labels
decoded jointly under the schema's rules (`pipeline.consistency`), as `stance predict` gives them.
Writes the evaluation summary (every figure, for `train` and for reading), the DVC metrics (the
headline figures), plot data (confusion pairs, candidates' headlines) and error tables, and one
MLflow child run per task and candidate.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.model_selection import LeaveOneGroupOut, StratifiedKFold
from threadpoolctl import threadpool_limits

from pipeline import tracking
from pipeline.candidates import DEFAULT_SET, Candidate, CandidateSettings, MissingExtra, ModelSet
from pipeline.config import Columns, Schema, load_params
from pipeline.consistency import consistent_labels
from pipeline.crossval import FoldPredictions, candidate_model, cross_validated, load_training_tables, passage_splits
from pipeline.errors import InputError
from pipeline.evaluation import Evaluation, prediction_speed
from pipeline.features import preload_embeddings
from pipeline.files import atomic_folder, write_json
from pipeline.metrics import Headline, f_avg_at_share
from pipeline.reuse import reused_fits

WRITTEN = "written"
REPORTED = ("macro_f1", "accuracy", "f_avg")


@dataclass
class Outcome:
    """A candidate's out-of-fold predictions for one task under one protocol, and their evaluation."""

    predictions: FoldPredictions
    evaluation: Evaluation


@dataclass
class CandidateResult:
    """One candidate's outcomes for one task, per protocol, and its prediction speed."""

    candidate: Candidate
    outcomes: dict[str, Outcome]
    sentences_per_second: float

    def headline(self, protocol: str) -> float:
        return self.outcomes[protocol].evaluation.headline


@dataclass
class Study:
    """What the evaluation needs of the data and configuration, sent whole to each worker."""

    table: pd.DataFrame
    schema: Schema
    settings: CandidateSettings
    columns: Columns
    params: dict
    examples: pd.DataFrame = field(default_factory=pd.DataFrame)  # written training examples, if any
    embeddings: Path | None = None  # the `embed` stage's vectors of every text
    groups: np.ndarray = field(init=False)
    combined: pd.DataFrame = field(init=False)  # the corpus, then the examples (protocol `written`)

    def __post_init__(self):
        # Without a group column every row is a group of its own.
        self.groups = self.table[self.columns.group].to_numpy() if self.columns.group else np.arange(len(self.table))
        self.combined = pd.concat([self.table, self.examples.reindex(columns=self.table.columns)], ignore_index=True)

    @property
    def passages(self) -> int:
        """How many written passages the examples hold (their groups)."""
        return int(self.examples[self.columns.group].nunique()) if len(self.examples) and self.columns.group else 0

    @property
    def corpus_protocol(self) -> str:
        """The name of the cross-validation over the labeled corpus."""
        return self.params["evaluate"].get("corpus_protocol", "seeds")

    @property
    def protocols(self) -> tuple[str, ...]:
        """The corpus protocol, and `written` when there are passages to hold out."""
        return (self.corpus_protocol, WRITTEN) if self.passages >= 2 else (self.corpus_protocol,)

    @property
    def choosing(self) -> str:
        """The protocol whose headline chooses each task's candidate."""
        return self.protocols[-1]

    def gold(self, task: str, protocol: str) -> np.ndarray:
        return (self.table if protocol == self.corpus_protocol else self.examples)[task].to_numpy()

    def task(self, task: str) -> tuple[list[str], Headline]:
        return list(self.schema.tasks[task]), Headline.from_params(task, self.params)

    def seed_share(self, task: str) -> float:
        """The share of corpus sentences whose gold label is one of the headline's (taking a side)."""
        _, headline = self.task(task)
        return float(self.table[task].isin(headline.labels).mean()) if headline.labels else 0.0

    def corpus_splits(self, task: str):
        """The corpus protocol's folds: leave-one-group-out, or stratified k-fold by target and label."""
        if self.columns.group:
            return LeaveOneGroupOut()
        strata = self.table[task].astype(str)
        if self.columns.target:
            strata = self.table[self.columns.target].astype(str) + "|" + strata
        folds = StratifiedKFold(self.params["evaluate"].get("folds", 5), shuffle=True, random_state=self.params["seed"])
        return list(folds.split(self.table, strata))

    def predictions(self, candidate: Candidate, task: str, protocol: str) -> FoldPredictions:
        """Out-of-fold class probabilities of the candidate under `protocol`, for its test rows."""
        labels, headline = self.task(task)
        fit = dict(settings=self.settings, columns=self.columns, seed=self.params["seed"],
                   inner_folds=self.params["train"]["inner_folds"], scorer=headline.scorer(labels))
        if protocol == self.corpus_protocol:
            model = candidate_model(candidate, examples=self.examples, task=task, **fit)
            return cross_validated(model, self.table, self.gold(task, protocol), self.groups, self.corpus_splits(task),
                                   labels)
        model = candidate_model(candidate, **fit)
        groups = self.combined[self.columns.group].to_numpy()
        splits = passage_splits(len(self.table), self.examples[self.columns.group].to_numpy(),
                                min(self.params["evaluate"]["passage_folds"], self.passages))
        every = cross_validated(model, self.combined, self.combined[task].to_numpy(), groups, splits, labels)
        rows = slice(len(self.table), None)
        return FoldPredictions(every.probabilities[rows], every.classes, every.predict_seconds, every.fold_params)

    def speed(self, candidate: Candidate, task: str) -> float:
        """Sentences per second the candidate predicts, fitted on the corpus for `task`, on corpus
        sentences made distinct (no per-text cache helps: every feature is computed)."""
        labels, headline = self.task(task)
        unsearched = replace(candidate, grid={name: values[:1] for name, values in candidate.grid.items()})
        model = candidate_model(unsearched, self.settings, self.columns, self.params["seed"],
                                self.params["train"]["inner_folds"], headline.scorer(labels))
        model.fit(self.table, self.table[task])
        return prediction_speed(model, self.table, self.columns.text, self.params["seed"])

    def evaluation(self, task: str, protocol: str, predicted: np.ndarray, confidence: np.ndarray) -> Evaluation:
        """Metrics of predicted labels, with F_avg at the seeds' share of stance-taking sentences too."""
        labels, headline = self.task(task)
        gold, section = self.gold(task, protocol), self.params["evaluate"]
        evaluation = Evaluation.of_labels(gold, predicted, confidence, labels, headline, section["bootstrap_resamples"],
                                          self.params["seed"])
        if headline.labels:
            evaluation.metrics["f_avg_at_seed_share"] = f_avg_at_share(gold, predicted, list(headline.labels),
                                                                       self.seed_share(task))
        return evaluation


@contextmanager
def one_worker():
    """How each worker computes: one thread, shared TF-IDF fits, no floating-point warnings."""
    with threadpool_limits(1), reused_fits(), np.errstate(all="ignore"):
        yield


def evaluate_candidate(candidate: Candidate, study: Study) -> dict[str, CandidateResult]:
    """The outcomes of one candidate for every task it can be fit on, under every protocol."""
    results = {}
    if "embeddings" in candidate.features:
        preload_embeddings(study.embeddings)
    speed = None
    with one_worker():
        for task in study.schema.tasks:
            started = time.perf_counter()
            outcomes = {}
            try:
                for protocol in study.protocols:
                    predictions = study.predictions(candidate, task, protocol)
                    evaluation = study.evaluation(task, protocol, predictions.labels(), predictions.probabilities.max(axis=1))
                    outcomes[protocol] = Outcome(predictions, evaluation)
                speed = speed or study.speed(candidate, task)
            except MissingExtra as missing:
                print(f"evaluate: skipping {task}/{candidate.name}: {missing}", file=sys.stderr)
                continue
            except ValueError as unfit:  # e.g. too few examples of a class for the SVM's calibration folds
                print(f"evaluate: skipping {task}/{candidate.name}: cannot be fit on these folds: {unfit}",
                      file=sys.stderr)
                continue
            results[task] = CandidateResult(candidate, outcomes, speed)
            figures = " ".join(f"{p}={o.evaluation.headline:.3f}" for p, o in outcomes.items()) + f" {speed:,.0f}/s"
            print(f"evaluate: {task + '/' + candidate.name:48s} {figures} ({time.perf_counter() - started:.1f} s)",
                  flush=True)
    return results


def consistent_evaluations(study: Study, chosen: dict[str, CandidateResult]) -> dict[str, dict[str, Evaluation]]:
    """Per task and protocol, the chosen models' evaluation on labels decoded jointly under the
    schema's rules, as `stance predict` gives them."""
    evaluations: dict[str, dict[str, Evaluation]] = {task: {} for task in chosen}
    for protocol in study.protocols:
        probabilities = {task: result.outcomes[protocol].predictions.probabilities for task, result in chosen.items()}
        decoded = consistent_labels(probabilities, {task: study.task(task)[0] for task in chosen}, study.schema.rules)
        for task, predicted in decoded.items():
            columns = [study.task(task)[0].index(label) for label in predicted]
            confidence = probabilities[task][np.arange(len(predicted)), columns]
            evaluations[task][protocol] = study.evaluation(task, protocol, predicted, confidence)
    return evaluations


def choose(study: Study, ranked: dict[str, list[CandidateResult]], model_set: ModelSet) -> dict[str, CandidateResult]:
    """Per task, the candidate of `model_set` with the best headline under the choosing protocol
    (the first of the best in the order of configs/candidates.yaml)."""
    chosen = {}
    for task, results in ranked.items():
        admitted = [result for result in results if model_set.admits(result.candidate)]
        if not admitted:
            raise InputError(f"{task}: no candidate of the model set '{model_set.name}' could be evaluated")
        chosen[task] = max(admitted, key=lambda result: result.headline(study.choosing))
    return chosen


def protocol_summary(evaluation: Evaluation, labels: list[str]) -> dict:
    """What metrics.json reports of one protocol: the headline with its interval, the main scores."""
    metrics, intervals = evaluation.metrics, evaluation.intervals
    headline_name = "f_avg" if "f_avg" in metrics else "macro_f1"
    return {
        "headline": round(evaluation.headline, 4),
        "ci95": [round(bound, 4) for bound in intervals[headline_name]],
        **{name: round(metrics[name], 4) for name in (*REPORTED, "f_avg_at_seed_share") if name in metrics},
        "f1": {label: round(metrics[f"f1.{label}"], 4) for label in labels},
    }


def headline_figures(entry: dict) -> dict:
    """What the DVC metrics file keeps of a task's entry: the choice and, per protocol, the headline
    with its 95% interval (the detail stays in the evaluation summary)."""
    figures = {key: entry[key] for key in ("chosen", "headline_metric", "chosen_by")}
    for protocol in entry["protocols"]:
        summary = entry[protocol]
        figures[protocol] = {"headline": summary["headline"], "ci95_low": summary["ci95"][0],
                             "ci95_high": summary["ci95"][1],
                             **{k: summary[k] for k in ("f_avg_at_seed_share",) if k in summary}}
    return figures


def confusion_figure(gold, predicted, labels: list[str], title: str):
    import matplotlib

    matplotlib.use("Agg")
    from sklearn.metrics import ConfusionMatrixDisplay

    display = ConfusionMatrixDisplay.from_predictions(gold, predicted, labels=labels, colorbar=False)
    display.ax_.set_title(title)
    display.figure_.tight_layout()
    return display.figure_


def write_folder(tables: dict[str, pd.DataFrame], folder: Path) -> None:
    """Replace `folder` with one CSV file per named table, all at once."""
    with atomic_folder(folder) as staging:
        for name, frame in tables.items():
            frame.to_csv(staging / name, index=False)


def log_candidate(parent_id: str, task: str, result: CandidateResult, study: Study, errors: pd.DataFrame,
                  tags: dict, inputs: dict) -> str:
    """The candidate's MLflow child run: parameters, every protocol's metrics, confusion image, errors."""
    import matplotlib.pyplot as plt

    name, protocol = f"{task}/{result.candidate.name}", study.corpus_protocol
    figure = confusion_figure(study.gold(task, protocol), result.outcomes[protocol].evaluation.predicted,
                              study.task(task)[0], f"{name} ({protocol})")
    metrics = {"sentences_per_second": result.sentences_per_second}
    for protocol, outcome in result.outcomes.items():
        metrics.update(outcome.evaluation.flat_metrics(protocol))
        metrics[f"headline.{protocol}"] = outcome.evaluation.headline
    try:
        return tracking.log_candidate(
            parent_id, name, {"task": task, **result.candidate.params(), "protocols": "+".join(result.outcomes)},
            metrics, {**tags, "dvc_stage": "evaluate", "task": task}, figure, errors, inputs,
        )
    finally:
        plt.close(figure)


def evaluate(dataset: Path, examples_path: Path | None, params: dict, outputs: argparse.Namespace) -> dict:
    """Evaluate all candidates of all tasks, track them, write the DVC outputs; return the
    summary the `train` stage reads."""
    tracking.configure(tracking.experiment_name(params))  # a broken store stops the stage before any work
    schema = Schema.load(params["data"]["schema"])
    columns = Columns.from_params(params)
    settings = CandidateSettings.load(params["train"]["candidates"])
    settings.check_columns(columns, params["train"]["candidates"])
    table, examples = load_training_tables(dataset, examples_path, schema, columns)
    study = Study(table, schema, settings, columns, params, examples, outputs.embeddings)
    section, tasks = params["evaluate"], list(schema.tasks)
    parallel = Parallel(n_jobs=section["processes"], return_as="generator_unordered")
    tags = {"git_commit": tracking.git_commit(), "labels_hash": tracking.labels_hash(table, "id", tasks),
            "examples_hash": tracking.labels_hash(examples, "id", tasks), "examples": str(len(examples))}
    error_columns = ["id", columns.group, columns.target, columns.text]
    by_task: dict[str, dict[str, CandidateResult]] = {task: {} for task in tasks}
    # The workers start at once; each candidate's results are logged as they arrive, while other
    # candidates still compute. Embedding candidates go first: loading the model makes them the longest.
    arriving = parallel(delayed(evaluate_candidate)(candidate, study)
                        for candidate in sorted(settings.candidates, key=lambda c: "embeddings" not in c.features))
    with tracking.parent_run("evaluate", tags, params) as parent_id:
        corpus = tracking.experiment_name(params)
        inputs = {task: {"training": tracking.training_data(table, str(dataset), task, f"{corpus}-labels")}
                  for task in tasks}
        if len(examples):
            for task in tasks:
                inputs[task]["training-examples"] = tracking.training_data(
                    examples, str(examples_path), task, f"{corpus}-written-examples")
        for results in arriving:
            for task, result in results.items():
                gold = study.gold(task, study.corpus_protocol)
                errors = result.outcomes[study.corpus_protocol].evaluation.errors(table, gold, error_columns,
                                                                                  section["errors"])
                log_candidate(parent_id, task, result, study, errors, tags, inputs[task])
                by_task[task][result.candidate.name] = result
    # In the order of configs/candidates.yaml, so that the first of the best wins a tie.
    ranked = {task: [results[c.name] for c in settings.candidates if c.name in results] for task, results in by_task.items()}
    summary: dict = {"sets": {}}
    metrics: dict = {task: {} for task in tasks}
    plots: dict[str, pd.DataFrame] = {}
    errors: dict[str, pd.DataFrame] = {}
    for model_set in settings.model_sets:
        chosen = choose(study, ranked, model_set)
        consistent = consistent_evaluations(study, chosen)
        summary["sets"][model_set.name] = {}
        for task in tasks:
            labels, headline = study.task(task)
            name = chosen[task].candidate.name
            entry = {
                "chosen": name,
                "headline_metric": headline.metric,
                "chosen_by": study.choosing,
                "protocols": list(study.protocols),
                **{protocol: protocol_summary(consistent[task][protocol], labels) for protocol in study.protocols},
            }
            admitted = [r for r in ranked[task] if model_set.admits(r.candidate)]
            summary["sets"][model_set.name][task] = {
                **entry,
                "candidates": {r.candidate.name: {p: round(r.headline(p), 4) for p in study.protocols} for r in admitted},
                "labels_hash": f"{tags['labels_hash']}+{tags['examples_hash']}",
                "rows": len(table),
                "written_examples": len(examples),
                "groups": int(pd.Series(study.groups).nunique()),
                "label_counts": table[task].value_counts().to_dict(),
            }
            print(f"evaluate: {model_set.name}: {task} chose {name} by {study.choosing}")
            tracking.log_choice(parent_id, model_set.metric_prefix, task, name,
                                {protocol: entry[protocol]["headline"] for protocol in study.protocols})
            if model_set.name != DEFAULT_SET:
                metrics[task][model_set.name] = headline_figures(entry)
                continue
            gold, corpus = study.gold(task, study.corpus_protocol), consistent[task][study.corpus_protocol]
            plots[f"confusion-{task}.csv"] = corpus.confusion_pairs(gold)
            plots[f"candidates-{task}.csv"] = pd.DataFrame(
                [{"candidate": r.candidate.name, **{p: round(r.headline(p), 4) for p in study.protocols}}
                 for r in ranked[task]])
            errors[f"{task}.csv"] = corpus.errors(table, gold, error_columns, section["errors"])
            metrics[task] = {**headline_figures(entry), **metrics[task]}
    # The summary holds no run id (a DVC output must not change when nothing else does): `train`
    # and `behaviour` find this parent run by the summary's digest.
    tracking.mark_evaluation(parent_id, summary)
    # Only now, with everything computed and tracked: a failure before leaves the last outputs.
    write_folder(plots, outputs.plots)
    write_folder(errors, outputs.errors)
    write_json(metrics, outputs.metrics)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset", type=Path, help="labeled data set (.parquet, .csv or .jsonl)")
    parser.add_argument("summary", type=Path, help="evaluation summary for the train stage (.json)")
    parser.add_argument("--examples", type=Path, help="written training examples (.parquet from `dataset`, .csv or .jsonl)")
    parser.add_argument("--embeddings", type=Path, help="sentence embeddings of the texts (.npz from `embed`)")
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
