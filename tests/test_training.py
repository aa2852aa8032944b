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
        "evaluate": {"corpus_protocol": "by-account",
                     "headline": {"Stance": {"metric": "f_avg", "labels": ["FAVOR", "AGAINST"]}},
                     "passage_folds": 3, "bootstrap_resamples": 200, "errors": 20, "processes": 2},
        "tracking": {"experiment": "tweets", "model_prefix": "tweets-"},
        "model_card": {"title": "Tweet stance", "data": "Made-up tweets on five energy targets.",
                       "intended_use": "Testing.", "limits": "Made up."},
    }
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    env = {"MLFLOW_TRACKING_URI": mlflow_server}
    for stage in (["evaluate", "tweets.csv", "evaluation.json", "--metrics", "metrics.json",
                   "--plots", "plots", "--errors", "errors"], ["train", "tweets.csv", "evaluation.json", "models"]):
        run([sys.executable, "-m", f"pipeline.stages.{stage[0]}", *stage[1:], "--examples", "written.csv",
             "--params", "params.yaml"], work, **env)
    return work


def test_another_corpus_trains_from_configuration_alone(trained_tweets: Path) -> None:
    metrics = json.loads((trained_tweets / "evaluation.json").read_text())["sets"]["default"]["Stance"]
    assert metrics["chosen"] == "logreg-words"
    assert metrics["headline_metric"] == "f_avg"
    by_account, written = metrics["by-account"], metrics["written"]
    headlines = json.loads((trained_tweets / "metrics.json").read_text())["Stance"]  # what `dvc metrics show` shows
    assert {key: headlines["by-account"][key] for key in ("headline", "ci95_low", "ci95_high")} == {
        "headline": by_account["headline"], "ci95_low": by_account["ci95"][0], "ci95_high": by_account["ci95"][1]}
    candidates = pd.read_csv(trained_tweets / "plots/candidates-Stance.csv")
    assert list(candidates.columns) == ["candidate", "by-account", "written"] and len(candidates) == 2
    assert by_account["f_avg"] > 0.9 and set(metrics["candidates"]) == {"majority", "logreg-words"}
    assert by_account["ci95"][0] <= by_account["f_avg"] <= by_account["ci95"][1]
    # The held-out written passages are all FAVOR: learned from the other passages, F1(AGAINST) is 0.
    assert metrics["chosen_by"] == "written" and written["f1"]["FAVOR"] == 1.0 and written["f_avg"] == 0.5
    plot = pd.read_csv(trained_tweets / "plots/confusion-Stance.csv")
    assert list(plot.columns) == ["actual", "predicted"] and len(plot) == 150
    card = (trained_tweets / "models/Stance/README.md").read_text()
    assert "logreg-words" in card and "f_avg" in card and "12 written training examples" in card
    assert card.startswith("# Tweet stance: `Stance` model") and "Made-up tweets on five energy targets." in card
    assert "`by-account`: leave-one-group-out over `source`" in card and "NATO" not in card


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
    experiment = client.get_experiment_by_name("tweets")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"  # the UI's model-training view
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.info.run_name.startswith("dvc-evaluate ")]
    assert len(parents) == 1
    assert parents[0].data.tags["chosen.Stance"] == "logreg-words" and "headline.Stance.written" in parents[0].data.metrics
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id]
    assert sorted(r.info.run_name for r in children) == ["Stance/logreg-words", "Stance/majority"]
    for child in children:
        assert {"by-account.f_avg", "by-account.macro_f1.ci_low", "written.f_avg", "headline.by-account",
                "headline.written", "sentences_per_second"} <= set(child.data.metrics)
        assert child.data.tags["labels_hash"] and child.data.tags["dvc_stage"] == "evaluate"
        artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"confusion_matrix.png", "errors.json"} <= artifacts
        inputs = client.get_run(child.info.run_id).inputs.dataset_inputs
        contexts = {tag.value for entry in inputs for tag in entry.tags if tag.key == "mlflow.data.context"}
        assert contexts == {"training", "training-examples"} and child.data.tags["examples"] == "12"
        assert {entry.dataset.name for entry in inputs} == {"tweets-labels", "tweets-written-examples"}
    champion = client.get_model_version_by_alias("tweets-Stance", "champion")
    winner = next(r for r in children if r.info.run_name == "Stance/logreg-words")
    assert champion.run_id == winner.info.run_id
    registered = client.get_registered_model("tweets-Stance")
    assert registered.description.startswith("Tweet stance: the Stance of a sentence, one of FAVOR, AGAINST, NONE.")
    assert registered.tags == {"task": "Stance", "headline_metric": "f_avg", "corpus": "tweets"}
    assert champion.description.startswith("logreg-words: f_avg by-account ")
    assert champion.tags["candidate"] == "logreg-words" and champion.tags["protocol"] == "written"


