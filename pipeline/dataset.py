"""The labeled data set: sentences joined with gold labels as a Hugging Face `datasets.Dataset`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.config import Schema

SENTENCE_COLUMNS = ("id", "doc", "index", "start", "end", "date", "text")


def features(schema: Schema):
    """Sentence columns as plain values, each task as a `ClassLabel` in schema order."""
    from datasets import ClassLabel, Features, Value

    return Features(
        {
            "id": Value("string"),
            "doc": Value("string"),
            "index": Value("int32"),
            "start": Value("int64"),
            "end": Value("int64"),
            "date": Value("string"),
            "text": Value("string"),
            **{task: ClassLabel(names=list(labels)) for task, labels in schema.tasks.items()},
        }
    )


def build_dataset(sentences: list[dict[str, Any]], gold: list[dict[str, Any]], schema: Schema):
    """One row per labeled sentence of the corpus, in corpus order."""
    from datasets import Dataset

    labels = {record["id"]: record for record in gold}
    rows = [
        {**{column: sentence[column] for column in SENTENCE_COLUMNS}, **{task: labels[sentence["id"]][task] for task in schema.tasks}}
        for sentence in sentences
        if sentence["id"] in labels
    ]
    columns = {name: [row[name] for row in rows] for name in features(schema)}
    return Dataset.from_dict(columns, features=features(schema))


def load_dataset_file(path: str | Path):
    """A saved data set (Parquet keeps the `ClassLabel` features in its metadata)."""
    from datasets import Dataset

    return Dataset.from_parquet(str(path))


def build_examples(records: list[dict[str, Any]], schema: Schema, fields: list[str]):
    """Written training examples as a data set: `fields` (the corpus's types where it has the
    column, else strings) and each task as a `ClassLabel`."""
    from datasets import Dataset, Features, Value

    corpus = features(schema)
    types = Features({name: corpus[name] if name in corpus else Value("string") for name in [*fields, *schema.tasks]})
    return Dataset.from_dict({name: [record[name] for record in records] for name in types}, features=types)
