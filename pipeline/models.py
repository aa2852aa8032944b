"""Saving and loading the task models (MLflow model folders with a skops-serialised sklearn model).

A folder in `models/` is loaded with skops directly (no MLflow import, for a quick start);
an MLflow model URI (`models:/natostance-stance@champion`, `runs:/...`) goes through MLflow.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import InputError
from pipeline.files import atomic_folder
from pipeline.reproducible import reproducible_folder
from pipeline.imports import without_torch

MLMODEL = "MLmodel"
ENCODER = "encoder"  # the sentence encoder's folder, inside a model folder or beside it

# Every type in a model this project trains that skops does not trust by default. Loading trusts
# exactly these, whatever a model folder's own files say; `save_model` refuses to write a model
# holding any other, so a new type is added here, deliberately, together with the code that uses it.
TRUSTED_TYPES = frozenset({
    "pipeline.context.DocumentContext",
    "pipeline.features.EnsureColumns",
    "pipeline.features.LexiconFeatures",
    "pipeline.features.SentenceEmbeddings",
    "pipeline.pertarget.PerTarget",
    "pipeline.reuse.ReusableTfidfVectorizer",
    "pipeline.svm.ScoredLinearSVC",
})


def skops_io():
    """`skops.io`, imported with PyTorch hidden (see `pipeline.imports`). MLflow's sklearn flavor
    imports skops itself; importing it here first keeps PyTorch out of that import as well."""
    return without_torch("skops.io")


def trusted(untrusted: list[str], where: str) -> list[str]:
    """`untrusted` (the types of a skops file beyond skops' defaults) if each is in `TRUSTED_TYPES`;
    otherwise a one-line error naming `where`. Listing a file's types builds and calls nothing."""
    foreign = sorted(set(untrusted) - TRUSTED_TYPES)
    if foreign:
        raise InputError(f"{where}: refused: types a natostance model never holds: {', '.join(foreign)}")
    return list(untrusted)


def pip_requirements() -> list[str]:
    """The packages a saved model needs, pinned to the versions it was trained with (giving them
    spares MLflow's slow inference of requirements)."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in ("scikit-learn", "skops", "spacy", "pandas", "numpy", "scipy")]


def signature_and_example(columns: list[str]):
    """The pyfunc signature (a `text` column, others optional) and a one-row input example."""
    import pandas as pd
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema as ColumnSchema

    text, *others = columns
    inputs = ColumnSchema([ColSpec("string", text), *[ColSpec("string", c, required=False) for c in others if c != "index"],
                           *[ColSpec("long", c, required=False) for c in others if c == "index"]])
    outputs = ColumnSchema([ColSpec("string")])
    example = pd.DataFrame({text: ["NATO says the door to membership stays open."]})
    return ModelSignature(inputs=inputs, outputs=outputs), example


def save_model(model, target: Path, task: str, labels: list[str], columns: list[str], card: str,
               params: dict | None = None) -> None:
    """Write an MLflow model folder (skops format, byte-reproducible: `pipeline.reproducible`) with
    a model card and the parameters prediction needs (`pipeline.config.prediction_params`),
    replacing `target` atomically;
    a model holding a type outside `TRUSTED_TYPES` is refused before it replaces anything, since it
    would not load again."""
    io = skops_io()  # before MLflow's flavor imports it
    import mlflow.sklearn

    signature, example = signature_and_example(columns)
    with atomic_folder(target) as staging:
        try:
            mlflow.sklearn.save_model(
                model, str(staging), serialization_format="skops", skops_trusted_types=sorted(TRUSTED_TYPES),
                signature=signature, input_example=example,
                metadata={"task": task, "labels": labels, "params": params or {}},
                pip_requirements=pip_requirements(),
            )
        finally:  # MLflow may refuse such types itself: name them in one line either way
            for written in staging.glob("*.skops"):
                trusted(io.get_untrusted_types(file=written), str(target))
        reproducible_folder(staging, model_file(staging)[0])
        (staging / "README.md").write_text(card, encoding="utf-8")


@dataclass
class TaskModel:
    """A loaded task model and what it was trained to predict."""

    task: str
    labels: list[str]
    estimator: Any
    source: str
    params: dict  # what prediction needs of the training parameters; empty in older models

    def probabilities(self, frame):
        """(rows, labels) class probabilities, columns in `labels` order."""
        import numpy as np

        raw = self.estimator.predict_proba(frame)
        order = [list(self.estimator.classes_).index(label) if label in self.estimator.classes_ else None for label in self.labels]
        return np.column_stack([raw[:, i] if i is not None else np.zeros(len(frame)) for i in order])


def model_file(folder: Path) -> tuple[Path, dict]:
    """The skops file a model folder's `MLmodel` names (inside the folder), and its metadata."""
    meta = yaml.safe_load((folder / MLMODEL).read_text(encoding="utf-8"))
    flavor = meta["flavors"]["sklearn"]
    if flavor.get("serialization_format") != "skops":
        raise InputError(f"{folder}: not a skops model (format {flavor.get('serialization_format')})")
    path = folder / flavor["pickled_model"]
    if path.resolve().parent != folder.resolve():
        raise InputError(f"{folder}: the model file {flavor['pickled_model']!r} lies outside the model folder")
    return path, meta.get("metadata") or {}


def load_folder(folder: Path, source: str | None = None) -> TaskModel:
    """A model folder written by `save_model`, loaded with skops; `source` names it in messages."""
    try:
        path, metadata = model_file(folder)
        if "task" not in metadata or "labels" not in metadata:
            raise InputError(f"{source or folder}: not a natostance model (no task and labels in its metadata)")
        task, labels = metadata["task"], list(metadata["labels"])
        # Trusted from the project's own list, never from the folder's `skops_trusted_types`.
        io = skops_io()
        types = trusted(io.get_untrusted_types(file=path), f"{source}/{path.name}" if source else str(path))
        estimator = io.load(path, trusted=types)
        unlabeled = sorted(set(map(str, getattr(estimator, "classes_", []))) - set(labels))
        if unlabeled:
            raise InputError(f"{source or folder}: the model predicts {unlabeled}, which its labels {labels} lack")
        load_resources(estimator, folder, source or str(folder))
        params = metadata.get("params") or {}
    except FileNotFoundError as missing:
        raise InputError(f"{source or folder}: not a model folder ({Path(missing.filename).name} is missing)") from None
    except InputError:
        raise
    except Exception as error:  # a damaged file surfaces as many exception types
        raise InputError(f"{source or folder}: cannot load the model ({type(error).__name__}: {error})".splitlines()[0]) from None
    return TaskModel(task, labels, estimator, source or str(folder), params)


def parts(estimator, kind: type) -> list:
    """The model itself and its steps, at any depth, that are of type `kind`."""
    values = estimator.get_params(deep=True).values() if hasattr(estimator, "get_params") else []
    return [value for value in [estimator, *values] if isinstance(value, kind)]


def load_resources(estimator, folder: Path, source: str) -> None:
    """Load what a model runs beside its weights, or fail in one line: the sentence encoder, from
    the model folder's `encoder/` (a model downloaded from MLflow) or the `encoder/` beside it
    (`models/encoder`), and the dependency parser, checked against its pinned digest."""
    from pipeline import encoder
    from pipeline.context import DocumentContext
    from pipeline.features import SentenceEmbeddings
    from pipeline.speakers import dependency_parser

    try:
        for context in parts(estimator, DocumentContext):
            if context.parser:
                dependency_parser(context.parser["package"], context.parser["sha256"])
        needed = {embeddings.encoder for embeddings in parts(estimator, SentenceEmbeddings)}
        found = {encoder.register(place) for place in (folder / ENCODER, folder.parent / ENCODER) if needed
                 and (place / encoder.MANIFEST).is_file()}
    except encoder.MissingExtra as missing:
        raise InputError(f"{source}: {missing}") from None
    for sha256 in sorted(needed - found):
        raise InputError(f"{source}: needs the sentence encoder {sha256[:12]}…, found neither in its folder"
                         f" nor beside it ({ENCODER}/; run `dvc repro`)")


def load_uri(uri: str) -> TaskModel:
    """A model from MLflow (`models:/NAME@ALIAS`, `runs:/RUN/PATH`, ...): its folder is downloaded
    from the tracking store and loaded like any model folder, with the same checks."""
    from pipeline import tracking

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # one line per error, no bars
    mlflow = tracking.open_store(create=False)  # reading a model never creates a store
    with tempfile.TemporaryDirectory(prefix="natostance-model-") as scratch:
        try:
            folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=scratch))
        except Exception as error:
            raise InputError(f"{uri}: cannot load the MLflow model ({type(error).__name__}: {error})".splitlines()[0]) from None
        return load_folder(folder, source=uri)


