"""The round trip with Label Studio: the labeling queue as a task file with its labeling config,
and Label Studio's JSON export read back as gold records.

Formats as Label Studio documents them: a task is `{"data": {...}, "predictions": [...]}`, a
choice is a result item `{"from_name", "to_name", "type": "choices", "value": {"choices": [...]}}`,
and the JSON export is a list of tasks, each with its `annotations` (`result`, `completed_by`,
`was_cancelled`, `ground_truth`).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import Schema
from pipeline.errors import InputError
from pipeline.labels import CONTEXT_FIELDS, SUGGESTION_MARK, label_problems

TASKS_FILE = "tasks.json"
CONFIG_FILE = "config.xml"
SENTENCE = "text"  # the object tag the choices label
NOTE = "note"  # the free-text control: the gold record's note
DATA_FIELDS = ("id", "doc", "index", CONTEXT_FIELDS[0], "text", CONTEXT_FIELDS[1])
CONTEXT_STYLE = "color: #777; font-size: 90%"


def labeling_config(schema: Schema) -> str:
    """The labeling interface: the sentence between its context, one single choice per dimension
    (all required) and a note."""
    view = ElementTree.Element("View")
    ElementTree.SubElement(view, "Header", value="$doc, sentence $index", size="6")
    before, after = CONTEXT_FIELDS
    for name in (before, SENTENCE, after):
        parent = view if name == SENTENCE else ElementTree.SubElement(view, "View", style=CONTEXT_STYLE)
        ElementTree.SubElement(parent, "Text", name=name, value=f"${name}")
    for task, labels in schema.tasks.items():
        ElementTree.SubElement(view, "Header", value=task, size="5")
        choices = ElementTree.SubElement(view, "Choices", name=task, toName=SENTENCE, choice="single-radio",
                                         required="true", showInline="true")
        for label in labels:
            ElementTree.SubElement(choices, "Choice", value=label)
    ElementTree.SubElement(view, "TextArea", name=NOTE, toName=SENTENCE, rows="2", maxSubmissions="1",
                           editable="true", placeholder="note (optional): why, for a hard case")
    ElementTree.indent(view)
    return ElementTree.tostring(view, encoding="unicode") + "\n"


def choice(task: str, label: str) -> dict[str, Any]:
    """One dimension's label as a Label Studio result item."""
    return {"from_name": task, "to_name": SENTENCE, "type": "choices", "value": {"choices": [label]}}


def label_studio_tasks(records: list[dict[str, Any]], dimensions: list[str], model_version: str | None) -> list[dict]:
    """Queue records (`pipeline.todo`) as Label Studio tasks; the models' suggestions, when there
    are any, become one prediction scored by its least confident dimension."""
    converted = []
    for record in records:
        task = {"data": {name: record[name] for name in DATA_FIELDS}}
        if SUGGESTION_MARK in record:
            task["predictions"] = [{"model_version": model_version, "score": min(record[SUGGESTION_MARK].values()),
                                    "result": [choice(name, record[name]) for name in dimensions]}]
        converted.append(task)
    return converted


def read_export(path: Path) -> list[dict[str, Any]]:
    """The tasks of a Label Studio JSON export; bad input names the file (and line)."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: bytes that are not UTF-8 ({error.reason} at byte {error.start + 1})") from None
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: line {error.lineno}: malformed JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(content, list) or not all(isinstance(task, dict) for task in content):
        raise InputError(f"{path}: not a Label Studio JSON export (a list of tasks); export with the JSON format")
    return content


@dataclass(frozen=True)
class Annotation:
    """One annotator's labels for one task."""

    id: Any
    annotator: str
    labels: dict[str, str]
    note: str
    ground_truth: bool


def annotator_of(completed_by: Any) -> str:
    """Who made an annotation: `completed_by` is a user id, or a user object in some exports."""
    if isinstance(completed_by, dict):
        return str(completed_by.get("email") or completed_by.get("id"))
    return str(completed_by)


