"""MLflow tracking: one parent run per training, a child run per task and candidate, and the
chosen models registered as `natostance-<task>` with the alias `champion` (the experiment and the
prefix of registered names are the `tracking` parameters)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import subprocess
import warnings
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.errors import InputError

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
EXPERIMENT = "natostance"
REGISTERED_PREFIX = "natostance-"
CHAMPION = "champion"


def tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI` when set, else the SQLite store at the repository root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def sqlite_file(uri: str) -> Path | None:
    """The database file of a `sqlite:///` URI; None for other stores."""
    return Path(uri.removeprefix("sqlite:///").split("?")[0]) if uri.startswith("sqlite:///") else None


def check_sqlite(uri: str, create: bool) -> None:
    """Fail when the SQLite file of `uri` is damaged, or missing unless `create`; `sqlite3.Error`
    saying why. The quick check reads every page (0.01 s for a 7 MB store)."""
    database = sqlite_file(uri)
    if database is None or (create and not database.exists()):
        return
    if not database.is_file():
        raise sqlite3.OperationalError(f"{database}: no such file")
    with closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)) as connection:
        problems = connection.execute("PRAGMA quick_check").fetchall()
    if problems != [("ok",)]:
        raise sqlite3.DatabaseError(f"damaged database ({problems[0][0]})")


def open_store(create: bool = True):
    """Import MLflow pointed at the tracking store, once the store is known to work: a damaged
    store (or, unless `create`, a missing one) raises `InputError` naming it, so that a stage stops
    before any work and `stance predict` never leaves an empty store behind."""
    uri = tracking_uri()
    try:
        check_sqlite(uri, create)
        import mlflow

        logging.getLogger("mlflow").setLevel(logging.WARNING)  # its notes on creating tables and versions

        mlflow.set_tracking_uri(uri)
        mlflow.search_experiments(max_results=1)
    except Exception as error:  # each kind of store fails in its own way
        cause = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(f"{uri}: tracking store unusable: {cause}") from None
    return mlflow


def experiment_name(params: dict) -> str:
    """The MLflow experiment of a corpus's runs (`tracking.experiment`)."""
    return (params.get("tracking") or {}).get("experiment", EXPERIMENT)


def model_prefix(params: dict) -> str:
    """What the names of a corpus's registered models start with (`tracking.model_prefix`)."""
    return (params.get("tracking") or {}).get("model_prefix", REGISTERED_PREFIX)


# MLflow 3's UI opens an experiment without a kind in its GenAI (traces) view, which hides the
# runs table and charts that compare candidates; this kind opens it as model training.
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")


def configure(experiment: str = EXPERIMENT):
    """Import MLflow pointed at the project's store (checked, created when missing) and the
    experiment that this process's runs go to, marked as a model-training experiment."""
    mlflow = open_store()
    mlflow.set_experiment(experiment)
    mlflow.set_experiment_tag(*EXPERIMENT_KIND)
    return mlflow


def git_commit() -> str:
    """The checked-out commit, or 'unknown' outside a git checkout."""
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        return result.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def labels_hash(table: pd.DataFrame, id_column: str | None, tasks: list[str]) -> str:
    """A digest of the labeled rows (ids and labels), to tell runs on different labels apart."""
    columns = [c for c in [id_column, *tasks] if c and c in table.columns]
    return hashlib.sha256(table[columns].to_csv(index=False).encode()).hexdigest()[:16]


