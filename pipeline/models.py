"""Saving and loading the task models (MLflow model folders with a skops-serialised sklearn model).

A folder in `models/` is loaded with skops directly (no MLflow import, for a quick start);
an MLflow model URI (`models:/natostance-stance@champion`, `runs:/...`) goes through MLflow.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import InputError
from pipeline.imports import without_torch

TRUSTED_MODULES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.", "pipeline.", "pandas.")
MLMODEL = "MLmodel"


def skops_io():
    """`skops.io`, imported with PyTorch hidden (see `pipeline.imports`). MLflow's sklearn flavor
    imports skops itself; importing it here first keeps PyTorch out of that import as well."""
    return without_torch("skops.io")


def trusted_types(untrusted: list[str]) -> list[str]:
    """The types skops asks about, if every one comes from a module this project trusts."""
    foreign = [name for name in untrusted if not name.startswith(TRUSTED_MODULES)]
    if foreign:
        raise InputError(f"model holds types from untrusted modules: {', '.join(foreign)}")
    return untrusted


def model_trusted_types(model) -> list[str]:
    """The project's own classes inside a fitted pipeline: the types skops must be told to trust."""
    parts = [model, *model.get_params(deep=True).values()]
    return sorted(
        {f"{type(part).__module__}.{type(part).__qualname__}" for part in parts if type(part).__module__.startswith("pipeline.")}
    )


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


def save_model(model, target: Path, task: str, labels: list[str], columns: list[str], card: str) -> None:
    """Write an MLflow model folder (skops format) with a model card, replacing `target` atomically."""
    skops_io()  # before MLflow's flavor imports it
    import mlflow.sklearn

    trusted = model_trusted_types(model)
    signature, example = signature_and_example(columns)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        folder = staging / "model"
        mlflow.sklearn.save_model(
            model, str(folder), serialization_format="skops", skops_trusted_types=trusted,
            signature=signature, input_example=example, metadata={"task": task, "labels": labels},
            pip_requirements=pip_requirements(),
        )
        (folder / "README.md").write_text(card, encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        folder.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@dataclass
class TaskModel:
    """A loaded task model and what it was trained to predict."""

    task: str
    labels: list[str]
    estimator: Any
    source: str

    def probabilities(self, frame):
        """(rows, labels) class probabilities, columns in `labels` order."""
        import numpy as np

        raw = self.estimator.predict_proba(frame)
        order = [list(self.estimator.classes_).index(label) if label in self.estimator.classes_ else None for label in self.labels]
        return np.column_stack([raw[:, i] if i is not None else np.zeros(len(frame)) for i in order])


def load_folder(folder: Path) -> TaskModel:
    """A model folder written by `save_model`, loaded with skops."""
    descriptor = folder / MLMODEL
    try:
        meta = yaml.safe_load(descriptor.read_text(encoding="utf-8"))
        flavor = meta["flavors"]["sklearn"]
        task, labels = meta["metadata"]["task"], list(meta["metadata"]["labels"])
        if flavor.get("serialization_format") != "skops":
            raise InputError(f"{folder}: not a skops model (format {flavor.get('serialization_format')})")
        path = folder / flavor["pickled_model"]
        # The types MLflow recorded at saving; skops refuses any other type it finds in the file.
        estimator = skops_io().load(path, trusted=trusted_types(list(flavor.get("skops_trusted_types") or [])))
    except FileNotFoundError as missing:
        raise InputError(f"{folder}: not a model folder ({Path(missing.filename).name} is missing)") from None
    except InputError:
        raise
    except Exception as error:  # a damaged file surfaces as many exception types
        raise InputError(f"{folder}: cannot load the model ({type(error).__name__}: {error})".splitlines()[0]) from None
    return TaskModel(task, labels, estimator, str(folder))


def load_uri(uri: str) -> TaskModel:
    """A model from MLflow (`models:/NAME@ALIAS`, `runs:/RUN/PATH`, ...), via the tracking store."""
    from pipeline import tracking

    mlflow = tracking.configure()
    try:
        info = mlflow.models.get_model_info(uri)
        estimator = mlflow.sklearn.load_model(uri)
    except Exception as error:
        raise InputError(f"{uri}: cannot load the MLflow model ({type(error).__name__}: {error})".splitlines()[0]) from None
    metadata = info.metadata or {}
    if "task" not in metadata:
        raise InputError(f"{uri}: not a natostance model (no task in its metadata)")
    return TaskModel(metadata["task"], list(metadata["labels"]), estimator, uri)


def load_models(sources: list[str], schema_tasks: dict[str, tuple[str, ...]], tasks: list[str] | None = None) -> dict[str, TaskModel]:
    """The models to predict with: folders (`models/`, with one subfolder per task) or MLflow URIs.

    Each model's labels must match the label schema of the configuration.
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
        for task in tasks or list(schema_tasks):
            if not (root / task).is_dir():
                raise InputError(f"{root}: no model for task '{task}' (run `dvc repro` to train)")
            loaded[task] = load_folder(root / task)
    wanted = tasks or list(loaded)
    for task in wanted:
        if task not in loaded:
            raise InputError(f"no model loaded for task '{task}'")
        if task not in schema_tasks:
            raise InputError(f"{loaded[task].source}: task '{task}' is not in the label schema")
        if tuple(loaded[task].labels) != tuple(schema_tasks[task]):
            raise InputError(
                f"{loaded[task].source}: labels {loaded[task].labels} differ from the schema's {list(schema_tasks[task])}"
                " (retrain with `dvc repro`)"
            )
    return {task: loaded[task] for task in wanted}
