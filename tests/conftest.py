"""Shared fixtures: the repository root and throwaway copies of it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "data", "mlflow.db", "mlruns", "mlartifacts", "__pycache__", "*.egg-info", ".pytest_cache",
    "tmp", "cache",
)


def tool_env(**extra: str) -> dict[str, str]:
    """The environment for running the project's tools (this interpreter's bin first on PATH)."""
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return {**env, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **extra}


def run(args: list[str], cwd: Path, **extra_env: str) -> subprocess.CompletedProcess:
    """Run a command, failing the test with its output when it fails."""
    result = subprocess.run(args, cwd=cwd, env=tool_env(**extra_env), capture_output=True, text=True)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


def copy_project(copy: Path) -> Path:
    """A copy of the project at `copy` (without rebuilt outputs) as a fresh git + DVC repository."""
    shutil.copytree(REPO, copy, ignore=IGNORED)
    for generated in (copy / "models").iterdir():
        if generated.is_dir():
            shutil.rmtree(generated)
    (copy / "dvc.lock").unlink(missing_ok=True)
    run(["git", "init", "-q"], copy)
    return copy


def carried_params(task: str) -> dict:
    """What a model of `task` trained by `dvc repro` carries of configs/params.yaml."""
    from pipeline.config import load_params, prediction_params

    return prediction_params(load_params(REPO / "configs/params.yaml"), task)


@pytest.fixture(scope="session")
def gold_table():
    """The seed sentences joined with their gold labels, as the training stages see them."""
    import pandas as pd

    from pipeline.files import read_jsonl
    from pipeline.segmentation import Segmenter

    sentences = pd.DataFrame(Segmenter().segment_folder(REPO / "seeds"))
    gold = pd.DataFrame(read_jsonl(REPO / "labels/gold.jsonl"))[["id", "stance", "bloc", "claim"]]
    return sentences.merge(gold, on="id", validate="one_to_one")


@pytest.fixture(scope="session")
def trained_models(tmp_path_factory, gold_table) -> Path:
    """A models folder like `dvc repro` writes (real candidates fitted on the gold labels)."""
    from pipeline.candidates import CandidateSettings, build
    from pipeline.config import Columns, Schema
    from pipeline.models import save_model

    folder = tmp_path_factory.mktemp("models")
    schema = Schema.load(REPO / "configs/schema.yaml")
    settings = CandidateSettings.load(REPO / "configs/candidates.yaml")
    candidate = next(c for c in settings.candidates if c.name == "logreg-ngrams-lexicon")
    for task, labels in schema.tasks.items():
        model = build(candidate, settings, Columns(), seed=0).fit(gold_table, gold_table[task])
        save_model(model, folder / task, task, list(labels), ["text", "doc", "index"], f"# test model for {task}\n",
                   carried_params(task))
    return folder


@pytest.fixture(scope="session")
def encoder_folder(tmp_path_factory) -> Path:
    """An encoder folder written by the real `encoder` stage."""
    folder = tmp_path_factory.mktemp("built") / "encoder"
    run([str(BIN / "python"), "-m", "pipeline.stages.encoder", str(folder)], REPO)
    return folder


@pytest.fixture(scope="session")
def embedding_models(tmp_path_factory, gold_table, encoder_folder) -> Path:
    """A models folder whose stance model uses sentence embeddings, with its encoder beside it."""
    from pipeline.candidates import CandidateSettings, build
    from pipeline.config import Columns, Schema
    from pipeline.models import save_model

    folder = tmp_path_factory.mktemp("embedding-models")
    shutil.copytree(encoder_folder, folder / "encoder")
    settings = CandidateSettings.load(REPO / "configs/candidates.yaml")
    settings.embeddings["encoder"] = str(folder / "encoder")
    candidate = next(c for c in settings.candidates if c.name == "logreg-ngrams-lexicon-parsed-context-embeddings")
    labels = Schema.load(REPO / "configs/schema.yaml").tasks["stance"]
    model = build(candidate, settings, Columns(), seed=0).fit(gold_table, gold_table["stance"])
    save_model(model, folder / "stance", "stance", list(labels), ["text", "doc", "index"], "# test model\n",
               carried_params("stance"))
    return folder


def register_in_temporary_store(folder: Path, tmp_path: Path, encoder: Path | None = None) -> str:
    """A model folder (with the sentence `encoder` it runs, if any) registered as
    `natostance-stance@champion` in a new SQLite MLflow store under `tmp_path`; the store's URI."""
    import mlflow

    from pipeline import tracking

    uri, previous = f"sqlite:///{tmp_path / 'mlflow.db'}", mlflow.get_tracking_uri()
    try:
        mlflow.set_tracking_uri(uri)
        mlflow.create_experiment(tracking.EXPERIMENT, artifact_location=str(tmp_path / "artifacts"))
        with pytest.MonkeyPatch.context() as env:
            env.setenv("MLFLOW_TRACKING_URI", uri)
            with tracking.configure().start_run() as run:
                pass
            tracking.register_champion(run.info.run_id, "natostance-stance", folder,
                                       tracking.Score("f_avg", "written", 0.5, "test-labels"), encoder)
    finally:
        mlflow.set_tracking_uri(previous)
    return uri
