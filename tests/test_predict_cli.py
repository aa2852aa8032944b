"""`stance predict` and `stance evaluate` through the real CLI, on real files of every format,
with real models trained on the gold labels."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import BIN, REPO, carried_params, register_in_temporary_store, tool_env
from pipeline.cli import app
from pipeline.config import Schema

SCHEMA = Schema.load(REPO / "configs/schema.yaml").tasks
SEED = REPO / "seeds/000_6f2ec7f332e89c54.txt"
ADDED = ["stance", "stance_p", "bloc", "bloc_p", "claim", "claim_p"]
DOCUMENT_COLUMNS = ["id", "doc", "index", "start", "end", "date", "text"]
SENTENCES = [
    "NATO's door to new members remains open, the alliance said.",
    "Moscow demanded guarantees that Ukraine would never join NATO.",
    "The talks in Geneva lasted more than seven hours.",
]


@pytest.fixture(autouse=True)
def in_repo(monkeypatch):
    """The CLI reads configs/params.yaml (and the schema it names) relative to the repository."""
    monkeypatch.chdir(REPO)


LOADED: dict = {}


@pytest.fixture(autouse=True)
def load_each_models_folder_once(monkeypatch):
    """Deserialising models takes seconds: the CLI gets the models it loaded before for the same
    arguments (a failed load is not kept, so every error case loads for real)."""
    import pipeline.models

    load = pipeline.models.load_models

    def cached(sources, schema_tasks, tasks=None):
        key = (tuple(map(str, sources)), tuple(tasks or ()))
        if key not in LOADED:
            LOADED[key] = load(sources, schema_tasks, tasks)
        return LOADED[key]

    monkeypatch.setattr(pipeline.models, "load_models", cached)


def stance(*args, input: str | bytes | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


@pytest.fixture
def predict(trained_models):
    """`stance predict ARGS --model <trained models> --quiet`, asserting success."""

    def invoke(*args, input=None):
        result = stance("predict", *args, "--model", trained_models, "--quiet", input=input)
        assert result.exit_code == 0, result.output
        return result

    return invoke


def read(path: Path) -> pd.DataFrame:
    """An output file as written, every value as text (empty cells as NaN)."""
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype=False)
    return pd.read_csv(path, dtype=str)


def assert_predictions(frame: pd.DataFrame, tasks=tuple(SCHEMA)) -> None:
    """Every row has a label of its task's set and a probability in [0, 1]."""
    for task in tasks:
        assert set(frame[task]) <= set(SCHEMA[task]), task
        probability = frame[f"{task}_p"].astype(float)
        assert probability.between(0, 1).all() and probability.notna().all()


def table_of_sentences() -> pd.DataFrame:
    """Sentences with extra columns that must come through unchanged (an id with a leading zero)."""
    return pd.DataFrame({"id": ["001", "002", "003"], "text": SENTENCES, "source": ["TASS", "AP", "Reuters"]})


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    else:
        frame.to_csv(path, sep="\t" if path.suffix == ".tsv" else ",", index=False)
    return path


@pytest.mark.parametrize("suffix", [".txt", ".md"])
def test_document_rows_map_back_to_the_text(predict, tmp_path, suffix):
    document = tmp_path / f"article{suffix}"
    shutil.copyfile(SEED, document)
    out = tmp_path / "out.csv"
    predict(document, "-o", out)
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(frame.columns) == DOCUMENT_COLUMNS + ADDED
    assert_predictions(frame)
    text = SEED.read_text(encoding="utf-8")
    assert len(frame) >= 10
    for row in frame.itertuples():
        assert text[int(row.start) : int(row.end)] == row.text
    assert set(frame["doc"]) == {document.name} and set(frame["date"]) == {"2022-01-14"}
    assert frame["index"].tolist() == [str(i) for i in range(len(frame))]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_tables_keep_every_column(predict, tmp_path, suffix):
    source = write_table(table_of_sentences(), tmp_path / f"sentences{suffix}")
    out = tmp_path / "out.csv"
    predict(source, "-o", out)
    frame = pd.read_csv(out, dtype=str)
    assert list(frame.columns) == ["id", "text", "source", *ADDED]
    assert frame["id"].tolist() == ["001", "002", "003"]
    assert frame["text"].tolist() == SENTENCES and frame["source"].tolist() == ["TASS", "AP", "Reuters"]
    assert_predictions(frame)


