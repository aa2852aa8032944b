"""Labels that keep the schema's rules: the tasks of a rule are decoded jointly.

Each task model gives its own class probabilities. For every rule of the schema (bloc `none`
requires stance `none`), the pair of labels of its two tasks is the allowed pair with the highest
product of their probabilities, so a sentence that takes a side always gets a holder, and a
sentence with no holder takes no side.
"""

from __future__ import annotations

import numpy as np

from pipeline.config import Rule


def allowed_pairs(rule: Rule, when_labels: list[str], then_labels: list[str]) -> np.ndarray:
    """(when classes, then classes) mask of the label pairs that keep `rule`."""
    mask = np.ones((len(when_labels), len(then_labels)), dtype=bool)
    if rule.when_value in when_labels:
        row = when_labels.index(rule.when_value)
        mask[row] = [label in rule.allowed for label in then_labels]
    return mask


def consistent_labels(probabilities: dict[str, np.ndarray], labels: dict[str, list[str]],
                      rules: tuple[Rule, ...]) -> dict[str, np.ndarray]:
    """Each task's label per row (argmax), the tasks of each rule chosen jointly among allowed pairs.

    `probabilities` maps a task to its (rows, classes) matrix with columns in `labels[task]` order;
    tasks missing from it are left out, and so are rules that name them.
    """
    chosen = {task: np.asarray(labels[task], dtype=object)[p.argmax(axis=1)] for task, p in probabilities.items()}
    for rule in rules:
        if rule.when_task not in probabilities or rule.then_task not in probabilities:
            continue
        when, then = probabilities[rule.when_task], probabilities[rule.then_task]
        joint = when[:, :, None] * then[:, None, :]
        joint[:, ~allowed_pairs(rule, labels[rule.when_task], labels[rule.then_task])] = -1.0
        best = joint.reshape(len(when), -1).argmax(axis=1)
        rows, columns = np.divmod(best, then.shape[1])
        chosen[rule.when_task] = np.asarray(labels[rule.when_task], dtype=object)[rows]
        chosen[rule.then_task] = np.asarray(labels[rule.then_task], dtype=object)[columns]
    return chosen
