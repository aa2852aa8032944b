"""A model folder is untrusted input: loading one never runs code from it, whatever its own
files claim, through every command that loads models and through a registry URI."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml

from conftest import BIN, REPO, register_in_temporary_store, tool_env


def craft_models(models: Path, into: Path, marker: Path) -> Path:
    """A copy of `models` whose stance model calls `eval` on load (a `ConstructorFromReduceNode`
    of `builtins.eval`), with `builtins.eval` added to its MLmodel's `skops_trusted_types`."""
    crafted = shutil.copytree(models, into)
    model_file = crafted / "stance/model.skops"
    with zipfile.ZipFile(model_file) as archive:
        real = json.loads(archive.read("schema.json"))
    payload = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    schema = {
        "__class__": "eval", "__module__": "builtins", "__loader__": "ConstructorFromReduceNode",
        "content": {
            "__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
            "content": [{"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode",
                         "content": json.dumps(payload), "is_json": True}],
        },
        "protocol": real["protocol"], "_skops_version": real["_skops_version"],
    }
    with zipfile.ZipFile(model_file, "w") as archive:
        archive.writestr("schema.json", json.dumps(schema))
    descriptor = crafted / "stance/MLmodel"
    meta = yaml.safe_load(descriptor.read_text())
    meta["flavors"]["sklearn"]["skops_trusted_types"].append("builtins.eval")
    descriptor.write_text(yaml.safe_dump(meta))
    return crafted


def test_the_crafted_file_would_run_its_code_if_trusted(trained_models, tmp_path):
    """The attack is real: skops runs the payload when told to trust `builtins.eval`."""
    import skops.io

    marker = tmp_path / "ran"
    crafted = craft_models(trained_models, tmp_path / "crafted", marker)
    skops.io.load(crafted / "stance/model.skops", trusted=["builtins.eval"])
    assert marker.exists()


def stance(*args) -> subprocess.CompletedProcess:
    return subprocess.run([BIN / "stance", *map(str, args)], cwd=REPO, env=tool_env(), capture_output=True, text=True)


@pytest.mark.parametrize("command", ["predict", "evaluate", "todo"])
def test_a_crafted_model_folder_is_refused_and_runs_nothing(trained_models, tmp_path, command):
    marker = tmp_path / "ran"
    crafted = craft_models(trained_models, tmp_path / "crafted", marker)
    table = tmp_path / "gold.csv"
    table.write_text("text,stance\nNATO must not expand eastward.,against\n")
    args = {
        "predict": ["predict", table, "--model", crafted / "stance", "--task", "stance", "-o", tmp_path / "out.csv"],
        "evaluate": ["evaluate", table, "--model", crafted, "--task", "stance"],
        "todo": ["labels", "todo", "--model", crafted, "-o", tmp_path / "todo.jsonl"],
    }[command]
    result = stance(*args)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "builtins.eval" in lines[0] and "stance/model.skops" in lines[0], result.stderr
    assert not marker.exists()
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "todo.jsonl").exists()


def test_a_crafted_model_in_the_registry_is_refused_and_runs_nothing(trained_models, tmp_path):
    marker = tmp_path / "ran"
    crafted = craft_models(trained_models, tmp_path / "crafted", marker)
    uri = register_in_temporary_store(crafted / "stance", tmp_path)
    result = subprocess.run(
        [BIN / "stance", "predict", "-", "--model", "models:/natostance-stance@champion", "--task", "stance"],
        input="NATO must not expand eastward.\n", cwd=REPO, env={**tool_env(), "MLFLOW_TRACKING_URI": uri},
        capture_output=True, text=True,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "builtins.eval" in lines[0], result.stderr
    assert not marker.exists() and result.stdout == ""


def lowercase(texts):
    """A function outside the project's trusted types, for a model that must not be saved."""
    return [text.lower() for text in texts]


def test_training_refuses_to_save_a_model_with_a_type_outside_the_list(gold_table, tmp_path):
    """A model that could not be loaded again is never written."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from pipeline.errors import InputError
    from pipeline.models import save_model

    model = make_pipeline(FunctionTransformer(lowercase), TfidfVectorizer(), LogisticRegression())
    model.fit(gold_table["text"].tolist(), gold_table["stance"])
    with pytest.raises(InputError, match="lowercase"):
        save_model(model, tmp_path / "stance", "stance", ["favor", "against", "none"], ["text"], "# card\n")
    assert not (tmp_path / "stance").exists()


def test_a_model_naming_another_parser_package_is_refused(tmp_path):
    """A model folder names its dependency parser; only the project's own package is ever read."""
    from pipeline.context import DocumentContext
    from pipeline.errors import InputError
    from pipeline.models import load_resources

    model = DocumentContext({"actor:west": ["nato"]}, [], parser={"package": "pipeline", "sha256": "0" * 64})
    with pytest.raises(InputError, match="refused: 'pipeline' is not a parser natostance uses"):
        load_resources(model, tmp_path, "crafted")
