"""The model card (README.md) written beside each chosen model, from the evaluation summary and the
corpus's own description (the `model_card` parameters)."""

from __future__ import annotations

import re
from typing import Any

CARD = """# {title}: `{task}` model

**Predicts** the {task} of a sentence: one of {labels}. Input: a table with a `{text}` column{context};
output: a label, and class probabilities through `predict_proba` or `stance predict`.

**Chosen candidate:** `{candidate}` ({headline_metric} on held-out {chosen_by} folds, best of
{n_candidates} candidates), refit on all {rows} labeled rows{groups}.
Hyper-parameters: `{best_params}`.

## Data
{data} Label counts: {label_counts}
{examples}
## Metrics (labels as `stance predict` gives them)
| protocol | {headline_metric} | 95% interval | macro-F1 | accuracy | F1 per class |
| --- | --- | --- | --- | --- | --- |
{metric_rows}

{protocols} All candidates ({headline_metric}, {protocol_names}):
{candidates}

## Intended use
{intended_use}

## Limits
{limits}
"""

EXAMPLES = """
Every fit, in evaluation as in the final refit, also learned from {} written training examples:
sentences written from the label definitions, never from the corpus, and never tested on. The
figures below are measured on the labeled corpus rows only.
"""

CHOSEN = re.compile(r"^\*\*Chosen candidate:\*\* `([^`]+)`", re.M)


def chosen_candidate(card: str) -> str | None:
    """The candidate a card says was chosen (None for a card without that line)."""
    found = CHOSEN.search(card)
    return found.group(1) if found else None


DEFAULTS = {
    "title": "natostance",
    "data": "The labeled corpus of the `data` parameters.",
    "intended_use": "Labeling text like the corpus's, in batch, for people who review the output.",
    "limits": "Figures on text unlike the corpus's will differ; rare classes are predicted poorly.",
}


def protocol_description(name: str, columns, params: dict) -> str:
    """What a protocol of `evaluate` held out, in a sentence."""
    if name == "written":
        return "`written`: held-out written passages (grouped k-fold over passages)."
    if columns.group:
        return f"`{name}`: leave-one-group-out over `{columns.group}` (a model never sees the group it is tested on)."
    folds = params.get("evaluate", {}).get("folds", 5)
    by = f"target (`{columns.target}`) and label" if columns.target else "label"
    return f"`{name}`: stratified {folds}-fold cross-validation by {by}."


def model_card(task: str, labels: list[str], summary: dict[str, Any], best_params: dict, columns, params: dict) -> str:
    """Fill the card from the evaluation summary of a task and the corpus's `model_card` parameters."""
    corpus = {**DEFAULTS, **(params.get("model_card") or {})}
    protocols = [p for p in summary["protocols"] if p in summary]
    rows = "\n".join(
        f"| {p} | {summary[p]['headline']:.3f} | {summary[p]['ci95'][0]:.3f}–{summary[p]['ci95'][1]:.3f} |"
        f" {summary[p]['macro_f1']:.3f} | {summary[p]['accuracy']:.3f} |"
        f" {', '.join(f'{label} {value:.2f}' for label, value in summary[p]['f1'].items())} |"
        for p in protocols
    )
    context = [f"`{c}`" for c in (columns.group, columns.order) if c]
    examples = summary.get("written_examples", 0)
    return CARD.format(
        title=corpus["title"], task=task, labels=", ".join(f"`{label}`" for label in labels), text=columns.text,
        context=(f" ({' and '.join(context)} add document context when present)" if columns.order else "")
        + (f" and the target column `{columns.target}`" if columns.target else ""),
        candidate=summary["chosen"], headline_metric=summary["headline_metric"], chosen_by=summary["chosen_by"],
        n_candidates=len(summary["candidates"]), rows=summary["rows"],
        groups=f" of {summary['groups']} groups (`{columns.group}`)" if columns.group else "",
        best_params=best_params or "none", data=corpus["data"].strip(),
        label_counts=", ".join(f"{label} {count}" for label, count in summary["label_counts"].items()) + ".",
        metric_rows=rows, examples=EXAMPLES.format(examples) if examples else "",
        protocols=" ".join(protocol_description(p, columns, params) for p in protocols),
        protocol_names=" / ".join(protocols),
        candidates=", ".join(
            f"{name} {' / '.join(f'{value:.3f}' for value in scores.values())}" for name, scores in summary["candidates"].items()
        ),
        intended_use=corpus["intended_use"].strip(), limits=corpus["limits"].strip(),
    )
