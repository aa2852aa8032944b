"""Written training examples: checked against the corpus, added to every fit, never tested on."""

from __future__ import annotations

from dataclasses import replace

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from sklearn.model_selection import LeaveOneGroupOut
from sklearn.pipeline import Pipeline

from conftest import BIN, REPO, tool_env
from pipeline.candidates import CandidateSettings, build
from pipeline.config import Columns, Schema
from pipeline.crossval import chosen_params, cross_validated, fitted_pipeline, searched
from pipeline.examples import WithExamples
from pipeline.labels import check_examples

SCHEMA = Schema.load(REPO / "configs/schema.yaml")
SETTINGS = CandidateSettings.load(REPO / "configs/candidates.yaml")
NGRAMS = next(c for c in SETTINGS.candidates if c.name == "logreg-ngrams")
SEARCHED = replace(NGRAMS, grid={"classifier__C": [1.0, 10.0]})  # a grid that is searched, not fixed


def examples(rows: int = 6, word: str = "zorblat") -> pd.DataFrame:
    """Made-up passages whose only word is one the corpus never uses, all labeled ukraine."""
    return pd.DataFrame([{"id": f"x-{i}", "doc": f"x-{i // 3}", "index": i % 3, "text": f"{word} {word}.",
                          "stance": "none", "bloc": "ukraine", "claim": "fact"} for i in range(rows)])


def test_every_fit_learns_from_the_examples(gold_table) -> None:
    plain = build(NGRAMS, SETTINGS, Columns(), seed=0)
    assert isinstance(plain, Pipeline)
    model = build(NGRAMS, SETTINGS, Columns(), seed=0, examples=examples(), task="bloc")
    question = pd.DataFrame({"text": ["zorblat zorblat."], "doc": ["q"], "index": [0]})
    model.fit(gold_table, gold_table["bloc"].to_numpy())
    assert model.predict(question)[0] == "ukraine"
    assert plain.fit(gold_table, gold_table["bloc"].to_numpy()).predict(question)[0] != "ukraine"


def test_cross_validation_tests_corpus_rows_only_and_trains_every_fold_on_the_examples(gold_table) -> None:
    corpus = gold_table.copy()
    corpus.loc[0, "text"] = "zorblat zorblat."  # the word only the examples teach; its document is held out
    gold = corpus["bloc"].to_numpy()
    model = build(NGRAMS, SETTINGS, Columns(), seed=0, examples=examples(), task="bloc")
    predictions = cross_validated(model, corpus, gold, corpus["doc"].to_numpy(), LeaveOneGroupOut(),
                                  list(SCHEMA.tasks["bloc"]))
    assert predictions.probabilities.shape == (len(corpus), 5)
    assert np.allclose(predictions.probabilities.sum(axis=1), 1.0)
    assert predictions.labels()[0] == "ukraine" != gold[0]


def test_the_inner_search_validates_on_corpus_rows_only(gold_table) -> None:
    scored: list[set[str]] = []

    def recording_scorer(estimator, X, y) -> float:
        scored.append(set(X["text"]))
        return float(np.mean(estimator.predict(X) == y))

    written = examples()
    model = searched(build(SEARCHED, SETTINGS, Columns(), seed=0, examples=written, task="bloc"), SEARCHED.grid, 2,
                     recording_scorer)
    model.fit(gold_table, gold_table["bloc"].to_numpy(), groups=gold_table["doc"].to_numpy())
    assert scored and all(texts <= set(gold_table["text"]) for texts in scored)
    assert set(chosen_params(model)) == set(SEARCHED.grid)
    assert isinstance(fitted_pipeline(model), Pipeline)
    assert not isinstance(fitted_pipeline(model), WithExamples)


def long_sentence(gold_table) -> int:
    """The row of the first corpus sentence with ten words or more."""
    return int(np.flatnonzero(gold_table["text"].str.split().str.len() >= 10)[0])


