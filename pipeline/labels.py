"""Gold labels: reading them and checking them against the corpus and the label schema."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import Schema
from pipeline.files import json_object

REQUIRED_FIELDS = ("id", "doc", "text")
SUGGESTION_MARK = "suggested"


@dataclass(frozen=True)
class Problem:
    """One problem found in a label file: where it is and what is wrong."""

    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else f"{self.path}"
        return f"{where}: {self.message}"


def read_label_lines(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[Problem]]:
    """(line number, record) for each parsable line, and a problem for each line that is not."""
    records, problems = [], []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                records.append((number, json_object(line)))
            except ValueError as error:
                problems.append(Problem(path, number, str(error)))
    return records, problems


def check_labels(path: Path, sentences: Iterable[dict[str, Any]], schema: Schema) -> list[Problem]:
    """Every problem of a gold file against the corpus sentences and the schema."""
    corpus = {sentence["id"]: sentence for sentence in sentences}
    records, problems = read_label_lines(path)
    first_line: dict[str, int] = {}
    for line, record in records:
        problems.extend(Problem(path, line, message) for message in record_problems(record, corpus, schema))
        sentence_id = record.get("id")
        if not isinstance(sentence_id, str):
            continue
        if sentence_id in first_line:
            problems.append(Problem(path, line, f"duplicate id {sentence_id} (first on line {first_line[sentence_id]})"))
        else:
            first_line[sentence_id] = line
    for sentence_id, sentence in corpus.items():
        if sentence_id not in first_line:
            problems.append(
                Problem(
                    path,
                    None,
                    f"no label for sentence {sentence_id} ({sentence['doc']} #{sentence['index']}:"
                    f" {sentence['text'][:60]!r})",
                )
            )
    return problems


def record_problems(record: dict[str, Any], corpus: dict[str, dict[str, Any]], schema: Schema) -> list[str]:
    """What is wrong with one label record on its own."""
    missing = [field for field in (*REQUIRED_FIELDS, *schema.tasks) if field not in record]
    if missing:
        return [f"missing field(s) {', '.join(missing)}"]
    messages = [
        f"{task}={record[task]!r} is not one of {list(labels)}"
        for task, labels in schema.tasks.items()
        if record[task] not in labels
    ]
    messages.extend(schema.violations(record))
    if SUGGESTION_MARK in record:
        messages.append(f"still marked '{SUGGESTION_MARK}': review the model's suggestion, then remove the mark")
    sentence = corpus.get(record["id"])
    if sentence is None:
        messages.append(f"id {record['id']} is no sentence of the corpus (was its document edited or removed?)")
    elif sentence["text"] != record["text"]:
        messages.append(
            f"text no longer matches sentence {record['id']} of {sentence['doc']}: corpus has {sentence['text'][:60]!r}"
        )
    return messages


def read_gold(path: Path) -> list[dict[str, Any]]:
    """The gold records of a file that passes the check."""
    records, problems = read_label_lines(path)
    if problems:
        raise ValueError(str(problems[0]))
    return [record for _, record in records]
