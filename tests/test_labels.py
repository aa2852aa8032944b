"""The gold-label check, the labeled data set, agreement and the labeling queue."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import REPO, tool_env
from pipeline.agreement import agreement
from pipeline.cli import app
from pipeline.config import Schema
from pipeline.dataset import build_dataset, load_dataset_file
from pipeline.files import read_jsonl
from pipeline.labels import check_labels

SCHEMA = Schema.load(REPO / "configs/schema.yaml")
GOLD = read_jsonl(REPO / "labels/gold.jsonl")
PARAMS = str(REPO / "configs/params.yaml")


@pytest.fixture(scope="module")
def sentences(gold_table) -> list[dict]:
    return gold_table.drop(columns=list(SCHEMA.tasks)).to_dict("records")


def write(path: Path, records: list, raw_lines: dict[int, str] | None = None) -> Path:
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    for number, raw in (raw_lines or {}).items():
        lines[number - 1] = raw
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def messages(path: Path, sentences: list[dict]) -> list[str]:
    return [str(problem) for problem in check_labels(path, sentences, SCHEMA)]


def test_the_project_gold_file_has_no_problem(sentences) -> None:
    assert check_labels(REPO / "labels/gold.jsonl", sentences, SCHEMA) == []
    assert len(GOLD) == len(sentences)


def test_value_outside_its_set_names_file_and_line(tmp_path, sentences) -> None:
    broken = [dict(r) for r in GOLD]
    broken[4]["stance"] = "pro"
    found = messages(write(tmp_path / "gold.jsonl", broken), sentences)
    assert found == [f"{tmp_path / 'gold.jsonl'}:5: stance='pro' is not one of ['favor', 'against', 'none']"]


def test_broken_consistency_rule(tmp_path, sentences) -> None:
    broken = [dict(r) for r in GOLD]
    index = next(i for i, r in enumerate(broken) if r["bloc"] == "none")
    broken[index]["stance"] = "favor"
    found = messages(write(tmp_path / "gold.jsonl", broken), sentences)
    assert len(found) == 1 and f":{index + 1}: bloc=none requires stance in ['none'], got stance=favor" in found[0]


def test_duplicate_id(tmp_path, sentences) -> None:
    found = messages(write(tmp_path / "gold.jsonl", [*GOLD, GOLD[0]]), sentences)
    assert found == [f"{tmp_path / 'gold.jsonl'}:{len(GOLD) + 1}: duplicate id {GOLD[0]['id']} (first on line 1)"]


def test_sentence_without_label(tmp_path, sentences) -> None:
    found = messages(write(tmp_path / "gold.jsonl", GOLD[1:]), sentences)
    assert len(found) == 1 and f"no label for sentence {GOLD[0]['id']}" in found[0]


def test_label_whose_sentence_no_longer_exists(tmp_path, sentences) -> None:
    found = messages(write(tmp_path / "gold.jsonl", GOLD), sentences[1:])
    assert found == [
        f"{tmp_path / 'gold.jsonl'}:1: id {GOLD[0]['id']} is no sentence of the corpus (was its document edited or removed?)"
    ]


def test_label_whose_text_no_longer_matches(tmp_path, sentences) -> None:
    edited = [dict(s) for s in sentences]
    edited[2]["text"] = edited[2]["text"] + " (edited)"
    found = messages(write(tmp_path / "gold.jsonl", GOLD), edited)
    assert len(found) == 1 and found[0].startswith(f"{tmp_path / 'gold.jsonl'}:3: text no longer matches")


def test_malformed_line_and_unreviewed_suggestion(tmp_path, sentences) -> None:
    records = [dict(r) for r in GOLD]
    records[7]["suggested"] = {"stance": 0.5}
    found = messages(write(tmp_path / "gold.jsonl", records, {3: "{not json"}), sentences)
    assert any(m.startswith(f"{tmp_path / 'gold.jsonl'}:3: malformed JSON") for m in found)
    assert any(m.startswith(f"{tmp_path / 'gold.jsonl'}:8: still marked 'suggested'") for m in found)


def test_check_command_exit_codes(tmp_path) -> None:
    command = [str(Path(sys.executable).parent / "stance"), "labels", "check"]
    ok = subprocess.run(command, cwd=REPO, env=tool_env(), capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    broken = write(tmp_path / "gold.jsonl", GOLD[:-1])
    bad = subprocess.run([*command, "--gold", str(broken)], cwd=REPO, env=tool_env(), capture_output=True, text=True)
    assert bad.returncode == 1
    assert f"no label for sentence {GOLD[-1]['id']}" in bad.stderr and "Traceback" not in bad.stderr


def test_dataset_stage_refuses_labels_that_fail_the_check(tmp_path, sentences) -> None:
    sentences_file = write(tmp_path / "sentences.jsonl", sentences)
    broken = [dict(r) for r in GOLD]
    broken[0]["claim"] = "rumour"
    gold = write(tmp_path / "gold.jsonl", broken)
    output = tmp_path / "dataset.parquet"
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.stages.dataset", str(sentences_file), str(gold), str(output)],
        cwd=REPO, env=tool_env(), capture_output=True, text=True,
    )
    assert result.returncode != 0
    assert "claim='rumour' is not one of" in result.stderr
    assert not output.exists()


def test_dataset_round_trips_through_parquet(tmp_path, sentences) -> None:
    dataset = build_dataset(sentences, GOLD, SCHEMA)
    assert dataset.num_rows == len(GOLD)
    assert dataset.features["stance"].names == ["favor", "against", "none"]
    dataset.to_parquet(str(tmp_path / "d.parquet"))
    loaded = load_dataset_file(tmp_path / "d.parquet")
    assert loaded.features == dataset.features
    assert loaded.to_list() == dataset.to_list()
    by_id = {r["id"]: r for r in GOLD}
    row = loaded[10]
    assert loaded.features["bloc"].int2str(row["bloc"]) == by_id[row["id"]]["bloc"]


def test_kappa_on_a_hand_made_example() -> None:
    # 50 items: both yes 20, first yes / second no 5, first no / second yes 10, both no 15.
    # p_o = 0.7, p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.5, kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4.
    pairs = [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 + [("no", "no")] * 15
    first = [{"id": str(i), "stance": a} for i, (a, _) in enumerate(pairs)]
    second = [{"id": str(i), "stance": b} for i, (_, b) in enumerate(pairs)]
    result = agreement(first, second, ["stance"])["stance"]
    assert result["n"] == 50
    assert result["raw_agreement"] == pytest.approx(0.7)
    assert result["cohen_kappa"] == pytest.approx(0.4)


def test_agreement_lists_the_disagreements_of_the_project_passes(tmp_path) -> None:
    passes = [REPO / "labels/passes/pass_a.jsonl", REPO / "labels/passes/pass_b.jsonl"]
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["labels", "agreement", *map(str, passes), "--json",
                                                            str(tmp_path / "agreement.json"), "--texts",
                                                            str(REPO / "labels/gold.jsonl"), "--params", PARAMS])
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "agreement.json").read_text(encoding="utf-8"))
    first, second = ({r["id"]: r for r in read_jsonl(path)} for path in passes)
    differing = [i for i in first if any(first[i][task] != second[i][task] for task in SCHEMA.tasks)]
    assert [row["id"] for row in written["disagreements"]] == differing and f"{len(differing)} disagreement(s)" in result.stdout
    texts = {r["id"]: r["text"] for r in GOLD}
    for row in written["disagreements"]:
        assert row["text"] == texts[row["id"]] and row["id"] in result.stdout
        assert row["labels"] == {task: [first[row["id"]][task], second[row["id"]][task]] for task in SCHEMA.tasks
                                 if first[row["id"]][task] != second[row["id"]][task]}
    assert written["stance"]["n"] == len(first)


def test_todo_queues_new_sentences_least_confident_first(tmp_path, trained_models) -> None:
    from pipeline.models import load_models
    from pipeline.segmentation import Segmenter
    from pipeline.todo import todo_records

    corpus = Segmenter().segment("NATO allies said the door stays open.\nMoscow demanded guarantees.\nIt rained.", "new.txt")
    models = load_models([str(trained_models)], SCHEMA.tasks)
    records = todo_records(corpus, {r["id"] for r in GOLD}, list(SCHEMA.tasks), models)
    assert {r["id"] for r in records} == {s["id"] for s in corpus}
    least = [min(r["suggested"].values()) for r in records]
    assert least == sorted(least)
    assert all(r[task] in SCHEMA.tasks[task] for r in records for task in SCHEMA.tasks)
    plain = todo_records(corpus, set(), list(SCHEMA.tasks))
    assert [r["text"] for r in plain] == [s["text"] for s in corpus] and plain[0]["stance"] == ""


def test_todo_command_writes_the_queue_for_a_new_document(tmp_path, trained_models) -> None:
    corpus = tmp_path / "seeds"
    corpus.mkdir()
    for path in (REPO / "seeds").glob("*.txt"):
        (corpus / path.name).write_bytes(path.read_bytes())
    (corpus / "005_new.txt").write_text("date 2022-02-01 Moscow again demanded that NATO halt its expansion.\n")
    output = tmp_path / "todo.jsonl"
    result = subprocess.run(
        [str(Path(sys.executable).parent / "stance"), "labels", "todo", "-o", str(output), "--corpus", str(corpus),
         "--model", str(trained_models)],
        cwd=REPO, env=tool_env(), capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
    (record,) = read_jsonl(output)
    assert record["doc"] == "005_new.txt" and record["text"].startswith("Moscow again demanded")
    assert set(record["suggested"]) == set(SCHEMA.tasks) and record["stance"] in SCHEMA.tasks["stance"]


def test_todo_records_carry_position_and_context(tmp_path) -> None:
    held = 6  # the last sentences of the last document
    gold = write(tmp_path / "gold.jsonl", GOLD[:-held])
    result = CliRunner().invoke(app, ["labels", "todo", "-o", str(tmp_path / "todo.jsonl"), "--gold", str(gold),
                                      "--model", str(tmp_path / "no-models"), "--context", "1", "--corpus",
                                      str(REPO / "seeds"), "--params", PARAMS])
    assert result.exit_code == 0, result.output
    queue = read_jsonl(tmp_path / "todo.jsonl")
    assert [r["id"] for r in queue] == [r["id"] for r in GOLD[-held:]]  # the gold file is in corpus order
    for record, position in zip(queue, range(len(GOLD) - held, len(GOLD))):
        assert record["doc"] == GOLD[position]["doc"] and record["before"] == GOLD[position - 1]["text"]
        assert record["after"] == (GOLD[position + 1]["text"] if position + 1 < len(GOLD) else "")
    assert [r["index"] for r in queue] == list(range(queue[0]["index"], queue[0]["index"] + held))
    labeled = [{**record, **{task: label[task] for task in SCHEMA.tasks}} for record, label in zip(queue, GOLD[-held:])]
    found = messages(write(tmp_path / "appended.jsonl", [*GOLD[:-held], *labeled]), [])
    assert sum("still has the queue's context (before, after)" in m for m in found) == held


def gold_with_a_latin1_line(path: Path) -> Path:
    """The gold file with one byte that is not UTF-8 (Latin-1 'é') on line 5."""
    lines = write(path, GOLD).read_bytes().splitlines(keepends=True)
    lines[4] = lines[4].replace(b'"text": "', b'"text": "\xe9', 1)
    path.write_bytes(b"".join(lines))
    return path


def test_a_byte_that_is_not_utf8_is_a_problem_of_its_line(tmp_path, sentences) -> None:
    """It was a 52-line traceback, in `stance labels check` and in the dataset stage."""
    gold = gold_with_a_latin1_line(tmp_path / "gold.jsonl")
    expected = f"{gold}:5: bytes that are not UTF-8 ("
    check = subprocess.run([str(Path(sys.executable).parent / "stance"), "labels", "check", "--gold", str(gold)],
                           cwd=REPO, env=tool_env(), capture_output=True, text=True)
    stage = subprocess.run(
        [sys.executable, "-m", "pipeline.stages.dataset", str(write(tmp_path / "sentences.jsonl", sentences)), str(gold),
         str(tmp_path / "dataset.parquet")],
        cwd=REPO, env=tool_env(), capture_output=True, text=True,
    )
    for result in (check, stage):
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert [line for line in result.stderr.splitlines() if line.startswith(expected)], result.stderr
    assert not (tmp_path / "dataset.parquet").exists()
