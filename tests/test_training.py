"""The train and evaluate stages on another corpus (tweets, five targets) against a real
`mlflow server` on 127.0.0.1: configuration, not code, decides columns, tasks and candidates."""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import BIN, run, tool_env

TARGETS = ["nuclear power", "wind farms", "carbon tax", "fracking", "electric cars"]
FAVOR = ["we need more {t}", "{t} is the future", "proud to support {t}", "yes to {t} now"]
AGAINST = ["stop {t} today", "{t} is a disaster", "ban {t} for good", "no more {t} please"]
NONE = ["a report on {t} came out", "hearing about {t} on the radio", "{t} was discussed at lunch"]


def tweet_corpus(path: Path, rows: int = 150) -> None:
    """A made-up multi-target stance corpus with FAVOR/AGAINST/NONE labels and a source column."""
    rng = random.Random(7)
    records = []
    for number in range(rows):
        label, templates = rng.choice([("FAVOR", FAVOR), ("AGAINST", AGAINST), ("NONE", NONE)])
        target = rng.choice(TARGETS)
        records.append({"tweet_id": f"t{number}", "tweet": rng.choice(templates).format(t=target) + f" #{number % 9}",
                         "target": target, "source": f"account{number % 6}", "Stance": label})
    pd.DataFrame(records).to_csv(path, index=False)


