"""`dvc repro` on a fresh copy of the repository: real DVC, spaCy, scikit-learn and MLflow."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import copy_project, run, tool_env

# What a failed run must leave as it was: DVC does not cache these, so nothing could restore them.
UNCACHED = ("models/metrics.json", "models/plots", "models/errors", "models/behaviour.json", "models/behaviour.csv")


def predictions(repo: Path) -> dict[str, np.ndarray]:
    from pipeline.config import Schema
    from pipeline.models import load_models

    schema = Schema.load(repo / "configs/schema.yaml")
    table = pd.read_json(repo / "data/sentences.jsonl", lines=True)
    return {task: model.probabilities(table) for task, model in load_models([str(repo / "models")], schema.tasks).items()}


def evaluate_parent_run(repo: Path):
    """The newest parent run of the `evaluate` stage in the project's MLflow store."""
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{repo / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("natostance")
    (run,) = client.search_runs([experiment.experiment_id], "tags.dvc_stage = 'evaluate' and tags.task IS NULL",
                                order_by=["attributes.start_time DESC"], max_results=1)
    return run


def flat(value, prefix: str = ""):
    """The leaves of nested metrics, as (name, value) pairs."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from flat(item, f"{prefix}.{key}")
    else:
        yield prefix, value


def fewer_examples(repo: Path, passages: int) -> None:
    """Keep the written examples of the first `passages` passages, so the test trains in a minute."""
    path = repo / "labels/written/examples.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    kept = list(dict.fromkeys(record["doc"] for record in records))[:passages]
    path.write_text("".join(json.dumps(r) + "\n" for r in records if r["doc"] in kept), encoding="utf-8")


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory) -> Path:
    """A copy of the project after `dvc repro`, trained on the seeds and the first 16 written passages."""
    repo = copy_project(tmp_path_factory.mktemp("dvc") / "repo")
    fewer_examples(repo, 16)
    run(["dvc", "repro"], repo)
    return repo


def test_dvc_repro_trains_reproducibly_and_then_does_nothing(reproduced: Path) -> None:
    sentences = pd.read_json(reproduced / "data/sentences.jsonl", lines=True)
    assert set(sentences["doc"]) == {p.name for p in (reproduced / "seeds").glob("*.txt")}
    metrics = json.loads((reproduced / "models/metrics.json").read_text())
    assert set(metrics) == {"stance", "bloc", "claim"}
    assert {"headline", "ci95_low", "ci95_high", "f_avg_at_seed_share"} == set(metrics["stance"]["written"])
    assert sum(1 for _ in flat(metrics)) < 60  # headline figures only: `dvc metrics show` is not a wall
    detail = json.loads((reproduced / "data/evaluation.json").read_text())["sets"]["default"]["stance"]
    assert {"f_avg", "macro_f1", "f1"} <= set(detail["written"]) and detail["chosen_by"] == "written"
    behaviour = json.loads((reproduced / "models/behaviour.json").read_text())
    cases = pd.read_csv(reproduced / "models/behaviour.csv")
    assert set(behaviour) == {"default", "fast"}
    assert all(behaviour[name]["all"] == round(cases[cases["model_set"] == name]["passed"].mean(), 4)
               for name in behaviour)
    for task in metrics:
        assert (reproduced / f"models/{task}/MLmodel").is_file()
        assert (reproduced / f"models/{task}/README.md").read_text().startswith(f"# natostance: `{task}` model")
        assert len(pd.read_csv(reproduced / f"models/plots/confusion-{task}.csv")) == len(sentences)
    assert (reproduced / "mlflow.db").is_file()
    parent = evaluate_parent_run(reproduced)
    assert parent.info.run_name.startswith("dvc-evaluate ")
    assert parent.data.tags["chosen.stance"] == metrics["stance"]["chosen"]
    assert parent.data.tags["fast.chosen.bloc"] == metrics["bloc"]["fast"]["chosen"]
    assert parent.data.metrics["headline.bloc.written"] == pytest.approx(metrics["bloc"]["written"]["headline"], abs=1e-4)
    shown = run(["dvc", "metrics", "show", "--json"], reproduced)
    assert "stance" in shown.stdout
    plotted = run(["dvc", "plots", "show", "candidates-stance", "--json"], reproduced)
    assert "logreg-ngrams" in plotted.stdout

    unchanged = run(["dvc", "repro"], reproduced)
    assert "Data and pipelines are up to date." in unchanged.stdout

    first, lock = predictions(reproduced), (reproduced / "dvc.lock").read_text(encoding="utf-8")
    run(["dvc", "repro", "--force", "embed", "evaluate", "train"], reproduced)
    assert json.loads((reproduced / "models/metrics.json").read_text()) == metrics
    second = predictions(reproduced)
    assert all(np.array_equal(first[task], second[task]) for task in first)
    # The same model files byte for byte, and no run id in any output: dvc.lock is unchanged.
    assert (reproduced / "dvc.lock").read_text(encoding="utf-8") == lock
    assert evaluate_parent_run(reproduced).info.run_id != parent.info.run_id


def broken_store(repo: Path) -> str:
    """The URI of a copy of the project's MLflow store cut to half its size, as a full disk or a
    killed copy leaves it."""
    broken = repo.parent / "broken-mlflow.db"
    content = (repo / "mlflow.db").read_bytes()
    broken.write_bytes(content[: len(content) // 2])
    return f"sqlite:///{broken}"


def failed_stage(repo: Path, stage: str, uri: str) -> subprocess.CompletedProcess:
    """`dvc repro --force --single-item STAGE` against the tracking store `uri`, which must fail."""
    result = subprocess.run(["dvc", "repro", "--force", "--single-item", stage], cwd=repo,
                            env=tool_env(MLFLOW_TRACKING_URI=uri), capture_output=True, text=True)
    assert result.returncode != 0, result.stdout
    return result


def uncached_outputs(repo: Path) -> dict[str, bytes]:
    paths = [path for name in UNCACHED for path in sorted([repo / name, *(repo / name).rglob("*")]) if path.is_file()]
    return {str(path.relative_to(repo)): path.read_bytes() for path in paths}


def test_a_failed_stage_keeps_the_last_metrics_plots_errors_and_behaviour(reproduced: Path) -> None:
    """DVC deleted these outputs before running a stage, so a failed run (a broken tracking store,
    Ctrl-C) lost the last metrics."""
    before = uncached_outputs(reproduced)
    assert {"models/metrics.json", "models/plots/confusion-stance.csv", "models/errors/stance.csv",
            "models/behaviour.json", "models/behaviour.csv"} <= set(before)
    uri = broken_store(reproduced)
    for stage in ("evaluate", "behaviour"):
        failed_stage(reproduced, stage, uri)
        assert uncached_outputs(reproduced) == before, stage


def test_ctrl_c_during_evaluate_keeps_the_last_metrics(reproduced: Path) -> None:
    before = uncached_outputs(reproduced)
    process = subprocess.Popen(["dvc", "repro", "--force", "--single-item", "evaluate"], cwd=reproduced, env=tool_env(),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        working = next((line for line in process.stdout if line.startswith("evaluate: stance/")), None)
        assert working, "evaluate ended before it scored a candidate"
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert process.wait(timeout=60) != 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert uncached_outputs(reproduced) == before


def test_a_broken_tracking_store_stops_each_stage_before_any_work_in_one_line(reproduced: Path) -> None:
    """A damaged store was found after about 50 s of work, with a 140-line traceback."""
    uri = broken_store(reproduced)
    for stage in ("evaluate", "behaviour", "train"):
        result = failed_stage(reproduced, stage, uri)
        said = [line for line in result.stderr.splitlines() if line.startswith(f"{stage}: ")]
        assert len(said) == 1 and said[0].startswith(f"{stage}: {uri}: tracking store unusable: "), result.stderr
        assert "Traceback" not in result.stderr
        assert not [line for line in result.stdout.splitlines() if line.startswith(f"{stage}: ")], result.stdout
    run(["dvc", "checkout"], reproduced)  # DVC removed the cached models before the failed `train`
