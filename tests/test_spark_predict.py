"""`stance spark-predict` on Spark local mode gives the labels and probabilities of `stance
predict` on the same rows (Parquet from `stance segment`, CSV, JSONL; a models folder and a
registered model, whose stance model runs the context features, the parser and the sentence
encoder on the executors), and refuses bad input in one line without leaving an output folder.

The commands run in this process (typer's CliRunner) on one Spark session, which they find
running and leave running: Spark and its Python workers start once for the file.
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import BIN, REPO, register_in_temporary_store, tool_env
from pipeline.cli import app
from pipeline.segmentation import Segmenter

pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(module) is None for module in ("pyspark", "torch")) or shutil.which("java") is None,
    reason="the spark or encoder extra, or Java, is not installed",
)
MASTER = "local[2]"
BATCH = "7"  # rows per Arrow batch: every document spans several batches


def stance(*args: str):
    """The CLI, in this process; fails the test with its error output when it fails."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, f"{args}: {result.stderr}{result.exception!r}"
    return result


def refused(*args: str) -> str:
    """The one line on standard error of a command that must be refused with exit code 2."""
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 2, f"{result.stderr}{result.exception!r}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("id", kind="stable").reset_index(drop=True)


def assert_same_predictions(spark_output, reference: pd.DataFrame, added: list[str]) -> None:
    """The Spark output folder has the reference rows, and the same labels and probabilities."""
    found = by_id(pd.read_parquet(spark_output))
    reference = by_id(reference)
    assert len(found) == len(reference) and found["id"].tolist() == reference["id"].tolist()
    assert list(found.columns[-len(added):]) == added
    for column in added:
        if "_p" not in column:  # a label
            assert found[column].tolist() == reference[column].tolist(), column
        else:
            np.testing.assert_allclose(found[column].to_numpy(float), reference[column].to_numpy(float), rtol=0,
                                       atol=1e-12, err_msg=column)


@pytest.fixture(scope="module", autouse=True)
def spark():
    """The session of the commands: `stance spark-predict --master local[2]`'s."""
    from pipeline.spark import spark_session

    with spark_session(MASTER, batch_size=10_000) as session:
        yield session


@pytest.fixture(scope="module")
def documents(tmp_path_factory):
    """A folder of the seed articles (several documents of many sentences each)."""
    folder = tmp_path_factory.mktemp("spark") / "documents"
    shutil.copytree(REPO / "seeds", folder, ignore=shutil.ignore_patterns("*.md"))
    return folder


def test_spark_predict_gives_the_labels_of_stance_predict(documents, trained_models, embedding_models, tmp_path):
    sentences = tmp_path / "sentences.parquet"
    stance("segment", str(documents), "-o", str(sentences))
    segmented = pd.read_parquet(sentences)
    pd.testing.assert_frame_equal(segmented, pd.DataFrame(Segmenter().segment_folder(documents)), check_dtype=False)
    assert segmented["doc"].nunique() > 3 and segmented.groupby("doc").size().min() > int(BATCH)

    models = ["--model", str(trained_models), "--model", str(embedding_models / "stance"), "--probs"]
    stance("predict", str(documents), "-o", str(tmp_path / "reference.parquet"), *models)
    reference = pd.read_parquet(tmp_path / "reference.parquet")
    added = [c for c in reference.columns if c.split("_")[0] in ("stance", "bloc", "claim")]
    stance("spark-predict", str(sentences), str(tmp_path / "out"), "--master", MASTER, "--batch-size", BATCH, *models)
    assert_same_predictions(tmp_path / "out", reference, added)
    assert (tmp_path / "out/_SUCCESS").is_file()
    assert list(pd.read_parquet(tmp_path / "out").columns) == [*segmented.columns, *added]

    # The context features matter: documents cut into batches of 7 rows get other probabilities.
    cut = tmp_path / "cut.parquet"
    stance("predict", str(sentences), "-o", str(cut), "--batch-size", BATCH, *models)
    assert not by_id(pd.read_parquet(cut))[added].equals(by_id(reference)[added])

    # A CSV of the same rows, shuffled, with one more column; the earlier output folder is replaced.
    shuffled = segmented.sample(frac=1, random_state=0).assign(source="seed")
    shuffled.to_csv(tmp_path / "sentences.csv", index=False)
    stance("spark-predict", str(tmp_path / "sentences.csv"), str(tmp_path / "out"), "--master", MASTER,
           "--batch-size", BATCH, *models)
    assert_same_predictions(tmp_path / "out", reference, added)
    assert list(pd.read_parquet(tmp_path / "out").columns) == [*shuffled.columns, *added]
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "cut.parquet", "out", "reference.parquet", "sentences.csv", "sentences.parquet"]


def test_a_registered_model_runs_on_the_executors(documents, trained_models, embedding_models, tmp_path, monkeypatch):
    uri = register_in_temporary_store(embedding_models / "stance", tmp_path, encoder=embedding_models / "encoder")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    table = tmp_path / "sentences.jsonl"
    stance("segment", str(documents), "-o", str(table))
    model = ["--model", str(trained_models), "--model", "models:/natostance-stance@champion"]
    stance("predict", str(table), "-o", str(tmp_path / "reference.parquet"), *model)
    stance("spark-predict", str(table), str(tmp_path / "out"), "--master", MASTER, "--batch-size", BATCH, *model)
    added = ["stance", "stance_p", "bloc", "bloc_p", "claim", "claim_p"]
    assert_same_predictions(tmp_path / "out", pd.read_parquet(tmp_path / "reference.parquet"), added)


def test_bad_input_is_refused_in_one_line_without_output(trained_models, tmp_path):
    table = tmp_path / "in.parquet"
    pd.DataFrame({"sentence": ["NATO's door remains open."]}).to_parquet(table)
    out = tmp_path / "out"
    run = lambda given, *extra: refused("spark-predict", given, str(out), "--master", MASTER,
                                        "--model", str(trained_models), *extra)
    assert run(str(tmp_path / "missing.parquet")) == f"error: {tmp_path / 'missing.parquet'}: no such file or directory"
    missing_uri = (tmp_path / "missing.parquet").as_uri()
    assert run(missing_uri) == f"error: {missing_uri}: no such file or directory"
    assert run(str(table)).startswith(f"error: {table}: no column 'text' (its columns: sentence)")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.parquet"]  # no output, no temporary folder
    assert refused("segment", str(table), "-o", str(tmp_path / "out.parquet")) == (
        f"error: {table}: not a document (.txt, .md); `stance segment` splits documents")

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        master = f"spark://127.0.0.1:{probe.getsockname()[1]}"
    result = subprocess.run(
        [str(BIN / "stance"), "spark-predict", str(table), str(out), "--master", master, "--text-column", "sentence",
         "--model", str(trained_models)], cwd=REPO, env=tool_env(), capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith(f"error: {master}: cannot reach the Spark master")
    assert len(result.stderr.strip().splitlines()) == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.parquet"]
