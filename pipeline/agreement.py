"""Agreement between two annotation passes: Cohen's kappa and raw agreement per dimension, and
the sentences the passes label differently."""

from __future__ import annotations

from typing import Any

from sklearn.metrics import cohen_kappa_score

from pipeline.errors import InputError


def shared_pairs(first: list[dict[str, Any]], second: list[dict[str, Any]]) -> list[tuple[dict, dict]]:
    """(first pass record, second pass record) for each id both passes label, in the first's order."""
    by_id = {record["id"]: record for record in second}
    pairs = [(record, by_id[record["id"]]) for record in first if record["id"] in by_id]
    if not pairs:
        raise InputError("the two passes have no sentence id in common")
    return pairs


def agreement(first: list[dict[str, Any]], second: list[dict[str, Any]], tasks: list[str]) -> dict[str, dict]:
    """Per task: items compared, raw agreement and Cohen's kappa over the ids both passes label."""
    pairs = shared_pairs(first, second)
    result = {}
    for task in tasks:
        a = [one[task] for one, _ in pairs]
        b = [other[task] for _, other in pairs]
        result[task] = {
            "n": len(pairs),
            "raw_agreement": sum(x == y for x, y in zip(a, b)) / len(pairs),
            "cohen_kappa": float(cohen_kappa_score(a, b)),
        }
    return result


def disagreements(first: list[dict[str, Any]], second: list[dict[str, Any]], tasks: list[str],
                  texts: dict[str, str]) -> list[dict]:
    """The ids both passes label with a different label on some task: per task that differs, the
    first and the second pass's label; the sentence text (from the passes, else from `texts`) and
    both passes' notes."""
    found = []
    for one, other in shared_pairs(first, second):
        differ = {task: [one[task], other[task]] for task in tasks if one[task] != other[task]}
        if differ:
            text = one.get("text") or other.get("text") or texts.get(one["id"], "")
            found.append({"id": one["id"], "text": text, "labels": differ,
                          "notes": [one.get("note") or "", other.get("note") or ""]})
    return found
