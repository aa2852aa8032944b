"""The labeling queue: corpus sentences without a gold label, most informative first."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from pipeline.labels import SUGGESTION_MARK


def todo_records(sentences: list[dict[str, Any]], labeled_ids: set[str], tasks: list[str],
                 models: dict | None = None) -> list[dict[str, Any]]:
    """Unlabeled sentences ready to fill in.

    With models, each record is pre-filled with the models' labels and marked `suggested` (the
    confidence per task), and the least confident sentences come first; without, labels are
    empty and the corpus order is kept.
    """
    pending = [sentence for sentence in sentences if sentence["id"] not in labeled_ids]
    records = [
        {"id": s["id"], "doc": s["doc"], "text": s["text"], **{task: "" for task in tasks}, "note": ""}
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
