"""The labeling queue: corpus sentences without a gold label, most informative first, each with
its place in its document and the sentences around it."""

from __future__ import annotations

from itertools import groupby
from typing import Any

import numpy as np
import pandas as pd

from pipeline.labels import CONTEXT_FIELDS, SUGGESTION_MARK

CONTEXT_SENTENCES = 2


def surroundings(sentences: list[dict[str, Any]], size: int) -> dict[str, tuple[str, str]]:
    """Per sentence id: the texts of up to `size` sentences before it and after it in its document,
    one a line."""
    around = {}
    for _, grouped in groupby(sentences, key=lambda sentence: sentence["doc"]):
        document = sorted(grouped, key=lambda sentence: sentence["index"])
        texts = [sentence["text"] for sentence in document]
        for position, sentence in enumerate(document):
            around[sentence["id"]] = ("\n".join(texts[max(position - size, 0):position]),
                                      "\n".join(texts[position + 1:position + 1 + size]))
    return around


def todo_records(sentences: list[dict[str, Any]], labeled_ids: set[str], tasks: list[str],
                 models: dict | None = None, context: int = CONTEXT_SENTENCES) -> list[dict[str, Any]]:
    """Unlabeled sentences ready to fill in, with their document, position and the `context`
    sentences before and after them.

    With models, each record is pre-filled with the models' labels and marked `suggested` (the
    confidence per task), and the least confident sentences come first; without, labels are
    empty and the corpus order is kept.
    """
    pending = [sentence for sentence in sentences if sentence["id"] not in labeled_ids]
    around = surroundings(sentences, context)
    before, after = CONTEXT_FIELDS
    records = [
        {"id": s["id"], "doc": s["doc"], "index": s["index"], before: around[s["id"]][0], "text": s["text"],
         after: around[s["id"]][1], **{task: "" for task in tasks}, "note": ""}
        for s in pending
    ]
    if not models or not records:
        return records
    frame = pd.DataFrame(pending)
    confidences = []
    for task, model in models.items():
        probabilities = model.probabilities(frame)
        confidences.append(probabilities.max(axis=1))
        for record, label, confidence in zip(records, np.asarray(model.labels)[probabilities.argmax(axis=1)],
                                             probabilities.max(axis=1)):
            record[task] = str(label)
            record.setdefault(SUGGESTION_MARK, {})[task] = round(float(confidence), 3)
    least = np.min(confidences, axis=0)
    return [records[i] for i in np.argsort(least, kind="stable")]