@pytest.fixture(scope="module")
def stdout_predictions(trained_models, tmp_path_factory):
    """The CSV on standard output for the seed document, as the reference for other formats."""
    result = stance("predict", SEED, "--model", trained_models)
    assert result.exit_code == 0, result.output
    path = tmp_path_factory.mktemp("stdout") / "stdout.csv"
    path.write_text(result.stdout, encoding="utf-8")
    return pd.read_csv(path, dtype=str)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_output_format_follows_the_extension(predict, tmp_path, suffix, stdout_predictions):
    out = tmp_path / f"out{suffix}"
    predict(SEED, "-o", out)
    frame = read(out)
    assert list(frame.columns) == DOCUMENT_COLUMNS + ADDED
    assert_predictions(frame)
    for column in ("text", "stance", "bloc", "claim"):
        assert frame[column].tolist() == stdout_predictions[column].tolist()
    # JSON keeps 10 decimals (pandas' to_json), CSV all of them.
    np.testing.assert_allclose(frame["stance_p"].astype(float), stdout_predictions["stance_p"].astype(float), atol=1e-9)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_directory_and_stdin_in_one_run(predict, tmp_path):
    folder = tmp_path / "inputs"
    folder.mkdir()
    shutil.copyfile(SEED, folder / "article.txt")
    write_table(table_of_sentences(), folder / "sentences.csv")
    (folder / "notes.xlsx").write_bytes(b"ignored: not a supported file")
    out = tmp_path / "out.jsonl"
    predict(folder, "-", "-o", out, input="Is NATO expansion a threat?\n")
    frame = read(out)
    assert list(frame.columns) == [*DOCUMENT_COLUMNS, "source", "input_file", *ADDED]
    counts = frame["input_file"].value_counts()
    assert counts["-"] == 1 and counts[str(folder / "sentences.csv")] == 3 and counts[str(folder / "article.txt")] >= 10
    assert frame.loc[frame["input_file"] == "-", "text"].tolist() == ["Is NATO expansion a threat?"]
    assert_predictions(frame)


def test_probs_and_task_limit_the_columns(predict, tmp_path):
    out = tmp_path / "out.csv"
    predict("-", "--task", "stance", "--probs", "-o", out, input="\n".join(SENTENCES) + "\n")
    frame = pd.read_csv(out)
    classes = [f"stance_p_{label}" for label in SCHEMA["stance"]]
    assert list(frame.columns) == ["text", "stance", "stance_p", *classes]
    assert frame[classes].sum(axis=1).round(6).eq(1).all()
    assert (frame[classes].max(axis=1) == frame["stance_p"]).all()
    assert (frame[classes].to_numpy().argmax(axis=1) == [SCHEMA["stance"].index(s) for s in frame["stance"]]).all()


def test_text_column_names_the_sentence_column(predict, tmp_path):
    source = write_table(table_of_sentences().rename(columns={"text": "sentence"}), tmp_path / "in.csv")
    out = tmp_path / "out.csv"
    predict(source, "--text-column", "sentence", "-o", out)
    frame = pd.read_csv(out, dtype=str)
    assert list(frame.columns) == ["id", "sentence", "source", *ADDED]
    assert_predictions(frame)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_empty_input_gives_only_the_header(predict, tmp_path, suffix):
    source = tmp_path / "empty.csv"
    source.write_text("id,text\n", encoding="utf-8")
    out = tmp_path / f"out{suffix}"
    predict(source, "-o", out)
    if suffix == ".csv":
        assert out.read_text(encoding="utf-8") == "id,text," + ",".join(ADDED) + "\n"
    elif suffix == ".parquet":
        frame = pd.read_parquet(out)
        assert len(frame) == 0 and list(frame.columns) == ["id", "text", *ADDED]
    else:
        assert out.read_text(encoding="utf-8") == ""


def test_empty_standard_input_gives_the_header_on_stdout(predict):
    assert predict("-", input="").stdout == "text," + ",".join(ADDED) + "\n"


