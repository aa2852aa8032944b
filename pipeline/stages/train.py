"""Stage `train`: refit each task's chosen candidate of every model set on all labels, save it,
register it.

The candidate is the one `evaluate` chose; its hyper-parameters are searched once more by a
cross-validation over all labels. The default set's models are written to
`models/<task>/`, another set's to `models/<set>/<task>/` (MLflow model, skops format, with a
model card) and registered in MLflow as `natostance-<task>` (`natostance-<set>-<task>`), tagged
with their headline score; the alias `champion` moves to a new version unless the current
champion scored higher on the same labels (`--promote` moves it anyway). A model with embedding
features is registered with its sentence encoder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from threadpoolctl import threadpool_limits

from pipeline import tracking
from pipeline.candidates import CandidateSettings
from pipeline.config import Columns, Schema, load_params, prediction_params
from pipeline.crossval import candidate_model, chosen_params, fitted_pipeline, group_params, load_training_tables
from pipeline.errors import InputError
from pipeline.features import preload_embeddings
from pipeline.metrics import Headline
from pipeline.reuse import reused_fits
from pipeline.modelcard import model_card
from pipeline.files import atomic_folder
from pipeline.models import ENCODER, save_model


def train(dataset: Path, examples: Path | None, summary_path: Path, models: Path, params: dict,
          embeddings: Path | None = None, promote: bool = False) -> None:
    tracking.configure(tracking.experiment_name(params))  # a broken store stops the stage before any work
    schema = Schema.load(params["data"]["schema"])
    columns = Columns.from_params(params)
    settings = CandidateSettings.load(params["train"]["candidates"])
    settings.check_columns(columns, params["train"]["candidates"])
    if embeddings:
        preload_embeddings(embeddings)
    candidates = {candidate.name: candidate for candidate in settings.candidates}
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    table, extra = load_training_tables(dataset, examples, schema, columns)
    parent = tracking.evaluation_run(summary, str(summary_path))
    for model_set in settings.model_sets:
        folder = model_set.folder(models)
        folder.mkdir(parents=True, exist_ok=True)
        chosen = [candidates[entry["chosen"]] for entry in summary["sets"][model_set.name].values()]
        if any("embeddings" in candidate.features for candidate in chosen):
            place_encoder(Path(settings.embeddings["encoder"]), folder / ENCODER)
        for task, labels in schema.tasks.items():
            entry = summary["sets"][model_set.name][task]
            entry = {**entry, "run_id": tracking.candidate_run(parent, task, entry["chosen"])}
            train_task(task, list(labels), entry, candidates[entry["chosen"]], folder / task,
                       model_set.registered_name(task, tracking.model_prefix(params)), table, extra, settings, columns,
                       params, promote)


def place_encoder(encoder: Path, beside: Path) -> None:
    """Copy the sentence encoder to `beside` (the `encoder/` beside the task models, where loading
    looks for it), unless it is that folder already."""
    if beside.resolve() != encoder.resolve():
        with atomic_folder(beside) as staging:
            for file in sorted(encoder.iterdir()):
                shutil.copy2(file, staging / file.name)


def train_task(task: str, labels: list[str], entry: dict, candidate, target: Path, registered: str, table, extra,
               settings: CandidateSettings, columns: Columns, params: dict, promote: bool) -> None:
    """Refit one task's chosen candidate on all labels, save it to `target` and register it."""
    headline = Headline.from_params(task, params)
    model = candidate_model(candidate, settings, columns, params["seed"], params["train"]["inner_folds"],
                            headline.scorer(labels), extra, task)
    fit_params = group_params(table[columns.group].to_numpy(), model) if columns.group else {}
    model.fit(table, table[task].to_numpy(), **fit_params)
    best_params, estimator = chosen_params(model), fitted_pipeline(model)
    card = model_card(task, labels, entry, best_params, columns, params)
    save_model(estimator, target, task, labels, columns.inputs(), card, prediction_params(params, task))
    encoder = Path(settings.embeddings["encoder"]) if "embeddings" in candidate.features else None
    protocol = entry["chosen_by"]
    score = tracking.Score(entry["headline_metric"], protocol, entry[protocol]["headline"], entry["labels_hash"])
    version = tracking.register_champion(entry["run_id"], registered, target, score, encoder, promote,
                                         registry_entry(task, labels, entry, candidate.name, params))
    print(f"train: {task}: {candidate.name} {best_params} -> {target}, {version}")


def registry_entry(task: str, labels: list[str], entry: dict, candidate: str, params: dict) -> tracking.Entry:
    """How the task's model reads in the MLflow registry: what it predicts, and how this version
    was chosen and scored under each protocol."""
    title = (params.get("model_card") or {}).get("title", tracking.experiment_name(params))
    metric, chosen_by = entry["headline_metric"], entry["chosen_by"]
    figures = "; ".join(f"{protocol} {entry[protocol]['headline']:.3f} ({entry[protocol]['ci95'][0]:.3f}–"
                        f"{entry[protocol]['ci95'][1]:.3f})" for protocol in entry["protocols"])
    return tracking.Entry(
        description=f"{title}: the {task} of a sentence, one of {', '.join(labels)}. Each version is the candidate"
                    f" with the best {metric} on held-out {chosen_by} folds, refit on all labels; its model card"
                    " (README.md among the artifacts) has the figures and limits.",
        tags={"task": task, "headline_metric": metric, "corpus": tracking.experiment_name(params)},
        version_description=f"{candidate}: {metric} {figures}; {entry['rows']} labeled rows,"
                            f" labels {entry['labels_hash']}.",
        version_tags={"task": task, "candidate": candidate},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset", type=Path, help="labeled data set (.parquet, .csv or .jsonl)")
    parser.add_argument("summary", type=Path, help="evaluation summary written by `evaluate` (.json)")
    parser.add_argument("models", type=Path, help="folder to write one model folder per task into")
    parser.add_argument("--examples", type=Path, help="written training examples (.parquet from `dataset`, .csv or .jsonl)")
    parser.add_argument("--embeddings", type=Path, help="sentence embeddings of the texts (.npz from `embed`)")
    parser.add_argument("--params", type=Path, default=Path("configs/params.yaml"))
    parser.add_argument("--promote", action="store_true",
                        help="move @champion to the new models even where the current champion scored higher")
    args = parser.parse_args()
    args.models.mkdir(parents=True, exist_ok=True)
    try:
        with threadpool_limits(1), reused_fits():
            train(args.dataset, args.examples, args.summary, args.models, load_params(args.params), args.embeddings,
                  args.promote)
    except InputError as error:
        sys.exit(f"train: {error}")


if __name__ == "__main__":
    main()