def test_a_candidate_that_cannot_be_fit_on_the_folds_is_skipped_with_the_reason(tmp_path, capsys):
    from pipeline.candidates import CandidateSettings
    from pipeline.config import Columns, Schema
    from pipeline.stages.evaluate import Study, evaluate_candidate

    tweet_corpus(tmp_path / "tweets.csv", rows=60)
    table = pd.read_csv(tmp_path / "tweets.csv")
    # Every AGAINST tweet comes from one account: trained without it, a classifier sees one class.
    table["Stance"] = ["AGAINST" if source == "account0" else "FAVOR" for source in table["source"]]
    (tmp_path / "schema.yaml").write_text(yaml.safe_dump({"tasks": {"Stance": ["FAVOR", "AGAINST"]}}))
    (tmp_path / "candidates.yaml").write_text(yaml.safe_dump({"candidates": {
        "logreg-words": {"features": ["words"], "classifier": "logreg"},
        "majority": {"features": [], "classifier": "majority"},
    }}))
    params = {"seed": 1, "train": {"inner_folds": 2}, "evaluate": {"headline": {}, "bootstrap_resamples": 10}}
    study = Study(table, Schema.load(tmp_path / "schema.yaml"), CandidateSettings.load(tmp_path / "candidates.yaml"),
                  Columns(text="tweet", group="source", order=None), params)
    logreg, majority = study.settings.candidates
    assert evaluate_candidate(logreg, study) == {}
    assert "skipping Stance/logreg-words: cannot be fit on these folds" in capsys.readouterr().err
    assert set(evaluate_candidate(majority, study)) == {"Stance"}


def per_target_corpus(path: Path, rows: int = 160) -> None:
    """Tweets whose words mean opposite stances for two targets: 'more X' is FAVOR toward nuclear
    power and AGAINST toward the carbon tax (a one-model-for-all cannot tell them apart by words)."""
    rng = random.Random(11)
    records = []
    for number in range(rows):
        target = ["nuclear power", "carbon tax"][number % 2]
        word = rng.choice(["more", "less", "some"])
        stance = {"some": "NONE", "more": "FAVOR", "less": "AGAINST"}[word]
        if target == "carbon tax" and stance != "NONE":
            stance = "AGAINST" if stance == "FAVOR" else "FAVOR"
        records.append({"tweet": f"{word} of it {rng.choice(['today', 'now', 'please', 'soon'])} #{number % 7}",
                        "target": target, "retweets": number % 5, "Stance": stance})
    pd.DataFrame(records).to_csv(path, index=False)