@dataclass(frozen=True)
class ModelVersion:
    """What names a saved model, read from its folder without loading it: the task, the labels, the
    `model_uuid` (derived from the model file's content: `pipeline.reproducible`), the time MLflow
    saved it (None when left out for reproducibility) and the candidate its model card names."""

    folder: str
    task: str
    labels: tuple[str, ...]
    uuid: str
    created: str | None
    candidate: str | None
    params: dict  # what the model carries of its training parameters (`pipeline.config.prediction_params`)


def model_versions(root: Path) -> list[ModelVersion]:
    """The models of a models directory (a subfolder per task) or of one model folder, by task;
    a folder whose `MLmodel` cannot be read raises `InputError`."""
    from pipeline.modelcard import chosen_candidate

    folders = [root] if (root / MLMODEL).is_file() else sorted(f for f in root.iterdir() if (f / MLMODEL).is_file())
    versions = []
    for folder in folders:
        try:
            meta = yaml.safe_load((folder / MLMODEL).read_text(encoding="utf-8"))
            metadata = meta.get("metadata") or {}
            card = folder / "README.md"
            candidate = chosen_candidate(card.read_text(encoding="utf-8")) if card.is_file() else None
            versions.append(ModelVersion(str(folder), metadata["task"], tuple(metadata.get("labels", ())),
                                         str(meta["model_uuid"]), meta.get("utc_time_created"), candidate,
                                         metadata.get("params") or {}))
        except (yaml.YAMLError, UnicodeDecodeError, AttributeError, KeyError, TypeError) as error:
            raise InputError(f"{folder / MLMODEL}: not a natostance model's metadata ({type(error).__name__}:"
                             f" {error})".splitlines()[0]) from None
    return versions


