"""Agreement between two annotation passes: Cohen's kappa and raw agreement per dimension."""

from __future__ import annotations

from typing import Any

from sklearn.metrics import cohen_kappa_score

from pipeline.errors import InputError


def agreement(first: list[dict[str, Any]], second: list[dict[str, Any]], tasks: list[str]) -> dict[str, dict]:
    """Per task: items compared, raw agreement and Cohen's kappa over the ids both passes label."""
    by_id = {record["id"]: record for record in second}
    shared = [record for record in first if record["id"] in by_id]
    if not shared:
        raise InputError("the two passes have no sentence id in common")
    result = {}
    for task in tasks:
        a = [record[task] for record in shared]
        b = [by_id[record["id"]][task] for record in shared]
        result[task] = {
            "n": len(shared),
            "raw_agreement": sum(x == y for x, y in zip(a, b)) / len(shared),
            "cohen_kappa": float(cohen_kappa_score(a, b)),
        }
    return result
