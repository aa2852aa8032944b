"""Gold labels and written examples: reading them and checking them against the corpus and the
label schema."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config import Columns, Schema
from pipeline.errors import InputError
from pipeline.files import atomic_path, json_object

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


@dataclass(frozen=True)
class Merged:
    """What adding records to a gold file did."""

    added: int
    replaced: int
    unchanged: int
    unlabeled: int  # corpus sentences still without a label


def add_to_gold(path: Path, additions: list[tuple[str, dict[str, Any]]], sentences: list[dict[str, Any]],
                schema: Schema, replace: bool = False) -> Merged:
    """Add (where, record) pairs to the gold file, which keeps its other lines as they are.

    A record for a sentence the file already labels alike changes nothing; with other labels it is
    refused unless `replace`. The result must pass `check_labels` (sentences still without a label
    aside), or the file is left unchanged and every problem is raised, one a line, each naming
    where its record came from.
    """
    existing, problems = read_label_lines(path) if path.is_file() else ([], [])
    if problems:
        raise InputError(f"{problems[0]} (fix {path} first; `stance labels check` lists every problem)")
    lines = path.read_text(encoding="utf-8").split("\n") if path.is_file() else []
    if lines and not lines[-1]:
        lines.pop()  # the end of the last line
    origins = [f"{path}:{number}" for number in range(1, len(lines) + 1)]
    at = {record["id"]: number - 1 for number, record in existing if isinstance(record.get("id"), str)}
    added = replaced = unchanged = 0
    for where, record in additions:
        line = at.get(record.get("id"))
        if line is not None:
            old = json.loads(lines[line])
            differ = [task for task in schema.tasks if old.get(task) != record.get(task)]
            if not differ:
                unchanged += 1
                continue
            if not replace:
                raise InputError(f"{where}: sentence {record['id']} has other labels on {origins[line]} ("
                                 + ", ".join(f"{task}={old.get(task)} there, {record.get(task)} here" for task in differ)
                                 + "); pass --replace to take the imported ones")
            lines[line], origins[line] = json.dumps(record, ensure_ascii=False), where
            replaced += 1
        else:
            if isinstance(record.get("id"), str):
                at[record["id"]] = len(lines)
            lines.append(json.dumps(record, ensure_ascii=False))
            origins.append(where)
            added += 1
    with atomic_path(path) as staged:
        staged.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        found = check_labels(staged, sentences, schema)
        problems = [f"{origins[problem.line - 1]}: {problem.message}" for problem in found if problem.line]
        if problems:
            raise InputError("\n".join(problems))
    return Merged(added, replaced, unchanged, sum(problem.line is None for problem in found))