def task_folders(root: Path, tasks: list[str] | None) -> list[str]:
    """The tasks of a models directory: `tasks`, else every subfolder holding a model."""
    if tasks:
        return tasks
    found = sorted(folder.name for folder in root.iterdir() if (folder / MLMODEL).is_file())
    if not found:
        raise InputError(f"{root}: no model inside (run `dvc repro` to train)")
    return found


def schema_order(loaded: dict[str, TaskModel]) -> list[str]:
    """The loaded tasks in the order of the label schema they were trained with (as loaded for
    models that do not name it)."""
    order = next((model.params["tasks"] for model in loaded.values() if model.params.get("tasks")), [])
    return sorted(loaded, key=lambda task: order.index(task) if task in order else len(order))


def load_models(sources: list[str], schema_tasks: dict[str, tuple[str, ...]] | None,
                tasks: list[str] | None = None) -> dict[str, TaskModel]:
    """The models to predict with: folders (`models/`, with one subfolder per task) or MLflow URIs,
    in the order of their label schema.

    With `schema_tasks` (a configuration's label schema), each model's labels must match it.
    """
    loaded: dict[str, TaskModel] = {}
    for source in sources:
        if ":/" in source:
            model = load_uri(source)
            loaded[model.task] = model
            continue
        root = Path(source)
        if not root.is_dir():
            raise InputError(f"{root}: models directory does not exist")
        if (root / MLMODEL).is_file():
            model = load_folder(root)
            loaded[model.task] = model
            continue
        for task in task_folders(root, tasks or (list(schema_tasks) if schema_tasks else None)):
            if not (root / task).is_dir():
                raise InputError(f"{root}: no model for task '{task}' (run `dvc repro` to train)")
            loaded[task] = load_folder(root / task)
    wanted = tasks or schema_order(loaded)
    for task in wanted:
        if task not in loaded:
            raise InputError(f"no model loaded for task '{task}'")
        if schema_tasks is None:
            continue
        if task not in schema_tasks:
            raise InputError(f"{loaded[task].source}: task '{task}' is not in the label schema")
        if tuple(loaded[task].labels) != tuple(schema_tasks[task]):
            raise InputError(
                f"{loaded[task].source}: labels {loaded[task].labels} differ from the schema's {list(schema_tasks[task])}"
                " (retrain with `dvc repro`)"
            )
    return {task: loaded[task] for task in wanted}
