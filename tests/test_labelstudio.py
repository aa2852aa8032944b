"""The Label Studio round trip: `stance labels export` writes what Label Studio imports, and
`stance labels import` reads Label Studio's JSON export back into the gold file, with its checks.

The export files below are written by hand in the shape Label Studio documents for its JSON
export (a list of tasks, each with `id`, `data` and `annotations` of `result`, `completed_by`,
`was_cancelled` and `ground_truth`).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import REPO
from pipeline.cli import app
from pipeline.config import Schema
from pipeline.files import read_jsonl

SCHEMA = Schema.load(REPO / "configs/schema.yaml")
GOLD = read_jsonl(REPO / "labels/gold.jsonl")
HELD = GOLD[-6:]  # the last sentences of the last document: labeled again through Label Studio
TASKS = list(SCHEMA.tasks)


def stance(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def write_gold(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def partial_gold(tmp_path) -> Path:
    """The project's gold file without the labels of `HELD`."""
    return write_gold(tmp_path / "gold.jsonl", GOLD[:-len(HELD)])


def export(folder: Path, gold: Path, model: Path) -> list[dict]:
    result = stance("labels", "export", "-o", folder, "--gold", gold, "--model", model, "--corpus", REPO / "seeds",
                    "--params", REPO / "configs/params.yaml")
    assert result.exit_code == 0, result.output
    assert f"{folder / 'tasks.json'}: {len(HELD)} sentences to label" in result.stdout
    return json.loads((folder / "tasks.json").read_text(encoding="utf-8"))


def import_(export_file: Path, gold: Path, *args):
    return stance("labels", "import", export_file, "--gold", gold, "--corpus", REPO / "seeds",
                  "--params", REPO / "configs/params.yaml", *args)


def controls(config: Path) -> dict[str, ElementTree.Element]:
    """The labeling config's control tags by name, after checking that every object tag's `$field`
    and every control's `toName` exist."""
    root = ElementTree.parse(config).getroot()
    assert root.tag == "View"
    objects = {tag.get("name"): tag for tag in root.iter("Text")}
    found = {tag.get("name"): tag for tag in root.iter() if tag.get("toName")}
    assert all(tag.get("toName") in objects for tag in found.values())
    return found


def check_result(item: dict, controls: dict[str, ElementTree.Element]) -> None:
    """A result item as Label Studio checks it against the labeling config."""
    control = controls[item["from_name"]]
    assert item["to_name"] == control.get("toName") and item["type"] == control.tag.lower()
    if item["type"] == "choices":
        assert len(item["value"]["choices"]) == 1
        assert item["value"]["choices"][0] in [choice.get("value") for choice in control.iter("Choice")]


def test_export_writes_tasks_and_the_labeling_config(tmp_path, partial_gold, trained_models) -> None:
    tasks = export(tmp_path / "labelstudio", partial_gold, trained_models)
    found = controls(tmp_path / "labelstudio/config.xml")
    for task in TASKS:
        assert found[task].tag == "Choices" and found[task].get("choice").startswith("single")
        assert [choice.get("value") for choice in found[task].iter("Choice")] == list(SCHEMA.tasks[task])
    config = (tmp_path / "labelstudio/config.xml").read_text(encoding="utf-8")
    by_id = {record["id"]: record for record in GOLD}
    assert {task["data"]["id"] for task in tasks} == {record["id"] for record in HELD}
    for task in tasks:
        data = task["data"]
        assert set(re.findall(r"\$(\w+)", config)) <= set(data)
        assert data["text"] == by_id[data["id"]]["text"] and data["doc"] == by_id[data["id"]]["doc"]
        assert isinstance(data["index"], int) and data["before"] and data["text"] not in data["before"]
        (prediction,) = task["predictions"]
        assert all(str(trained_models / name) in prediction["model_version"] for name in TASKS)
        assert [item["from_name"] for item in prediction["result"]] == TASKS
        for item in prediction["result"]:
            check_result(item, found)
    scores = [task["predictions"][0]["score"] for task in tasks]
    assert scores == sorted(scores) and all(0 < score <= 1 for score in scores)


