"""The behaviour suite (CheckList-style, `labels/behaviour.yaml`): short cases grouped by
capability, each with the stance and bloc a correct model gives; templates with fill-in lists
expand into one case per combination. It measures trained models and never trains or chooses.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.config import ConfigError, load_yaml

JUDGED = ("stance", "bloc")


@dataclass(frozen=True)
class Case:
    """One sentence (`text`, after the sentences `before` it in the same article) and its labels."""

    capability: str
    text: str
    expected: dict[str, str]
    before: tuple[str, ...] = field(default=())


def expand(capability: str, spec: dict) -> list[Case]:
    """The cases of one entry: a template gives one case per combination of its fill-in values."""
    fill = spec.get("fill") or {}
    names = list(fill)
    expected = {task: str(spec[task]) for task in JUDGED}
    before = tuple(spec.get("before") or ())
    return [
        Case(capability, spec["text"].format(**dict(zip(names, values))), expected, before)
        for values in itertools.product(*(fill[name] for name in names))
    ]


def load_suite(path: str | Path, tasks: dict[str, tuple[str, ...]]) -> list[Case]:
    """Every case of the suite, checked against the label schema's `tasks`."""
    capabilities = load_yaml(path).get("capabilities") or {}
    cases = []
    for capability, section in capabilities.items():
        for number, spec in enumerate(section.get("cases") or [], start=1):
            try:
                expanded = expand(capability, spec)
            except (KeyError, IndexError, TypeError, AttributeError) as error:
                raise ConfigError(f"{path}: {capability} case {number}: malformed ({type(error).__name__}: {error})") from None
            for task, label in expanded[0].expected.items() if expanded else ():
                if label not in tasks.get(task, ()):
                    raise ConfigError(f"{path}: {capability} case {number}: {task}={label!r} is not in the schema")
            cases.extend(expanded)
    return cases


def case_table(cases: list[Case]) -> pd.DataFrame:
    """The cases as articles (one per case: the sentences before it, then its text), for prediction."""
    rows = [
        {"doc": f"case-{number}", "index": index, "text": text, "case": number if index == len(case.before) else -1}
        for number, case in enumerate(cases)
        for index, text in enumerate([*case.before, case.text])
    ]
    return pd.DataFrame(rows)


def run(cases: list[Case], predictor) -> pd.DataFrame:
    """One row per case: capability, text, expected and predicted labels, and whether it passed."""
    table = case_table(cases)
    predicted = predictor.predict(table)
    predicted = predicted[predicted["case"] >= 0].sort_values("case")
    results = pd.DataFrame({"capability": [c.capability for c in cases], "text": [c.text for c in cases]})
    passed = pd.Series(True, index=results.index)
    for task in JUDGED:
        results[f"expected_{task}"] = [c.expected[task] for c in cases]
        results[f"predicted_{task}"] = predicted[task].to_numpy()
        passed &= results[f"expected_{task}"] == results[f"predicted_{task}"]
    results["passed"] = passed
    return results


def pass_rates(results: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per capability (in suite order) and overall: cases, cases passed and the pass rate."""
    groups = {name: group for name, group in results.groupby("capability", sort=False)}
    groups["all"] = results
    return {
        name: {"cases": len(group), "passed": int(group["passed"].sum()), "rate": round(float(group["passed"].mean()), 4)}
        for name, group in groups.items()
    }