def test_blank_text_keeps_the_row_with_empty_labels(predict, tmp_path):
    source = write_table(pd.DataFrame({"n": ["1", "2", "3"], "text": ["", "   \t", SENTENCES[0]]}), tmp_path / "in.csv")
    out = tmp_path / "out.parquet"
    predict(source, "-o", out)
    frame = pd.read_parquet(out)
    assert frame["n"].tolist() == ["1", "2", "3"]
    assert frame.loc[:1, ADDED].isna().all().all()
    assert_predictions(frame.loc[2:])


def test_a_megabyte_without_a_full_stop_is_one_sentence(predict, tmp_path):
    words = "NATO enlargement talks continue without pause and "
    document = tmp_path / "long.txt"
    document.write_text(words * (1_000_000 // len(words) + 1), encoding="utf-8")
    out = tmp_path / "out.csv"
    predict(document, "-o", out)
    frame = pd.read_csv(out, dtype=str)
    assert len(frame) == 1 and len(frame["text"].iat[0]) >= 1_000_000
    assert_predictions(frame)


def test_other_encodings_are_read_with_encoding(predict, tmp_path):
    source = tmp_path / "latin1.csv"
    source.write_bytes("text\nLa Suède rejoint l'OTAN.\n".encode("latin-1"))
    out = tmp_path / "out.csv"
    predict(source, "--encoding", "latin-1", "-o", out)
    assert pd.read_csv(out)["text"].tolist() == ["La Suède rejoint l'OTAN."]


# Bad input: one line naming the file (and line or column), exit code 2, no output, no traceback.

def bad_inputs(tmp: Path, models: Path) -> dict[str, tuple[list, list[str]]]:
    """Per case: the arguments after `predict`, and the words the error line must hold."""
    csv = write_table(table_of_sentences(), tmp / "ok.csv")
    no_text = write_table(pd.DataFrame({"headline": ["a"], "body": ["b"]}), tmp / "no_text.csv")
    latin = tmp / "latin.csv"
    latin.write_bytes("text\nfine\nLa Suède\n".encode("latin-1"))
    latin_doc = tmp / "latin.txt"
    latin_doc.write_bytes("First line.\nSecond, la Suède.\n".encode("latin-1"))
    jsonl = tmp / "broken.jsonl"
    jsonl.write_text('{"text": "fine"}\n{"text": "broken\n', encoding="utf-8")
    parquet = write_table(table_of_sentences(), tmp / "whole.parquet")
    truncated = tmp / "truncated.parquet"
    truncated.write_bytes(parquet.read_bytes()[: parquet.stat().st_size // 2])
    (tmp / "notes.docx").write_bytes(b"PK")
    corrupt = shutil.copytree(models, tmp / "corrupt")
    (corrupt / "stance/model.skops").write_bytes(b"not a model")
    relabeled = shutil.copytree(models, tmp / "relabeled")
    descriptor = relabeled / "bloc/MLmodel"
    descriptor.write_text(descriptor.read_text().replace("- west", "- nato"))
    return {
        "missing input": ([tmp / "nowhere.csv"], ["nowhere.csv", "no such file"]),
        "unknown extension": ([tmp / "notes.docx"], ["notes.docx", "unknown extension"]),
        "no text column": ([no_text], ["no_text.csv", "'text'", "headline, body"]),
        "not utf-8 table": ([latin], ["latin.csv", "line 3", "utf-8", "--encoding"]),
        "not utf-8 document": ([latin_doc], ["latin.txt", "line 2", "utf-8", "--encoding"]),
        "malformed jsonl": ([jsonl], ["broken.jsonl", "line 2", "malformed JSON"]),
        "truncated parquet": ([truncated], ["truncated.parquet", "Parquet"]),
        "missing models": ([csv, "--model", tmp / "no-models"], ["no-models", "does not exist"]),
        "corrupt model": ([csv, "--model", corrupt], ["corrupt/stance", "cannot load"]),
        "labels differ from the model's": ([csv, "--model", relabeled], ["relabeled/bloc", "predicts ['west']"]),
        "unknown task": ([csv, "--task", "mood"], ["mood"]),
    }


BAD_INPUTS = [
    "missing input", "unknown extension", "no text column", "not utf-8 table", "not utf-8 document",
    "malformed jsonl", "truncated parquet", "missing models", "corrupt model", "labels differ from the model's",
    "unknown task",
]


def assert_one_line_error(result, words: list[str]) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    assert "Traceback" not in result.output and result.stdout == ""


@pytest.mark.parametrize("case", BAD_INPUTS)
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_bad_input_is_one_line_and_leaves_the_output_alone(trained_models, tmp_path, case, suffix):
    args, words = bad_inputs(tmp_path, trained_models)[case]
    existing = tmp_path / f"existing{suffix}"
    existing.write_bytes(b"keep me")
    before = sorted(p.name for p in tmp_path.iterdir())
    models = [] if "--model" in args else ["--model", trained_models]
    result = stance("predict", *args, *models, "-o", existing)
    assert_one_line_error(result, words)
    assert existing.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize(
    "output, words",
    [("missing-dir/out.csv", ["missing-dir", "does not exist"]), ("out.xlsx", ["out.xlsx", "unknown output extension"])],
)
def test_bad_output_is_one_line_and_writes_nothing(trained_models, tmp_path, output, words):
    result = stance("predict", SEED, "--model", trained_models, "-o", tmp_path / output)
    assert_one_line_error(result, words)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_a_failure_late_in_the_run_leaves_no_partial_output(trained_models, tmp_path, suffix):
    """The first input is predicted and written, in batches, before the second turns out bad."""
    first = write_table(pd.DataFrame({"text": SENTENCES * 5}), tmp_path / "first.jsonl")
    second = tmp_path / "second.csv"
    second.write_bytes("text\nfine\nLa Su\u00e8de\n".encode("latin-1"))
    existing = tmp_path / f"out{suffix}"
    existing.write_bytes(b"old results")
    result = stance("predict", first, second, "--model", trained_models, "--batch-size", "2", "-o", existing)
    assert_one_line_error(result, ["second.csv", "line 3"])
    assert existing.read_bytes() == b"old results"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["first.jsonl", "second.csv", existing.name])


def test_tracebacks_do_not_show_local_variables():
    assert app.pretty_exceptions_show_locals is False


def test_mlflow_model_uri_from_a_temporary_store(trained_models, tmp_path):
    """A model registered in a temporary MLflow store predicts through the installed `stance`."""
    uri = register_in_temporary_store(trained_models / "stance", tmp_path)
    out = tmp_path / "out.csv"
    result = subprocess.run(
        [BIN / "stance", "predict", "-", "--model", "models:/natostance-stance@champion", "--task", "stance", "-o", out],
        input="\n".join(SENTENCES) + "\n", cwd=REPO, env={**tool_env(), "MLFLOW_TRACKING_URI": uri},
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["text", "stance", "stance_p"] and frame["text"].tolist() == SENTENCES
    assert_predictions(frame, ["stance"])


def test_evaluate_prints_and_writes_the_metrics(trained_models, tmp_path, gold_table):
    source = write_table(gold_table, tmp_path / "gold.csv")
    figures = tmp_path / "metrics.json"
    result = stance("evaluate", source, "--model", trained_models, "--json", figures)
    assert result.exit_code == 0, result.output
    for word in ("macro-F1", "accuracy", "F_avg", "favor", "russia", "assessment"):
        assert word in result.stdout
    written = json.loads(figures.read_text(encoding="utf-8"))
    assert list(written) == list(SCHEMA)
    assert written["stance"]["n"] == len(gold_table)
    assert 0.5 < written["stance"]["f_avg"] <= 1 and "f_avg" not in written["bloc"]
    for task, labels in SCHEMA.items():
        assert {f"f1.{label}" for label in labels} <= set(written[task])
        assert 0 <= written[task]["macro_f1"] <= 1 and 0 <= written[task]["accuracy"] <= 1
        assert sum(written[task][f"support.{label}"] for label in labels) == len(gold_table)
    assert written["stance"]["support.favor"] == (gold_table["stance"] == "favor").sum()
    assert "by_target" not in written["stance"]


def test_evaluate_counts_mistakes(trained_models, tmp_path, gold_table):
    """Flipping every gold stance to a wrong label must bring accuracy to zero."""
    wrong = gold_table.assign(stance=gold_table["stance"].map({"favor": "against", "against": "none", "none": "favor"}))
    predicted = stance("evaluate", write_table(wrong, tmp_path / "w.jsonl"), "--model", trained_models, "--task", "stance",
                       "--json", tmp_path / "m.json")
    assert predicted.exit_code == 0, predicted.output
    assert json.loads((tmp_path / "m.json").read_text())["stance"]["accuracy"] < 0.1


def test_evaluate_needs_gold_columns_with_known_labels(trained_models, tmp_path):
    plain = write_table(table_of_sentences(), tmp_path / "plain.csv")
    assert_one_line_error(stance("evaluate", plain, "--model", trained_models), ["plain.csv", "no gold label column"])
    odd = write_table(table_of_sentences().assign(stance=["favor", "pro", "none"]), tmp_path / "odd.csv")
    assert_one_line_error(stance("evaluate", odd, "--model", trained_models), ["odd.csv", "row 2", "'pro'"])


@pytest.fixture(scope="module")
def models_with_fast_set(trained_models, tmp_path_factory, gold_table) -> Path:
    """A models directory whose `fast/` set holds majority-class models (easy to tell apart)."""
    from pipeline.candidates import CandidateSettings, build
    from pipeline.config import Columns
    from pipeline.models import save_model

    folder = tmp_path_factory.mktemp("sets") / "models"
    shutil.copytree(trained_models, folder)
    settings = CandidateSettings.load(REPO / "configs/candidates.yaml")
    majority = next(c for c in settings.candidates if not c.features)
    (folder / "fast").mkdir()
    for task, labels in SCHEMA.items():
        model = build(majority, settings, Columns(), seed=0)
        model.fit(gold_table, gold_table[task])
        save_model(model, folder / "fast" / task, task, list(labels), ["text", "doc", "index"], "# fast test model\n",
                   carried_params(task))
    return folder


def test_fast_chooses_the_fast_model_set(models_with_fast_set, gold_table):
    sentences = "\n".join(SENTENCES) + "\n"
    default = stance("predict", "-", "--model", models_with_fast_set, "-q", input=sentences)
    fast = stance("predict", "-", "--model", models_with_fast_set, "--fast", "-q", input=sentences)
    assert default.exit_code == fast.exit_code == 0
    default_labels, fast_labels = (pd.read_csv(pd.io.common.StringIO(r.stdout)) for r in (default, fast))
    assert fast_labels["stance"].tolist() == [gold_table["stance"].mode()[0]] * len(SENTENCES)
    assert default_labels["stance"].tolist() != fast_labels["stance"].tolist()


def test_fast_takes_directories_not_uris(models_with_fast_set):
    result = stance("predict", "-", "--model", "models:/natostance-stance@champion", "--fast", "-q", input="NATO.\n")
    assert result.exit_code == 2
    assert result.output.strip() == ("error: models:/natostance-stance@champion: --fast takes models directories;"
                                     " name a fast model's URI (models:/natostance-fast-<task>@champion) with --model instead")


def stance_process(*args, input: str | None = None) -> subprocess.CompletedProcess:
    """The installed `stance` command in a process of its own, run from the repository."""
    return subprocess.run([BIN / "stance", *map(str, args)], input=input, cwd=REPO, env=tool_env(),
                          capture_output=True, text=True)


def assert_one_line_process_error(result: subprocess.CompletedProcess, words: list[str]) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.mark.parametrize("spelling", ["same path", "another spelling", "symbolic link", "inside an input folder"])
def test_the_output_never_replaces_an_input(tmp_path, gold_table, spelling):
    """`stance predict gold.csv -o gold.csv` would replace the gold labels with predictions."""
    gold = write_table(gold_table.head(3), tmp_path / "gold.csv")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.csv").symlink_to(gold)
    inputs, output = {
        "same path": ([gold], gold),
        "another spelling": ([gold], f"{tmp_path}/sub/../gold.csv"),
        "symbolic link": ([gold], tmp_path / "link.csv"),
        "inside an input folder": ([tmp_path], tmp_path / "sub/out.csv"),
    }[spelling]
    before, listing = gold.read_bytes(), sorted(tmp_path.rglob("*"))
    result = stance_process("predict", *inputs, "-o", output, "--quiet")
    assert_one_line_process_error(result, [str(output), "write the output elsewhere"])
    assert gold.read_bytes() == before and sorted(tmp_path.rglob("*")) == listing


def test_input_columns_named_like_the_predictions_are_refused(trained_models, tmp_path, gold_table):
    gold = write_table(gold_table.head(3), tmp_path / "gold.csv")
    result = stance("predict", gold, "--model", trained_models, "-o", tmp_path / "out.csv")
    assert_one_line_error(result, ["gold.csv", "stance, bloc, claim", "rename or drop them"])
    assert list(tmp_path.iterdir()) == [gold]


@pytest.mark.parametrize("rows, line", [(["NATO must grow, says Biden,AP", "Russia objects,TASS"], 2),
                                        (["Russia objects,TASS", "NATO must grow, says Biden,AP"], 3)])
def test_a_row_with_a_field_too_many_is_one_line_naming_the_line(trained_models, tmp_path, rows, line):
    """A first row one field too long made pandas take the first column as an index: every row
    shifted, labeled silently. It gets the error a later row gets."""
    source = tmp_path / "ragged.csv"
    source.write_text("\n".join(["text,source", *rows]) + "\n", encoding="utf-8")
    result = stance_process("predict", source, "--model", trained_models, "-o", tmp_path / "out.csv")
    assert_one_line_process_error(result, [f"{source}: malformed CSV (Expected 2 fields in line {line}, saw 3)"])
    assert list(tmp_path.iterdir()) == [source]


def test_a_model_uri_against_a_missing_tracking_store_creates_no_store(tmp_path):
    uri = f"sqlite:///{tmp_path / 'nowhere.db'}"
    result = subprocess.run(
        [BIN / "stance", "predict", "-", "--model", "models:/natostance-stance@champion", "--task", "stance"],
        input="NATO's door remains open.\n", cwd=REPO, env={**tool_env(), "MLFLOW_TRACKING_URI": uri},
        capture_output=True, text=True,
    )
    assert_one_line_process_error(result, [f"{uri}: tracking store unusable", "no such file"])
    assert list(tmp_path.iterdir()) == []


@contextmanager
def tmpfs(folder: Path, options: str):
    """A tmpfs mounted on `folder` (a new folder) with mount `options`; the test is skipped where
    no tmpfs can be mounted (a user other than root, a container without the capability)."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", folder], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", folder], check=True)


@contextmanager
def read_only_folder(folder: Path):
    """A folder no file can be written into: a read-only tmpfs for root (whom permissions do not
    stop), a folder without write permission for anyone else."""
    if os.geteuid() == 0:
        with tmpfs(folder, "ro,size=64k"):
            yield folder
        return
    folder.mkdir()
    folder.chmod(0o555)
    try:
        yield folder
    finally:
        folder.chmod(0o755)


def large_table(path: Path) -> Path:
    """300 rows, about 170 kB as predictions in CSV."""
    return write_table(pd.DataFrame({"text": SENTENCES * 100, "notes": ["n" * 500] * 300}), path)


def test_a_full_disk_is_one_line_naming_the_output_and_leaves_nothing(trained_models, tmp_path):
    source = large_table(tmp_path / "big.csv")
    with tmpfs(tmp_path / "small", "size=64k") as small:
        out = small / "out.csv"
        result = stance_process("predict", source, "--model", trained_models, "-o", out, "--quiet")
        assert_one_line_process_error(result, [f"error: {out}: No space left on device"])
        assert list(small.iterdir()) == []


def test_a_read_only_output_folder_is_one_line_naming_the_output(trained_models, tmp_path):
    source = large_table(tmp_path / "big.csv")
    with read_only_folder(tmp_path / "locked") as locked:
        out = locked / "out.csv"
        result = stance_process("predict", source, "--model", trained_models, "-o", out, "--quiet")
        cause = "Read-only file system" if os.geteuid() == 0 else "Permission denied"
        assert_one_line_process_error(result, [f"error: {out}: {cause}"])
        assert list(locked.iterdir()) == []



NON_TEXT = {  # case: the second row's text, and how the error line describes it
    "parquet binary": (b"NATO must grow", "holds binary values"),
    "parquet number": (12, "holds double values"),  # pandas writes a number column with a null as double
    "jsonl number": (12, "holds a number (12)"),
    "jsonl list": (["NATO", "grows"], 'holds a list (["NATO", "grows"])'),
    "jsonl object": ({"a": 1}, 'holds an object ({"a": 1})'),
}


@pytest.mark.parametrize("case", list(NON_TEXT))
def test_text_that_is_not_a_string_is_refused_in_one_line(trained_models, tmp_path, case):
    """Such text was turned into a string ("12", "['NATO', 'grows']", "b'...'") and labeled with
    high confidence, or gave a 162-line traceback."""
    value, description = NON_TEXT[case]
    if case.startswith("parquet"):
        source = write_table(pd.DataFrame({"text": [None, value, value]}), tmp_path / "table.parquet")
        where = "row 2"
    else:
        source = tmp_path / "table.jsonl"
        source.write_text("\n".join(json.dumps({"text": t}) for t in [SENTENCES[0], value, SENTENCES[1]]) + "\n")
        where = "line 2"
    result = stance("predict", source, "--model", trained_models, "-o", tmp_path / "out.csv")
    assert_one_line_error(result, [f"{source}: {where}: column 'text' {description}", "not text"])
    assert list(tmp_path.iterdir()) == [source]


@pytest.fixture
def small_limit(tmp_path) -> Path:
    """The project's parameters with texts limited to 100 characters (`segment.max_chars`)."""
    import yaml

    from pipeline.config import load_params

    settings = load_params(REPO / "configs/params.yaml")  # the files it names, as absolute paths
    settings["segment"]["max_chars"] = 100
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix, where", [(".csv", "row 3"), (".tsv", "row 3"), (".jsonl", "line 3"),
                                           (".parquet", "row 3"), ("-", "line 3")])
def test_a_text_longer_than_a_document_may_be_is_refused_in_one_line(trained_models, tmp_path, small_limit,
                                                                      suffix, where):
    """A 50 MB cell ran for 3 minutes in 9.9 GB of memory, then crashed in spaCy."""
    texts = [SENTENCES[0], SENTENCES[1], "NATO " * 30]
    out = tmp_path / "out.csv"
    if suffix == "-":
        source, piped = "-", "\n".join(texts) + "\n"
    else:
        source, piped = write_table(pd.DataFrame({"text": texts}), tmp_path / f"long{suffix}"), None
    result = stance("predict", source, "--model", trained_models, "--params", small_limit, "--batch-size", "2",
                    "-o", out, input=piped)
    name = "<stdin>" if source == "-" else source
    assert_one_line_error(result, [f"{name}: {where}: column 'text': 150 characters, more than segment.max_chars=100"])
    assert not out.exists()



def writing_run(models: Path, out: Path) -> subprocess.Popen:
    """`stance predict - -o OUT` in its own process, once it has begun its temporary output: its
    standard input stays open, so it waits there for more sentences."""
    import time

    process = subprocess.Popen([BIN / "stance", "predict", "-", "--model", models, "-o", out, "--quiet"],
                               stdin=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, env=tool_env())
    process.stdin.write(b"NATO's door remains open.\n")
    process.stdin.flush()
    deadline = time.monotonic() + 60
    while not list(out.parent.glob(f".{out.name}.*.tmp")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert process.poll() is None and list(out.parent.glob(f".{out.name}.*.tmp")), process.stderr.read()
    return process


def test_sigterm_stops_predict_without_leaving_its_temporary_file(trained_models, tmp_path):
    """`timeout`, docker and systemd stop with SIGTERM, which left the hidden temporary output behind."""
    import signal

    process = writing_run(trained_models, tmp_path / "out.csv")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) != 0
    assert list(tmp_path.iterdir()) == []


def test_the_temporary_file_of_a_killed_run_is_swept_by_the_next(trained_models, predict, tmp_path):
    """SIGKILL gives no chance to clean up: the next run writing the same output removes what a
    dead process left, and keeps what a running one writes."""
    import signal
    import socket

    out = tmp_path / "out.csv"
    process = writing_run(trained_models, out)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert len(list(tmp_path.iterdir())) == 1
    # Temporary files are named after the host and process writing them; this one is this test's.
    running = tmp_path / f".out.csv.{socket.gethostname()}.{os.getpid()}.live.tmp"
    running.write_text("partial")
    predict("-", "-o", out, input="NATO's door remains open.\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([out.name, running.name])


def test_a_document_that_fails_to_decode_prints_nothing_on_standard_output(trained_models, tmp_path):
    """The CSV header reached standard output before the error."""
    latin = tmp_path / "latin.txt"
    latin.write_bytes("First line.\nSecond, la Su\xe8de.\n".encode("latin-1"))
    result = stance("predict", latin, "--model", trained_models)
    assert_one_line_error(result, ["latin.txt", "line 2", "utf-8"])


def test_a_folder_input_skips_hidden_folders_and_readmes_and_says_so(predict, tmp_path):
    """A directory input read the files inside `.git/` and `.venv/` too, and labeled seeds/README.md
    as an article."""
    folder = tmp_path / "inputs"
    for name in ("article.txt", ".git/notes.csv", ".venv/lib/x.txt", "sub/.cache/y.txt", "sub/.draft.txt",
                 "README.md", "sub/readme.txt"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SEED, folder / name)
    (folder / "sub/kept.txt").write_text("NATO's door remains open.\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    result = predict(folder, "-o", out)
    assert set(pd.read_csv(out)["input_file"]) == {str(folder / "article.txt"), str(folder / "sub/kept.txt")}
    skipped = ".git/, .venv/, sub/.cache/, sub/.draft.txt"
    assert result.stderr.splitlines() == [
        f"{folder}: skipped hidden files and folders: {skipped}",
        f"{folder}: skipped README files (documentation, not articles): README.md, sub/readme.txt"]


def test_params_name_files_relative_to_the_params_file(trained_models, tmp_path, monkeypatch):
    """`--params` paths (schema, examples, candidates, lexicons) were relative to the current folder."""
    from pipeline.candidates import CandidateSettings

    params = REPO / "configs/params.yaml"
    predicted = subprocess.run([BIN / "stance", "predict", "-", "--model", trained_models, "--params", params],
                               input="NATO's door remains open.\n", cwd=tmp_path, env=tool_env(), capture_output=True,
                               text=True)
    assert predicted.returncode == 0, predicted.stderr
    assert pd.read_csv(io.StringIO(predicted.stdout))["stance"].isin(SCHEMA["stance"]).all()
    checked = subprocess.run([BIN / "stance", "labels", "check", "--params", params, "--gold", REPO / "labels/gold.jsonl",
                              "--corpus", REPO / "seeds"], cwd=tmp_path, env=tool_env(), capture_output=True, text=True)
    assert checked.returncode == 0 and "examples.jsonl" in checked.stdout, checked.stderr
    monkeypatch.chdir(tmp_path)
    assert CandidateSettings.load(REPO / "configs/candidates.yaml").lexicons


@pytest.mark.parametrize("command", ["evaluate --json", "labels todo -o", "labels export -o", "labels agreement --json"])
def test_other_commands_never_write_over_their_input(trained_models, tmp_path, gold_table, command):
    """`stance labels todo -o labels/gold.jsonl` replaced the gold labels with the queue."""
    gold = tmp_path / "gold.jsonl"
    gold.write_text(gold_table.head(3).to_json(orient="records", lines=True), encoding="utf-8")
    before = gold.read_bytes()
    args = {
        "evaluate --json": ["evaluate", gold, "--model", trained_models, "--json", gold],
        "labels todo -o": ["labels", "todo", "--gold", gold, "--model", trained_models, "-o", gold],
        "labels export -o": ["labels", "export", "--gold", gold, "--model", trained_models, "-o", gold],
        "labels agreement --json": ["labels", "agreement", gold, gold, "--json", gold],
    }[command]
    assert_one_line_error(stance(*args), [f"{gold}: is the input {gold}; write the output elsewhere"])
    assert gold.read_bytes() == before