def objects(value: Any, where: str) -> list[dict[str, Any]]:
    """A list of JSON objects (none when missing); `where` names it when it is something else."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise InputError(f"{where}: expected a list of objects")
    return value


def annotations(task: dict[str, Any], where: str, schema: Schema) -> list[Annotation]:
    """The annotations of a task that were not cancelled (skipped), each with every dimension."""
    found = []
    for annotation in objects(task.get("annotations"), f"{where}: annotations"):
        if annotation.get("was_cancelled"):
            continue
        here = f"{where}, annotation {annotation.get('id')}"
        labels, notes = {}, []
        for item in objects(annotation.get("result"), f"{here}: result"):
            name, value = item.get("from_name"), item.get("value")
            value = value if isinstance(value, dict) else {}
            if name in schema.tasks:
                chosen = value.get("choices")
                if not isinstance(chosen, list) or len(chosen) != 1 or not isinstance(chosen[0], str):
                    raise InputError(f"{here}: {name} needs exactly one choice, got {chosen!r}")
                labels[name] = chosen[0]
            elif name == NOTE:
                texts = value.get("text") or []
                notes += [str(text) for text in (texts if isinstance(texts, list) else [texts])]
            else:
                raise InputError(f"{here}: unknown field {name!r} (the labeling config has {[*schema.tasks, NOTE]})")
        missing = [name for name in schema.tasks if name not in labels]
        if missing:
            raise InputError(f"{here}: no choice for {', '.join(missing)}")
        found.append(Annotation(annotation.get("id"), annotator_of(annotation.get("completed_by")), labels,
                                "\n".join(notes), bool(annotation.get("ground_truth"))))
    return found


@dataclass(frozen=True)
class Disagreement:
    """A task whose annotators chose different labels, with no ground truth to settle it."""

    where: str
    sentence: str
    annotations: list[Annotation]

    def __str__(self) -> str:
        tasks = [task for task in self.annotations[0].labels
                 if len({annotation.labels[task] for annotation in self.annotations}) > 1]
        differ = "; ".join(
            f"{task}: " + ", ".join(f"{a.labels[task]} ({a.annotator})" for a in self.annotations) for task in tasks
        )
        return f"{self.where} (sentence {self.sentence}): annotators disagree on {differ}"


@dataclass
class Imported:
    """What a Label Studio export holds for the gold file and per annotator."""

    records: list[tuple[str, dict]] = field(default_factory=list)  # (where, gold record)
    disagreements: list[Disagreement] = field(default_factory=list)
    unlabeled: int = 0  # tasks without an annotation: skipped, cancelled or not done
    passes: dict[str, list[dict]] = field(default_factory=dict)  # annotator: their records


def read_annotations(path: Path, schema: Schema) -> Imported:
    """An export's gold records: one for each task its annotators agree on (or that has a
    ground-truth annotation); the tasks they disagree on; and each annotator's labels as a pass.
    Every label outside the schema or breaking its rules is raised, one a line."""
    imported, problems = Imported(), []
    for task in read_export(path):
        where = f"{path}: task {task.get('id')}"
        data = task.get("data")
        if not isinstance(data, dict):
            raise InputError(f"{where}: no 'data' object")
        found = annotations(task, where, schema)
        for annotation in found:
            problems += [f"{where}, annotation {annotation.id}: {problem}"
                         for problem in label_problems(annotation.labels, schema)]
            imported.passes.setdefault(annotation.annotator, []).append(
                {"id": data.get("id"), **annotation.labels, NOTE: annotation.note})
        chosen = [annotation for annotation in found if annotation.ground_truth] or found
        if not chosen:
            imported.unlabeled += 1
        elif len({tuple(annotation.labels[name] for name in schema.tasks) for annotation in chosen}) > 1:
            imported.disagreements.append(Disagreement(where, str(data.get("id")), chosen))
        else:
            notes = "\n".join(dict.fromkeys(annotation.note for annotation in chosen if annotation.note))
            record = {name: data[name] for name in ("id", "doc", "text") if name in data}
            imported.records.append((where, {**record, **chosen[0].labels, **({NOTE: notes} if notes else {})}))
    if problems:
        raise InputError("\n".join(problems))
    return imported


def pass_file(annotator: str) -> str:
    """The file name of an annotator's pass."""
    return re.sub(r"[^\w@.-]+", "_", annotator) + ".jsonl"
