"""The model card (README.md) written beside each chosen model."""

from __future__ import annotations

from typing import Any

CARD = """# natostance `{task}` model

**Predicts** the {task} of a sentence: one of {labels}. Input: a table with a `{text}` column
(`{group}` and `{order}` add document context when present); output: a label, and class
probabilities through `predict_proba` or `stance predict`.

**Chosen candidate:** `{candidate}` ({headline_metric} under leave-one-document-out, best of
{n_candidates} candidates), refit on all {rows} labeled sentences of {groups} documents.
Hyper-parameters chosen by grouped inner cross-validation on all labels: `{best_params}`.

## Data
Hand-labeled sentences (`labels/gold.jsonl`, see `labels/GUIDELINES.md`). Label counts:
{label_counts}
{examples}
## Metrics (leave-one-document-out, bootstrap 95% interval)
| metric | value | 95% interval |
| --- | --- | --- |
{metric_rows}

Secondary protocol (repeated stratified k-fold, mean ± sd over repeats): {secondary}

All candidates ({headline_metric}, leave-one-document-out): {candidates}

## Intended use
Labeling English news sentences about NATO enlargement and the Russia–West security dispute,
in batch, for analysts who review the output; the probability column says how sure it is.

## Limits
- Trained on five articles from January 2022; the intervals above are wide and figures on other
  outlets, periods or topics will differ. Treat labels as suggestions to review, not findings.
- Rare classes (few examples) are predicted poorly; check per-class F1 above.
- English only; sentence segmentation is rule-based and may split or merge unusual sentences.
"""

EXAMPLES = """
Every fit, in evaluation as in the final refit, also learned from {} written training examples
(`labels/written/`): sentences written from the label definitions, never from the corpus, and
never tested on. The figures below are measured on the hand-labeled corpus sentences only.
"""


def model_card(task: str, labels: list[str], summary: dict[str, Any], best_params: dict, columns) -> str:
    """Fill the card from the evaluation summary of a task."""
    metrics, low, high = summary["leave_one_document_out"], summary["ci95_low"], summary["ci95_high"]
    examples = summary.get("written_examples", 0)
    rows = "\n".join(
        f"| {name} | {value:.3f} | {low[name]:.3f}–{high[name]:.3f} |" for name, value in metrics.items() if name in low
    )
    secondary = ", ".join(
        f"{name.removesuffix('.mean')} {value:.3f} ± {summary['repeated_stratified_kfold'][name.replace('.mean', '.std')]:.3f}"
        for name, value in summary["repeated_stratified_kfold"].items()
        if name.endswith(".mean")
    )
    return CARD.format(
        task=task, labels=", ".join(f"`{label}`" for label in labels), text=columns.text, group=columns.group,
        order=columns.order, candidate=summary["chosen"], headline_metric=summary["headline_metric"],
        n_candidates=len(summary["candidates"]), rows=summary["rows"], groups=summary["groups"],
        best_params=best_params or "none",
        label_counts=", ".join(f"{label} {count}" for label, count in summary["label_counts"].items()),
        metric_rows=rows, secondary=secondary, examples=EXAMPLES.format(examples) if examples else "",
        candidates=", ".join(f"{name} {value:.3f}" for name, value in summary["candidates"].items()),
    )
