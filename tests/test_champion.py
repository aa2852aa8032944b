"""`@champion` moves to a retrained model only when it is not worse on the same labels."""

from __future__ import annotations

import mlflow
import pytest

from pipeline import tracking


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A new SQLite MLflow store with the project's experiment; restores the tracking URI after."""
    uri, previous = f"sqlite:///{tmp_path / 'mlflow.db'}", mlflow.get_tracking_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.create_experiment(tracking.EXPERIMENT, artifact_location=str(tmp_path / "artifacts"))
    yield mlflow.MlflowClient(uri)
    mlflow.set_tracking_uri(previous)


def register(folder, value: float, labels: str = "labels-a", promote: bool = False) -> str:
    with tracking.configure().start_run() as run:
        pass
    score = tracking.Score("macro_f1", "written", value, labels)
    return tracking.register_champion(run.info.run_id, "natostance-bloc", folder, score, promote=promote)


def champion(client) -> str:
    return str(client.get_model_version_by_alias("natostance-bloc", tracking.CHAMPION).version)


def test_a_worse_retrain_on_the_same_labels_leaves_the_champion(store, trained_models):
    folder = trained_models / "bloc"
    register(folder, 0.80)
    assert champion(store) == "1"
    message = register(folder, 0.45)  # e.g. only the majority baseline was left as candidate
    assert champion(store) == "1" and "stays on version 1: macro_f1 0.8000 > 0.4500" in message
    assert store.get_model_version("natostance-bloc", "2").tags["champion_decision"].startswith("not promoted")
    register(folder, 0.80)  # as good: the newer one
    assert champion(store) == "3"


def test_other_labels_or_an_explicit_promotion_move_the_champion(store, trained_models):
    folder = trained_models / "bloc"
    register(folder, 0.80)
    register(folder, 0.60, labels="labels-b")  # not comparable: new labels
    assert champion(store) == "2"
    register(folder, 0.10, labels="labels-b", promote=True)
    assert champion(store) == "3"
    assert store.get_model_version("natostance-bloc", "3").tags["champion_decision"] == "promoted (asked)"


def test_models_list_and_promote_through_the_cli(store, trained_models):
    from typer.testing import CliRunner

    from pipeline.cli import app

    folder = trained_models / "bloc"
    register(folder, 0.80)
    register(folder, 0.45)
    listed = CliRunner().invoke(app, ["models", "list", "natostance-bloc"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    rows = [line for line in listed.stdout.splitlines() if line.strip().startswith(("│ 1", "│ 2"))]
    assert "not promoted" in rows[0] and "champion" in rows[1] and "macro_f1 written 0.800000" in rows[1]
    promoted = CliRunner().invoke(app, ["models", "promote", "natostance-bloc", "2"])
    assert promoted.exit_code == 0 and champion(store) == "2", promoted.output
    decision = store.get_model_version("natostance-bloc", "2").tags["champion_decision"]
    assert decision == "promoted by hand (stance models promote)"
    missing = CliRunner().invoke(app, ["models", "promote", "natostance-bloc", "9"])
    assert missing.exit_code == 2 and missing.stderr.strip().startswith("error: models:/natostance-bloc/9: no such")
    assert champion(store) == "2"


def test_a_parent_run_names_the_parameters_changed_since_the_last(store):
    tracking.configure()
    params = {"seed": 1, "train": {"inner_folds": 2, "candidates": "candidates.yaml"}}
    with tracking.parent_run("evaluate", {"git_commit": "abc1234"}, params) as first:
        pass
    with tracking.parent_run("evaluate", {"git_commit": "abc1234"}, params) as same:
        pass
    changed = {**params, "train": {**params["train"], "inner_folds": 3}}
    with tracking.parent_run("evaluate", {"git_commit": "abc1234"}, changed) as other:
        pass
    assert [store.get_run(run).data.tags["params_changed"] for run in (first, same, other)] == [
        "", "", "train.inner_folds"]
    assert store.get_run(other).info.run_name.endswith(" changed train.inner_folds")