@pytest.fixture(scope="module")
def per_target_tweets(tmp_path_factory) -> Path:
    """Both stages on a corpus with no group column (k-fold) and per-target candidates."""
    work = tmp_path_factory.mktemp("per-target")
    per_target_corpus(work / "tweets.csv")
    (work / "schema.yaml").write_text(yaml.safe_dump({"tasks": {"Stance": ["FAVOR", "AGAINST", "NONE"]}}))
    (work / "candidates.yaml").write_text(yaml.safe_dump({"candidates": {
        "majority-per-target": {"features": [], "classifier": "majority", "per_target": True},
        "svm-words-pooled": {"features": ["words"], "classifier": "svm", "params": {"features__words__min_df": 1}},
        "svm-words-per-target": {"features": ["words"], "classifier": "svm", "per_target": True,
                                 "params": {"features__words__ngram_range": [1, 2], "features__words__min_df": 1},
                                 "grid": {"classifier__C": [0.1, 1.0]}},
    }}))
    params = {
        "seed": 5, "segment": {"max_chars": 1000},
        "data": {"schema": "schema.yaml", "text_column": "tweet", "group_column": None, "order_column": None,
                 "target_column": "target", "examples": None},
        "train": {"candidates": "candidates.yaml", "inner_folds": 2},
        "evaluate": {"corpus_protocol": "train-4fold", "folds": 4,
                     "headline": {"Stance": {"metric": "f_avg", "labels": ["FAVOR", "AGAINST"]}},
                     "bootstrap_resamples": 100, "errors": 10, "processes": 1},
    }
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    store = {"MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}
    evaluated = run([sys.executable, "-m", "pipeline.stages.evaluate", "tweets.csv", "evaluation.json", "--params",
                     "params.yaml", "--metrics", "metrics.json", "--plots", "plots", "--errors", "errors"], work, **store)
    (work / "evaluate.stderr").write_text(evaluated.stderr)
    run([sys.executable, "-m", "pipeline.stages.train", "tweets.csv", "evaluation.json", "models", "--params",
         "params.yaml"], work, **store)
    return work


def test_without_groups_folds_are_stratified_and_per_target_models_win(per_target_tweets: Path) -> None:
    metrics = json.loads((per_target_tweets / "evaluation.json").read_text())["sets"]["default"]["Stance"]
    assert metrics["protocols"] == ["train-4fold"] and metrics["chosen"] == "svm-words-per-target"
    scores = metrics["candidates"]
    # Per target, the words decide; pooled, 'more' is FAVOR half the time and AGAINST otherwise.
    assert scores["svm-words-per-target"]["train-4fold"] == 1.0
    assert scores["svm-words-pooled"]["train-4fold"] < 0.8
    # A per-target majority says FAVOR, AGAINST or NONE by target, never one label for all.
    plot = pd.read_csv(per_target_tweets / "plots/confusion-Stance.csv")
    assert len(plot) == 160
    quiet = (per_target_tweets / "evaluate.stderr").read_text()  # nothing a user cannot act on
    noise = [phrase for phrase in ("interpreted in multiple ways", "Generating train split", "Inferred schema", "INFO")
             if phrase in quiet]
    assert not noise, quiet
    card = (per_target_tweets / "models/Stance/README.md").read_text()
    assert "`train-4fold`: stratified 4-fold cross-validation by target (`target`) and label." in card
    assert "{'carbon tax': {'classifier__C'" in card


def stance_in(folder: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """The real `stance` command run in `folder` (no configs/ there)."""
    return subprocess.run([str(BIN / "stance"), *map(str, args)], cwd=folder, env=tool_env(**env), capture_output=True,
                          text=True)


def test_predict_and_evaluate_read_the_target_from_any_folder(per_target_tweets: Path, tmp_path: Path) -> None:
    models = per_target_tweets / "models"
    pd.DataFrame({"tweet": ["more of it now", "more of it now", "less of it soon", "some of it today"],
                  "target": ["nuclear power", "carbon tax", "carbon tax", "nuclear power"],
                  "Stance": ["FAVOR", "AGAINST", "FAVOR", "NONE"]}).to_csv(tmp_path / "gold.csv", index=False)
    predicted = stance_in(tmp_path, "predict", "gold.csv", "--model", models, "--prefix", "predicted_", "-o", "out.csv")
    assert predicted.returncode == 0, predicted.stderr
    out = pd.read_csv(tmp_path / "out.csv")
    # The same words, opposite stances: the target column reached the models; the gold column is kept.
    assert list(out["predicted_Stance"]) == ["FAVOR", "AGAINST", "FAVOR", "NONE"]
    assert list(out["Stance"]) == ["FAVOR", "AGAINST", "FAVOR", "NONE"]
    scored = stance_in(tmp_path, "evaluate", "gold.csv", "--model", models / "Stance", "--json", "scores.json")
    assert scored.returncode == 0, scored.stderr
    figures = json.loads((tmp_path / "scores.json").read_text())["Stance"]
    assert figures["f_avg"] == 1.0 and figures["support.FAVOR"] == 2
    assert {target: scores["n"] for target, scores in figures["by_target"].items()} == {"carbon tax": 2,
                                                                                        "nuclear power": 2}
    assert "carbon tax" in scored.stdout and "support" in scored.stdout
    store = f"sqlite:///{per_target_tweets / 'mlflow.db'}"
    registered = stance_in(tmp_path, "predict", "gold.csv", "--model", "models:/natostance-Stance@champion", "--prefix",
                           "p_", "-o", "registered.csv", MLFLOW_TRACKING_URI=store)
    assert registered.returncode == 0, registered.stderr
    assert list(pd.read_csv(tmp_path / "registered.csv")["p_Stance"]) == ["FAVOR", "AGAINST", "FAVOR", "NONE"]


@pytest.mark.parametrize("table, words", [
    ({"tweet": ["more of it"]}, ["in.csv", "no column 'target'", "the stance toward the target"]),
    ({"tweet": ["more of it"], "target": ["wind farms"]}, ["target 'wind farms' was not in the training data",
                                                         "carbon tax, nuclear power"]),
])
def test_a_missing_or_unknown_target_is_one_line(per_target_tweets: Path, tmp_path: Path, table, words) -> None:
    pd.DataFrame(table).to_csv(tmp_path / "in.csv", index=False)
    result = stance_in(tmp_path, "predict", "in.csv", "--model", per_target_tweets / "models", "-o", "out.csv")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and all(word in lines[0] for word in words), result.stderr
    assert not (tmp_path / "out.csv").exists()


def test_a_candidate_needing_a_null_column_stops_the_stage_in_one_line(per_target_tweets: Path, tmp_path) -> None:
    config = yaml.safe_load((per_target_tweets / "params.yaml").read_text())
    config["data"]["schema"] = str(per_target_tweets / "schema.yaml")
    config["train"]["candidates"] = "candidates.yaml"
    (tmp_path / "candidates.yaml").write_text(yaml.safe_dump({"candidates": {
        "context": {"features": ["words", "context"], "classifier": "logreg"}}}))
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.stages.evaluate", per_target_tweets / "tweets.csv", "evaluation.json",
         "--params", "params.yaml", "--metrics", "m.json", "--plots", "p", "--errors", "e"],
        cwd=tmp_path, env=tool_env(MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'store.db'}"), capture_output=True,
        text=True)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "evaluate: candidates.yaml: candidate 'context' needs data.group_column, which is null"
        " (drop the candidate or set the column)")
    assert not (tmp_path / "evaluation.json").exists() and not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("classes", [2, 3])
def test_the_svm_label_is_its_own_decision(classes: int) -> None:
    """Calibrated probabilities put most tweets in the majority class; the SVM's scores do not."""
    import numpy as np

    from pipeline.svm import ScoredLinearSVC

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 20))
    y = np.where(X[:, 0] > 1.0, "rare", np.where(X[:, 1] > 0 if classes == 3 else False, "other", "common"))
    svm = ScoredLinearSVC(C=1.0, class_weight="balanced", random_state=0).fit(X, y)
    probabilities = svm.predict_proba(X)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert (svm.classes_[probabilities.argmax(axis=1)] == svm.predict(X)).all()
    assert (svm.predict(X) == "rare").sum() >= (y == "rare").sum() * 0.8