def write_examples(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_check_names_the_line_of_each_problem(tmp_path, gold_table) -> None:
    sentences = gold_table.to_dict("records")
    good = examples(4).to_dict("records")
    row = long_sentence(gold_table)
    copied = {**good[1], "id": "x-copy", "text": "As reported: " + sentences[row]["text"]}
    broken = [good[0], {**good[1], "bloc": "kremlin"}, {**good[2], "bloc": "none", "stance": "favor"},
              {k: v for k, v in good[3].items() if k != "doc"}, copied, good[0]]
    path = write_examples(tmp_path / "examples.jsonl", broken)
    found = [str(p) for p in check_examples(path, sentences, SCHEMA, Columns(), overlap_words=5)]
    assert found[0] == f"{path}:2: bloc='kremlin' is not one of ['russia', 'west', 'ukraine', 'independent', 'none']"
    assert found[1] == f"{path}:3: bloc=none requires stance in ['none'], got stance=favor"
    assert found[2] == f"{path}:4: missing field(s) doc"
    assert found[3].startswith(f"{path}:5: shares the phrase") and sentences[row]["id"] in found[3]
    assert found[4] == f"{path}:6: duplicate id x-0 (first on line 1)"
    assert len(found) == 5
    assert check_examples(write_examples(tmp_path / "ok.jsonl", good), sentences, SCHEMA, Columns(), 5) == []
    assert len(check_examples(path, sentences, SCHEMA, Columns(), overlap_words=None)) == 4
    renamed = [{("body" if k == "text" else k): v for k, v in copied.items()}]
    found = check_examples(write_examples(tmp_path / "body.jsonl", renamed), sentences, SCHEMA, Columns(text="body"), 5)
    assert len(found) == 1 and "shares the phrase" in str(found[0])


def run_dataset_stage(tmp_path: Path, gold_table, examples_file: Path | None) -> subprocess.CompletedProcess:
    params = yaml.safe_load((REPO / "configs/params.yaml").read_text())
    params["data"]["schema"] = str(REPO / "configs/schema.yaml")
    params["data"]["examples"] = str(examples_file) if examples_file else None
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    sentences = tmp_path / "sentences.jsonl"
    write_examples(sentences, gold_table.drop(columns=list(SCHEMA.tasks)).to_dict("records"))
    return subprocess.run(
        [sys.executable, "-m", "pipeline.stages.dataset", str(sentences), str(REPO / "labels/gold.jsonl"),
         str(tmp_path / "dataset.parquet"), "--examples-output", str(tmp_path / "examples.parquet"),
         "--params", str(tmp_path / "params.yaml")],
        cwd=REPO, env=tool_env(), capture_output=True, text=True,
    )


def test_dataset_stage_writes_checked_examples_and_refuses_copies(tmp_path, gold_table) -> None:
    from pipeline.crossval import load_table

    good = write_examples(tmp_path / "good.jsonl", examples().to_dict("records"))
    assert run_dataset_stage(tmp_path, gold_table, good).returncode == 0
    written = load_table(tmp_path / "examples.parquet", SCHEMA)
    assert list(written["text"]) == list(examples()["text"]) and set(written["bloc"]) == {"ukraine"}

    assert run_dataset_stage(tmp_path, gold_table, None).returncode == 0
    assert len(load_table(tmp_path / "examples.parquet", SCHEMA)) == 0

    (tmp_path / "examples.parquet").unlink()
    (tmp_path / "dataset.parquet").unlink()
    copy = {**examples(1).iloc[0].to_dict(), "text": gold_table["text"].iloc[long_sentence(gold_table)]}
    result = run_dataset_stage(tmp_path, gold_table, write_examples(tmp_path / "copy.jsonl", [copy]))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "copy.jsonl:1: shares the phrase" in result.stderr
    assert not (tmp_path / "examples.parquet").exists() and not (tmp_path / "dataset.parquet").exists()


def test_labels_check_reports_the_written_examples_too(tmp_path, gold_table) -> None:
    command = [str(BIN / "stance"), "labels", "check"]
    good = write_examples(tmp_path / "good.jsonl", examples().to_dict("records"))
    ok = subprocess.run([*command, "--examples", str(good)], cwd=REPO, env=tool_env(), capture_output=True, text=True)
    assert ok.returncode == 0 and "good.jsonl: 230 sentences labeled, no problem" in ok.stdout
    broken = write_examples(tmp_path / "bad.jsonl", [{**examples(1).iloc[0].to_dict(), "claim": "rumour"}])
    bad = subprocess.run([*command, "--examples", str(broken)], cwd=REPO, env=tool_env(), capture_output=True, text=True)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert f"{broken}:1: claim='rumour' is not one of" in bad.stderr


def test_evaluate_names_a_missing_or_mislabeled_examples_file(tmp_path, gold_table) -> None:
    corpus = tmp_path / "corpus.jsonl"
    gold_table.to_json(corpus, orient="records", lines=True, force_ascii=False)
    stage = [sys.executable, "-m", "pipeline.stages.evaluate", str(corpus), str(tmp_path / "e.json"),
             "--metrics", str(tmp_path / "m.json"), "--plots", str(tmp_path / "p"), "--errors", str(tmp_path / "e")]
    env = tool_env(MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}")
    missing = subprocess.run([*stage, "--examples", str(tmp_path / "none.csv")], cwd=REPO, env=env,
                             capture_output=True, text=True)
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    assert missing.stderr.strip().endswith(f"{tmp_path / 'none.csv'}: no such file")
    examples(3).assign(stance=["none", "pro", "none"]).to_csv(tmp_path / "written.csv", index=False)
    wrong = subprocess.run([*stage, "--examples", str(tmp_path / "written.csv")], cwd=REPO, env=env,
                           capture_output=True, text=True)
    assert wrong.returncode != 0 and "Traceback" not in wrong.stderr
    assert f"{tmp_path / 'written.csv'}: row 2: stance='pro' is not one of ['favor', 'against', 'none']" in wrong.stderr
    assert not (tmp_path / "e.json").exists()


def test_a_one_value_grid_entry_is_set_not_searched() -> None:
    model = searched(build(NGRAMS, SETTINGS, Columns(), seed=0), {"classifier__C": [5.0]}, 2, "accuracy")
    assert isinstance(model, Pipeline) and model.get_params()["classifier__C"] == 5.0
    search = searched(build(NGRAMS, SETTINGS, Columns(), seed=0), {"classifier__C": [5.0, 7.0]}, 2, "accuracy")
    assert search.param_grid == {"classifier__C": [5.0, 7.0]}
