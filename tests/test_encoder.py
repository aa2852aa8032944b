"""The sentence encoder: built by the `encoder` stage from the pinned weights, run without PyTorch,
found beside a model folder or inside one downloaded from MLflow, and checked before it runs."""

from __future__ import annotations

import importlib.util
import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import BIN, REPO, register_in_temporary_store, run, tool_env

pytestmark = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="the encoder extra is not installed")


def test_vectors_are_unit_length_and_do_not_depend_on_the_batch(encoder_folder):
    from pipeline.encoder import OnnxEncoder

    encoder = OnnxEncoder.load(encoder_folder)
    short, long = "NATO's door stays open.", "Moscow demanded written guarantees " * 30
    alone = encoder.encode([short])
    batched = encoder.encode([long, short, "Kyiv applied."])
    assert alone.shape == (1, 384) and np.allclose(np.linalg.norm(batched, axis=1), 1, atol=1e-5)
    assert np.array_equal(alone[0], batched[1])  # the texts beside it change nothing


def test_similar_sentences_get_similar_vectors(encoder_folder):
    from pipeline.encoder import OnnxEncoder

    vectors = OnnxEncoder.load(encoder_folder).encode([
        "The alliance must not enlarge further east.",
        "NATO should stop expanding toward Russia.",
        "Heavy rain flooded the harbour overnight.",
    ])
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > 0.4 > 0.1 > unrelated


def test_the_same_build_gives_the_same_bytes(encoder_folder, tmp_path):
    again = tmp_path / "encoder"
    run([str(BIN / "python"), "-m", "pipeline.stages.encoder", str(again)], REPO)
    assert (again / "encoder.json").read_bytes() == (encoder_folder / "encoder.json").read_bytes()


def predict_command(models: Path, tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    table = tmp_path / "in.csv"
    pd.DataFrame({"text": ["NATO must not expand eastward, Lavrov said.", "The summit opened."]}).to_csv(table, index=False)
    return subprocess.run([str(BIN / "stance"), "predict", str(table), "--task", "stance", "-q", *extra,
                           "--model", str(models)], cwd=REPO, env=tool_env(), capture_output=True, text=True)


def test_prediction_runs_the_encoder_without_pytorch(embedding_models, tmp_path):
    code = (
        "import sys; from pipeline.cli import app; "
        f"sys.argv = ['stance', 'predict', {str(tmp_path / 'in.csv')!r}, '--task', 'stance', '-q', "
        f"'--model', {str(embedding_models)!r}, '-o', {str(tmp_path / 'out.csv')!r}]\n"
        "try:\n    app()\nexcept SystemExit as end:\n    assert not end.code, end.code\n"
        "print('torch' in sys.modules, 'onnxruntime' in sys.modules)"
    )
    predict_command(embedding_models, tmp_path)  # writes in.csv
    result = run([str(BIN / "python"), "-c", code], REPO)
    assert result.stdout.split() == ["False", "True"]
    assert pd.read_csv(tmp_path / "out.csv")["stance"].notna().all()


def test_a_changed_encoder_file_is_refused_in_one_line(embedding_models, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(embedding_models, models)
    graph = models / "encoder/model.onnx"
    graph.write_bytes(graph.read_bytes()[:-1] + b"\0")
    result = predict_command(models, tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [f"error: {graph}: sha256 " + result.stderr.split("sha256 ")[1].strip()]
    assert "is not the one its encoder.json names" in result.stderr


def test_a_model_without_its_encoder_is_refused_in_one_line(embedding_models, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(embedding_models, models, ignore=shutil.ignore_patterns("encoder"))
    result = predict_command(models, tmp_path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "needs the sentence encoder" in result.stderr and str(models / "stance") in result.stderr


def test_a_registered_model_brings_its_encoder(embedding_models, tmp_path):
    uri = register_in_temporary_store(embedding_models / "stance", tmp_path, encoder=embedding_models / "encoder")

    def predicted(model: str) -> str:
        result = subprocess.run([str(BIN / "stance"), "predict", "-", "--task", "stance", "-q", "--model", model],
                                cwd=REPO, env=tool_env(MLFLOW_TRACKING_URI=uri), capture_output=True, text=True,
                                input="NATO must not expand eastward, Lavrov said.\nKyiv applied to join.\n")
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert predicted("models:/natostance-stance@champion") == predicted(str(embedding_models))


def test_models_trained_elsewhere_with_embeddings_take_their_encoder_along(encoder_folder, tmp_path):
    """A corpus's models written outside models/ found no encoder beside them."""
    import yaml

    work = tmp_path / "corpus"
    work.mkdir()
    words = {"FAVOR": "welcome the plan", "AGAINST": "reject the plan", "NONE": "read about the plan"}
    rows = [{"text": f"We {words[label]} number {n}", "Stance": label} for n in range(30) for label in words]
    pd.DataFrame(rows).to_csv(work / "corpus.csv", index=False)
    (work / "schema.yaml").write_text(yaml.safe_dump({"tasks": {"Stance": list(words)}}))
    (work / "candidates.yaml").write_text(yaml.safe_dump({
        "candidates": {"logreg-embeddings": {"features": ["embeddings"], "classifier": "logreg"}},
        "embeddings": {"encoder": str(encoder_folder)}}))
    (work / "params.yaml").write_text(yaml.safe_dump({
        "seed": 1, "data": {"schema": "schema.yaml", "text_column": "text", "group_column": None,
                            "order_column": None, "target_column": None},
        "train": {"candidates": "candidates.yaml", "inner_folds": 2},
        "evaluate": {"folds": 3, "headline": {}, "bootstrap_resamples": 10, "errors": 5, "processes": 1}}))
    store = {"MLFLOW_TRACKING_URI": f"sqlite:///{work / 'store.db'}"}
    run([str(BIN / "python"), "-m", "pipeline.stages.evaluate", "corpus.csv", "evaluation.json", "--params",
         "params.yaml", "--metrics", "metrics.json", "--plots", "plots", "--errors", "errors"], work, **store)
    run([str(BIN / "python"), "-m", "pipeline.stages.train", "corpus.csv", "evaluation.json", "models", "--params",
         "params.yaml"], work, **store)
    for name in ("model.onnx", "tokenizer.json", "encoder.json"):
        assert (work / "models/encoder" / name).read_bytes() == (encoder_folder / name).read_bytes()
    result = subprocess.run([str(BIN / "stance"), "predict", "-", "--model", str(work / "models")],
                            input="We welcome the plan.\n", cwd=tmp_path, env=tool_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert pd.read_csv(io.StringIO(result.stdout))["Stance"].tolist() == ["FAVOR"]