def flatten(prefix: str, value: Any) -> dict[str, Any]:
    """Nested parameters as `a.b.c` keys."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in flatten(f"{prefix}.{key}" if prefix else str(key), item).items()}
    return {prefix: value}


@contextmanager
def parent_run(stage: str, tags: dict[str, str], params: dict[str, Any]):
    """A parent run for one training, named by what tells retrains apart (time, commit, labels, the
    parameters changed since the stage's previous parent run, also its tag `params_changed`);
    yields its run id."""
    from datetime import datetime, timezone

    mlflow = open_store()
    logged = {key: str(value)[:500] for key, value in flatten("", params).items()}
    changed = params_changed(mlflow, experiment_name(params), stage, logged)
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M")
    name = f"dvc-{stage} {started} {tags.get('git_commit', 'unknown')[:7]} labels {tags.get('labels_hash', '')[:8]}"
    if changed:
        name += f" changed {', '.join(changed)}"[:200]
    tags = {"dvc_stage": stage, "params_changed": ", ".join(changed), **tags}
    with mlflow.start_run(run_name=name, tags=tags) as run:
        mlflow.log_params(logged)
        yield run.info.run_id


def params_changed(mlflow, experiment: str, stage: str, logged: dict[str, str]) -> list[str]:
    """The parameters whose value differs from the previous parent run of `stage` in `experiment`
    (none for the first)."""
    previous = mlflow.search_runs(experiment_names=[experiment], output_format="list", max_results=1,
                                  filter_string=f"tags.dvc_stage = '{stage}' and tags.task IS NULL",
                                  order_by=["attributes.start_time DESC"])
    if not previous:
        return []
    before = previous[0].data.params
    return sorted(key for key in {*logged, *before} if logged.get(key) != before.get(key))


def training_data(table: pd.DataFrame, source: str, target: str, name: str):
    """Labeled data as an MLflow dataset named `name`, read from the local file `source`, with
    `target` as its label column."""
    import mlflow.data
    from mlflow.data.dataset_source_registry import get_registered_sources

    # MLflow registers two local sources (for "" and "file:" URIs) that both claim a path, and warns
    # on every run that the path "can be interpreted in multiple ways": name the source directly.
    local = next(kind for kind in get_registered_sources() if kind._get_source_type() == "local")
    with without_schema_hint():
        return mlflow.data.from_pandas(table, source=local(source), name=name, targets=target)


@contextmanager
def without_schema_hint():
    """MLflow's hint, on inferring a table's schema, that integer columns cannot hold missing
    values (ours never do), silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column")
        yield


def log_candidate(
    parent_id: str, name: str, params: dict[str, Any], metrics: dict[str, float], tags: dict[str, str],
    confusion_figure, errors: pd.DataFrame, inputs: dict[str, Any],
) -> str:
    """One child run of `parent_run`: parameters, CV metrics, confusion matrix image, error table,
    and `inputs` (context -> dataset from `training_data`) as its inputs."""
    import mlflow

    with mlflow.start_run(run_name=name, nested=True, parent_run_id=parent_id, tags=tags) as run, without_schema_hint():
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics(metrics)
        mlflow.log_figure(confusion_figure, "confusion_matrix.png")
        mlflow.log_table(errors, artifact_file="errors.json")
        for context, dataset in inputs.items():
            mlflow.log_input(dataset, context=context)
        return run.info.run_id


@dataclass(frozen=True)
class Score:
    """What a registered model scored, and on which labels: the headline `metric` under the
    evaluation `protocol` that chose it, and a digest of the labels it was evaluated on."""

    metric: str
    protocol: str
    value: float
    labels: str

    def tags(self) -> dict[str, str]:
        return {"headline_metric": self.metric, "protocol": self.protocol, "headline": f"{self.value:.6f}",
                "labels_hash": self.labels}

    def keeps(self, champion: dict[str, str]) -> str | None:
        """Why the current champion (its version tags) stays, or None when this score may replace it:
        it does unless the champion scored higher by the same metric and protocol on the same labels."""
        same = {key: champion.get(key) for key in ("headline_metric", "protocol", "labels_hash")}
        if same != {key: value for key, value in self.tags().items() if key in same} or "headline" not in champion:
            return None
        if float(champion["headline"]) > self.value:
            return f"{self.metric} {float(champion['headline']):.4f} > {self.value:.4f} on the same labels"
        return None


@dataclass
class Entry:
    """How a model reads in the registry: the registered model's description and tags (what it
    predicts), and the version's (how this one was chosen and scored)."""

    description: str
    tags: dict[str, str]
    version_description: str
    version_tags: dict[str, str]


def register_champion(run_id: str, name: str, folder, score: Score, encoder=None, promote: bool = False,
                      entry: Entry | None = None) -> str:
    """Log a saved model folder (with the sentence `encoder` folder it runs, if any, as its
    `encoder/`) into its candidate's run and register it as `name`, described by `entry` and
    tagged with its `score`. `champion` moves to it unless the current champion scored higher on
    the same labels (`Score.keeps`), or always with `promote`; the decision is a tag of the version."""
    mlflow = open_store()
    with mlflow.start_run(run_id=run_id):
        mlflow.log_artifacts(str(folder), artifact_path="model")
        if encoder is not None:
            mlflow.log_artifacts(str(encoder), artifact_path="model/encoder")
    client = mlflow.MlflowClient()
    entry = entry or Entry("", {}, "", {})
    try:
        client.update_registered_model(name, description=entry.description)
    except mlflow.exceptions.MlflowException:  # not registered yet
        client.create_registered_model(name, description=entry.description)
    for key, value in entry.tags.items():
        client.set_registered_model_tag(name, key, value)
    version = client.create_model_version(name, source=f"runs:/{run_id}/model", run_id=run_id,
                                          tags={**entry.version_tags, **score.tags()},
                                          description=entry.version_description).version
    try:
        champion = client.get_model_version_by_alias(name, CHAMPION)
    except mlflow.exceptions.MlflowException:  # no champion yet
        champion = None
    kept = None if promote or champion is None else score.keeps(champion.tags)
    if kept:
        client.set_model_version_tag(name, version, "champion_decision", f"not promoted: version {champion.version}: {kept}")
        return f"models:/{name}/{version} (@{CHAMPION} stays on version {champion.version}: {kept})"
    client.set_model_version_tag(name, version, "champion_decision", "promoted" + (" (asked)" if promote else ""))
    client.set_registered_model_alias(name, CHAMPION, version)
    with mlflow.start_run(run_id=run_id):
        mlflow.set_tag("champion", "true")
    return f"models:/{name}/{version} @{CHAMPION}"


def promote(name: str, version: str) -> str:
    """Move `champion` of the registered model `name` to `version`, as asked by hand; the decision
    is a tag of the version."""
    mlflow = open_store(create=False)
    client = mlflow.MlflowClient()
    try:
        client.get_model_version(name, version)
    except mlflow.exceptions.MlflowException:
        raise InputError(f"models:/{name}/{version}: no such registered model version in {tracking_uri()}") from None
    client.set_model_version_tag(name, version, "champion_decision", "promoted by hand (stance models promote)")
    client.set_registered_model_alias(name, CHAMPION, version)
    return f"models:/{name}/{version} @{CHAMPION}"


def versions(name: str) -> list[dict[str, str]]:
    """The versions of the registered model `name`, newest first: number, champion mark, candidate,
    headline with its metric and protocol, labels and the champion decision."""
    mlflow = open_store(create=False)
    client = mlflow.MlflowClient()
    found = client.search_model_versions(f"name = '{name}'", order_by=["version_number DESC"])
    if not found:
        raise InputError(f"{name}: no registered model of that name in {tracking_uri()}")
    champion = client.get_registered_model(name).aliases.get(CHAMPION)  # search results carry no aliases
    return [{"version": str(v.version), "champion": CHAMPION if str(v.version) == str(champion) else "",
             "candidate": v.tags.get("candidate", ""),
             "headline": " ".join(v.tags.get(key, "") for key in ("headline_metric", "protocol", "headline")).strip(),
             "labels": v.tags.get("labels_hash", ""), "decision": v.tags.get("champion_decision", "")}
            for v in found]


EVALUATION_TAG = "evaluation_digest"


def evaluation_digest(summary: dict) -> str:
    """A digest of an evaluation summary's content, whatever its formatting."""
    return hashlib.sha256(json.dumps(summary, sort_keys=True).encode()).hexdigest()


def mark_evaluation(parent_id: str, summary: dict) -> None:
    """Tag the parent run of an evaluation with the digest of the summary it wrote."""
    import mlflow

    mlflow.MlflowClient().set_tag(parent_id, EVALUATION_TAG, evaluation_digest(summary))


def evaluation_run(summary: dict, where: str) -> str:
    """The id of the newest parent run that wrote `summary` (read from the file `where`)."""
    mlflow = open_store(create=False)
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list", max_results=1,
                              filter_string=f"tags.{EVALUATION_TAG} = '{evaluation_digest(summary)}'",
                              order_by=["attributes.start_time DESC"])
    if not runs:
        raise InputError(f"{where}: no MLflow run of this evaluation in {tracking_uri()} (a new or another store):"
                         " run the evaluate stage again (`dvc repro --force evaluate`)")
    return runs[0].info.run_id


def candidate_run(parent_id: str, task: str, candidate: str) -> str:
    """The id of the child run of `parent_id` that evaluated `candidate` for `task`."""
    mlflow = open_store(create=False)
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list", max_results=1,
                              filter_string=f"tags.`mlflow.parentRunId` = '{parent_id}'"
                                            f" and attributes.run_name = '{task}/{candidate}'")
    if not runs:
        raise InputError(f"run {parent_id}: no child run {task}/{candidate}")
    return runs[0].info.run_id


def log_choice(parent_id: str, prefix: str, task: str, candidate: str, headlines: dict[str, float]) -> None:
    """On the parent run, the chosen candidate for a task and its headline per protocol (names
    starting with `prefix`, which tells model sets apart), so that the runs table compares
    retrains without opening the child runs."""
    import mlflow

    client = mlflow.MlflowClient()
    client.set_tag(parent_id, f"{prefix}chosen.{task}", candidate)
    for protocol, value in headlines.items():
        client.log_metric(parent_id, f"{prefix}headline.{task}.{protocol}", value)