def annotation(number: int, labels: dict, annotator, note: str = "", **flags) -> dict:
    """One annotation as Label Studio exports it."""
    result = [{"id": f"r{number}{task}", "from_name": task, "to_name": "text", "type": "choices",
               "value": {"choices": [labels[task]]}, "origin": "manual"} for task in TASKS]
    if note:
        result.append({"id": f"r{number}note", "from_name": "note", "to_name": "text", "type": "textarea",
                       "value": {"text": [note]}, "origin": "manual"})
    return {"id": number, "result": result, "was_cancelled": False, "ground_truth": False, "lead_time": 12.5,
            "created_at": "2026-01-05T10:00:00.000000Z", "updated_at": "2026-01-05T10:00:00.000000Z",
            "completed_by": annotator, "task": number // 10, **flags}


def other_labels(labels: dict) -> dict:
    """The same labels with another claim."""
    return {**labels, "claim": next(c for c in SCHEMA.tasks["claim"] if c != labels["claim"])}


def label_studio_export(tasks: list[dict], path: Path) -> Path:
    """The tasks as annotated in Label Studio and exported as JSON: each of the six held sentences
    in another situation (one annotator with a note; two who agree; two who disagree, one marked
    ground truth; one plus a cancelled one; skipped; two who disagree)."""
    by_id = {record["id"]: record for record in HELD}
    exported = []
    for number, task in enumerate(sorted(tasks, key=lambda task: task["data"]["index"]), start=1):
        right = {name: by_id[task["data"]["id"]][name] for name in TASKS}
        first = 10 * number
        annotations = [
            [annotation(first, right, 1, note="a hard case")],
            [annotation(first, right, 1), annotation(first + 1, right, {"id": 3, "email": "c@example.org"})],
            [annotation(first, other_labels(right), 1), annotation(first + 1, right, 2, ground_truth=True)],
            [annotation(first, right, 1), {**annotation(first + 1, right, 2), "result": [], "was_cancelled": True}],
            [{**annotation(first, right, 1), "result": [], "was_cancelled": True}],
            [annotation(first, right, 1), annotation(first + 1, other_labels(right), 2)],
        ][number - 1]
        exported.append({"id": number, "data": task["data"], "annotations": annotations, "drafts": [],
                         "predictions": [], "project": 3, "created_at": "2026-01-05T09:00:00.000000Z",
                         "updated_at": "2026-01-05T10:00:00.000000Z", "inner_id": number, "total_annotations":
                         len(annotations), "cancelled_annotations": 0, "file_upload": "tasks.json"})
    path.write_text(json.dumps(exported, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def test_round_trip_through_a_label_studio_export(tmp_path, partial_gold) -> None:
    tasks = export(tmp_path / "labelstudio", partial_gold, tmp_path / "no-models")
    assert all("predictions" not in task for task in tasks)
    exported = label_studio_export(tasks, tmp_path / "project-3-at-2026-01-05.json")
    before = partial_gold.read_bytes()

    result = import_(exported, partial_gold, "--passes", tmp_path / "passes")
    assert result.exit_code == 0, result.output
    assert f"{partial_gold}: 4 added, 0 replaced, 0 unchanged (1 task(s) without annotation)" in result.stdout
    skipped, disagreed = HELD[4]["id"], HELD[5]["id"]
    assert f"task 6 (sentence {disagreed}): annotators disagree on claim: {HELD[5]['claim']} (1)" in result.stdout
    assert partial_gold.read_bytes().startswith(before)  # the lines it had are kept as they were
    imported = read_jsonl(partial_gold)[len(GOLD) - len(HELD):]
    expected = [{key: held[key] for key in ("id", "doc", "text", *TASKS)} for held in HELD[:4]]
    assert imported == [{**expected[0], "note": "a hard case"}, *expected[1:]]

    checked = stance("labels", "check", "--gold", partial_gold, "--corpus", REPO / "seeds",
                     "--params", REPO / "configs/params.yaml")
    assert checked.exit_code == 1
    unlabeled = [line for line in checked.stderr.splitlines() if "no label for sentence" in line]
    assert len(unlabeled) == 2 and skipped in unlabeled[0] + unlabeled[1] and disagreed in unlabeled[0] + unlabeled[1]
    assert len(checked.stderr.strip().splitlines()) == 3  # those two and the summary: no other problem

    again = import_(exported, partial_gold)
    assert again.exit_code == 0 and "0 added, 0 replaced, 4 unchanged" in again.stdout

    # one pass per annotator, as `labels agreement` reads them: 1 and 2 both labeled tasks 3 and 6
    assert sorted(p.name for p in (tmp_path / "passes").iterdir()) == ["1.jsonl", "2.jsonl", "c@example.org.jsonl"]
    assert [r["id"] for r in read_jsonl(tmp_path / "passes/1.jsonl")] == [r["id"] for r in HELD[:4] + HELD[5:]]
    compared = stance("labels", "agreement", tmp_path / "passes/1.jsonl", tmp_path / "passes/2.jsonl", "--json",
                      tmp_path / "agreement.json", "--texts", partial_gold, "--params", REPO / "configs/params.yaml")
    assert compared.exit_code == 0, compared.output
    listed = json.loads((tmp_path / "agreement.json").read_text(encoding="utf-8"))["disagreements"]
    assert [(row["id"], list(row["labels"])) for row in listed] == [(HELD[2]["id"], ["claim"]), (disagreed, ["claim"])]


def export_with(tmp_path: Path, change) -> Path:
    """A valid export of the held sentences, one annotator each, after `change(tasks)`."""
    by_id = {record["id"]: record for record in HELD}
    tasks = [{"id": number, "data": {k: record[k] for k in ("id", "doc", "text")}, "annotations": [
        annotation(10 * number, {task: by_id[record["id"]][task] for task in TASKS}, 1)]}
        for number, record in enumerate(HELD, start=1)]
    change(tasks)
    path = tmp_path / "export.json"
    path.write_text(json.dumps(tasks, indent=2), encoding="utf-8")
    return path


def choice_of(tasks: list[dict], number: int, task: str) -> dict:
    return next(item for item in tasks[number - 1]["annotations"][0]["result"] if item["from_name"] == task)["value"]


BAD_EXPORTS = {
    "unknown label": (lambda tasks: choice_of(tasks, 2, "stance").update(choices=["pro"]),
                      ["task 2, annotation 20:", "stance='pro' is not one of"]),
    "unknown sentence": (lambda tasks: tasks[2]["data"].update(id="0123456789abcdef"),
                         ["task 3:", "id 0123456789abcdef is no sentence of the corpus"]),
    "broken rule": (lambda tasks: (choice_of(tasks, 1, "bloc").update(choices=["none"]),
                                   choice_of(tasks, 1, "stance").update(choices=["favor"])),
                    ["task 1, annotation 10:", "bloc=none requires stance in ['none']"]),
    "unknown field": (lambda tasks: tasks[3]["annotations"][0]["result"][0].update(from_name="sentiment"),
                      ["task 4, annotation 40:", "unknown field 'sentiment'"]),
    "two choices": (lambda tasks: choice_of(tasks, 5, "claim").update(choices=["fact", "other"]),
                    ["task 5, annotation 50:", "claim needs exactly one choice"]),
    "missing choice": (lambda tasks: tasks[5]["annotations"][0]["result"].pop(),
                       ["task 6, annotation 60:", "no choice for claim"]),
    "not an annotation": (lambda tasks: tasks[1].update(annotations=["done"]),
                          ["task 2: annotations: expected a list of objects"]),
    "not a label": (lambda tasks: choice_of(tasks, 3, "bloc").update(choices=[{"west": True}]),
                    ["task 3, annotation 30:", "bloc needs exactly one choice"]),
}


@pytest.mark.parametrize("case", BAD_EXPORTS)
def test_a_bad_export_is_one_line_and_leaves_the_gold_alone(tmp_path, partial_gold, case) -> None:
    change, words = BAD_EXPORTS[case]
    exported = export_with(tmp_path, change)
    before = partial_gold.read_bytes()
    result = import_(exported, partial_gold)
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {exported}: ") and all(word in line for word in words), line
    assert "Traceback" not in result.output and partial_gold.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.json", "gold.jsonl"]  # no temporary file left


def test_malformed_export_names_its_line(tmp_path, partial_gold) -> None:
    exported = export_with(tmp_path, lambda tasks: None)
    lines = exported.read_text(encoding="utf-8").splitlines()
    lines[6] = lines[6].replace(":", ": nope", 1)
    exported.write_text("\n".join(lines), encoding="utf-8")
    result = import_(exported, partial_gold)
    assert result.exit_code == 2 and result.stderr.startswith(f"error: {exported}: line 7: malformed JSON")
    assert len(result.stderr.splitlines()) == 1


def test_other_labels_for_a_gold_sentence_need_replace(tmp_path) -> None:
    gold = write_gold(tmp_path / "gold.jsonl", GOLD)
    before = gold.read_bytes()
    changed = export_with(tmp_path, lambda tasks: choice_of(tasks, 1, "claim").update(
        choices=[other_labels(HELD[0])["claim"]]))
    refused = import_(changed, gold)
    assert refused.exit_code == 2 and gold.read_bytes() == before
    assert f"task 1: sentence {HELD[0]['id']} has other labels on {gold}:{len(GOLD) - 5}" in refused.stderr
    replaced = import_(changed, gold, "--replace")
    assert replaced.exit_code == 0 and "0 added, 1 replaced, 5 unchanged" in replaced.stdout
    records = read_jsonl(gold)
    assert len(records) == len(GOLD) and records[-6]["claim"] == other_labels(HELD[0])["claim"]
    assert records[:-6] == GOLD[:-6] and records[-5:] == GOLD[-5:]


def test_export_refuses_a_folder_that_holds_other_files(tmp_path, partial_gold) -> None:
    result = stance("labels", "export", "-o", tmp_path, "--gold", partial_gold, "--corpus", REPO / "seeds",
                    "--params", REPO / "configs/params.yaml")
    assert result.exit_code == 2 and "holds other files than tasks.json and config.xml" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gold.jsonl"]