def written_tweets(path: Path, rows: int = 12) -> None:
    """Written training examples for the tweet corpus: a phrase and a target it never uses."""
    records = [{"tweet": f"heat pumps rock #{n}", "target": "heat pumps", "source": f"written{n % 3}", "Stance": "FAVOR"}
               for n in range(rows)]
    pd.DataFrame(records).to_csv(path, index=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real MLflow tracking server on 127.0.0.1 with its own SQLite store and artifacts."""
    folder = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    server = subprocess.Popen(
        [str(BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{folder / 'store.db'}", "--artifacts-destination", str(folder / "artifacts")],
        cwd=folder, env=tool_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2):
                break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("mlflow server did not start")
            time.sleep(0.5)
    yield uri
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="module")
def trained_tweets(tmp_path_factory, mlflow_server) -> Path:
    """The evaluate and train stages run on the tweet corpus with its own configuration."""
    work = tmp_path_factory.mktemp("tweets")
    tweet_corpus(work / "tweets.csv")
    written_tweets(work / "written.csv")
    (work / "schema.yaml").write_text(yaml.safe_dump({"tasks": {"Stance": ["FAVOR", "AGAINST", "NONE"]}}))
    (work / "candidates.yaml").write_text(yaml.safe_dump({"candidates": {
        "majority": {"features": [], "classifier": "majority"},
        "logreg-words": {"features": ["words"], "classifier": "logreg", "grid": {"classifier__C": [1.0, 10.0]}},
    }}))
    params = {
        "seed": 3,
        "data": {"schema": "schema.yaml", "text_column": "tweet", "group_column": "source",
                 "order_column": None, "target_column": "target"},
        "train": {"candidates": "candidates.yaml", "inner_folds": 2},
        "evaluate": {"headline": {"Stance": {"metric": "f_avg", "labels": ["FAVOR", "AGAINST"]}},
                     "passage_folds": 3, "bootstrap_resamples": 200, "errors": 20, "processes": 2},
    }
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    env = {"MLFLOW_TRACKING_URI": mlflow_server}
    for stage in (["evaluate", "tweets.csv", "evaluation.json", "--metrics", "metrics.json",
                   "--plots", "plots", "--errors", "errors"], ["train", "tweets.csv", "evaluation.json", "models"]):
        run([sys.executable, "-m", f"pipeline.stages.{stage[0]}", *stage[1:], "--examples", "written.csv",
             "--params", "params.yaml"], work, **env)
    return work


def test_another_corpus_trains_from_configuration_alone(trained_tweets: Path) -> None:
    metrics = json.loads((trained_tweets / "metrics.json").read_text())["Stance"]
    assert metrics["chosen"] == "logreg-words"
    assert metrics["headline_metric"] == "f_avg"
    seeds, written = metrics["seeds"], metrics["written"]
    assert seeds["f_avg"] > 0.9 and set(metrics["candidates"]) == {"majority", "logreg-words"}
    assert seeds["ci95"][0] <= seeds["f_avg"] <= seeds["ci95"][1]
    # The held-out written passages are all FAVOR: learned from the other passages, F1(AGAINST) is 0.
    assert metrics["chosen_by"] == "written" and written["f1"]["FAVOR"] == 1.0 and written["f_avg"] == 0.5
    plot = pd.read_csv(trained_tweets / "plots/confusion-Stance.csv")
    assert list(plot.columns) == ["actual", "predicted"] and len(plot) == 150
    card = (trained_tweets / "models/Stance/README.md").read_text()
    assert "logreg-words" in card and "f_avg" in card and "12 written training examples" in card


def test_the_saved_model_predicts_with_its_target_column(trained_tweets: Path) -> None:
    from pipeline.models import load_models

    models = load_models([str(trained_tweets / "models")], {"Stance": ("FAVOR", "AGAINST", "NONE")})
    frame = pd.DataFrame({"tweet": ["ban fracking for good", "we need more wind farms", "heat pumps rock"],
                          "target": ["fracking", "wind farms", "heat pumps"]})
    probabilities = models["Stance"].probabilities(frame)
    # The third answer was learned from the written examples alone.
    assert [models["Stance"].labels[i] for i in probabilities.argmax(axis=1)] == ["AGAINST", "FAVOR", "FAVOR"]


def test_runs_and_champion_alias_are_on_the_server(trained_tweets: Path, mlflow_server: str) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server)
    experiment = client.get_experiment_by_name("natostance")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.info.run_name.startswith("dvc-evaluate ")]
    assert len(parents) == 1
    assert parents[0].data.tags["chosen.Stance"] == "logreg-words" and "headline.Stance.written" in parents[0].data.metrics
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert sorted(r.info.run_name for r in children) == ["Stance/logreg-words", "Stance/majority"]
    for child in children:
        assert {"seeds.f_avg", "seeds.macro_f1.ci_low", "written.f_avg", "headline.seeds", "headline.written",
                "sentences_per_second"} <= set(child.data.metrics)
        assert child.data.tags["labels_hash"] and child.data.tags["dvc_stage"] == "evaluate"
        artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"confusion_matrix.png", "errors.json"} <= artifacts
        inputs = client.get_run(child.info.run_id).inputs.dataset_inputs
        contexts = {tag.value for entry in inputs for tag in entry.tags if tag.key == "mlflow.data.context"}
        assert contexts == {"training", "training-examples"} and child.data.tags["examples"] == "12"
    champion = client.get_model_version_by_alias("natostance-Stance", "champion")
    winner = next(r for r in children if r.info.run_name == "Stance/logreg-words")
    assert champion.run_id == winner.info.run_id


def test_a_candidate_that_cannot_be_fit_on_the_folds_is_skipped_with_the_reason(tmp_path, capsys):
    from pipeline.candidates import CandidateSettings
    from pipeline.config import Columns, Schema
    from pipeline.stages.evaluate import Study, evaluate_candidate

    tweet_corpus(tmp_path / "tweets.csv", rows=60)
    table = pd.read_csv(tmp_path / "tweets.csv")
    table.loc[:1, "Stance"] = "RARE"  # two examples: too few for the SVM's three calibration folds
    (tmp_path / "schema.yaml").write_text(yaml.safe_dump({"tasks": {"Stance": ["FAVOR", "AGAINST", "NONE", "RARE"]}}))
    (tmp_path / "candidates.yaml").write_text(yaml.safe_dump({"candidates": {
        "svm-words": {"features": ["words"], "classifier": "svm"},
        "logreg-words": {"features": ["words"], "classifier": "logreg"},
    }}))
    params = {"seed": 1, "train": {"inner_folds": 2},
              "evaluate": {"headline": {}, "bootstrap_resamples": 10}}
    study = Study(table, Schema.load(tmp_path / "schema.yaml"), CandidateSettings.load(tmp_path / "candidates.yaml"),
                  Columns(text="tweet", group="source", order=None), params)
    svm, logreg = (next(c for c in study.settings.candidates if c.name == name) for name in ("svm-words", "logreg-words"))
    assert evaluate_candidate(svm, study) == {}
    assert "skipping Stance/svm-words: cannot be fit on these folds" in capsys.readouterr().err
    assert set(evaluate_candidate(logreg, study)) == {"Stance"}
