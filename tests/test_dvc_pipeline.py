"""`dvc repro` on a fresh copy of the repository: real DVC, spaCy, scikit-learn and MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from conftest import run


def predictions(repo: Path) -> dict[str, np.ndarray]:
    from pipeline.config import Schema
    from pipeline.models import load_models

    schema = Schema.load(repo / "configs/schema.yaml")
    table = pd.read_json(repo / "data/sentences.jsonl", lines=True)
    return {task: model.probabilities(table) for task, model in load_models([str(repo / "models")], schema.tasks).items()}


def fewer_examples(repo: Path, passages: int) -> None:
    """Keep the written examples of the first `passages` passages, so the test trains in a minute."""
    path = repo / "labels/written/examples.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    kept = list(dict.fromkeys(record["doc"] for record in records))[:passages]
    path.write_text("".join(json.dumps(r) + "\n" for r in records if r["doc"] in kept), encoding="utf-8")


def test_dvc_repro_trains_reproducibly_and_then_does_nothing(repo_copy: Path) -> None:
    fewer_examples(repo_copy, 40)
    run(["dvc", "repro"], repo_copy)
    sentences = pd.read_json(repo_copy / "data/sentences.jsonl", lines=True)
    assert set(sentences["doc"]) == {p.name for p in (repo_copy / "seeds").glob("*.txt")}
    metrics = json.loads((repo_copy / "models/metrics.json").read_text())
    assert set(metrics) == {"stance", "bloc", "claim"}
    assert {"f_avg", "f_avg_at_seed_share"} <= set(metrics["stance"]["written"])
    assert "f_avg" in metrics["stance"]["seeds"] and metrics["stance"]["chosen_by"] == "written"
    behaviour = json.loads((repo_copy / "models/behaviour.json").read_text())
    cases = pd.read_csv(repo_copy / "models/behaviour.csv")
    assert set(behaviour) == {"default", "fast"}
    assert all(behaviour[name]["all"]["cases"] == (cases["model_set"] == name).sum() for name in behaviour)
    for task in metrics:
        assert (repo_copy / f"models/{task}/MLmodel").is_file()
        assert (repo_copy / f"models/{task}/README.md").read_text().startswith(f"# natostance `{task}` model")
        assert len(pd.read_csv(repo_copy / f"models/plots/confusion-{task}.csv")) == len(sentences)
    assert (repo_copy / "mlflow.db").is_file()
    shown = run(["dvc", "metrics", "show", "--json"], repo_copy)
    assert "stance" in shown.stdout

    unchanged = run(["dvc", "repro"], repo_copy)
    assert "Data and pipelines are up to date." in unchanged.stdout

    first = predictions(repo_copy)
    run(["dvc", "repro", "--force", "embed", "evaluate", "train"], repo_copy)
    assert json.loads((repo_copy / "models/metrics.json").read_text()) == metrics
    second = predictions(repo_copy)
    assert all(np.array_equal(first[task], second[task]) for task in first)
