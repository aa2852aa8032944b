"""Gold labels and written examples: reading them and checking them against the corpus and the
label schema."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import Columns, Schema
from pipeline.files import json_object

REQUIRED_FIELDS = ("id", "doc", "text")
SUGGESTION_MARK = "suggested"
CONTEXT_FIELDS = ("before", "after")  # the sentences around a queued one: shown to label it, never kept


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
    """(line number, record) for each parsable line, and a problem for each line that is not
    (bytes that are not UTF-8 included)."""
    records, problems = [], []
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                where = f"{error.reason} at byte {error.start + 1} of the line"
                problems.append(Problem(path, number, f"bytes that are not UTF-8 ({where})"))
                continue
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
        if isinstance(record.get("id"), str):
            problems.extend(repeated_id(path, line, record["id"], first_line))
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


def repeated_id(path: Path, line: int, record_id: str, first_line: dict[str, int]) -> list[Problem]:
    """A problem when `record_id` stood on an earlier line; otherwise `first_line` notes its line."""
    if record_id in first_line:
        return [Problem(path, line, f"duplicate id {record_id} (first on line {first_line[record_id]})")]
    first_line[record_id] = line
    return []


def record_problems(record: dict[str, Any], corpus: dict[str, dict[str, Any]], schema: Schema) -> list[str]:
    """What is wrong with one label record on its own."""
    missing = [field for field in (*REQUIRED_FIELDS, *schema.tasks) if field not in record]
    if missing:
        return [f"missing field(s) {', '.join(missing)}"]
    messages = label_problems(record, schema)
    if SUGGESTION_MARK in record:
        messages.append(f"still marked '{SUGGESTION_MARK}': review the model's suggestion, then remove the mark")
    if any(field in record for field in CONTEXT_FIELDS):
        messages.append(f"still has the queue's context ({', '.join(CONTEXT_FIELDS)}): remove it, the corpus keeps it")
    sentence = corpus.get(record["id"])
    if sentence is None:
        messages.append(f"id {record['id']} is no sentence of the corpus (was its document edited or removed?)")
    elif sentence["text"] != record["text"]:
        messages.append(
            f"text no longer matches sentence {record['id']} of {sentence['doc']}: corpus has {sentence['text'][:60]!r}"
        )
    return messages


def label_problems(record: dict[str, Any], schema: Schema) -> list[str]:
    """Label values outside the schema, and broken consistency rules."""
    messages = [
        f"{task}={record[task]!r} is not one of {list(labels)}"
        for task, labels in schema.tasks.items()
        if record[task] not in labels
    ]
    return messages + schema.violations(record)


def word_ngrams(text: str, size: int) -> set[tuple[str, ...]]:
    """The phrases of `size` words in a text, in lower case and without punctuation."""
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i:i + size]) for i in range(len(words) - size + 1)}


def check_examples(path: Path, sentences: Iterable[dict[str, Any]], schema: Schema, columns: Columns,
                   overlap_words: int | None) -> list[Problem]:
    """Every problem of a file of written training examples.

    Each example needs an id, the columns the models read and valid labels. When
    `overlap_words` is set, an example that shares a phrase of that many words with a corpus
    sentence is a problem: the corpus is what the models are evaluated on.
    """
    corpus_phrases: dict[tuple[str, ...], str] = {}
    if overlap_words:
        for sentence in sentences:
            corpus_phrases.update(dict.fromkeys(word_ngrams(sentence["text"], overlap_words), sentence["id"]))
    records, problems = read_label_lines(path)
    first_line: dict[str, int] = {}
    for line, record in records:
        missing = [field for field in ("id", *columns.inputs(), *schema.tasks) if field not in record]
        if missing:
            problems.append(Problem(path, line, f"missing field(s) {', '.join(missing)}"))
            continue
        problems.extend(Problem(path, line, message) for message in label_problems(record, schema))
        shared = sorted(word_ngrams(str(record[columns.text]), overlap_words) & corpus_phrases.keys()) if overlap_words else []
        if shared:
            problems.append(Problem(path, line, f"shares the phrase {' '.join(shared[0])!r} with corpus sentence"
                                                f" {corpus_phrases[shared[0]]}; write examples in other words"))
        problems.extend(repeated_id(path, line, str(record["id"]), first_line))
    return problems


def read_label_file(path: Path) -> list[dict[str, Any]]:
    """The records of a label file that passes its check."""
    records, problems = read_label_lines(path)
    if problems:
        raise ValueError(str(problems[0]))
    return [record for _, record in records]
