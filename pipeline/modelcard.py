"""The model card (README.md) written beside each chosen model."""

from __future__ import annotations

from typing import Any

CARD = """# natostance `{task}` model

**Predicts** the {task} of a sentence: one of {labels}. Input: a table with a `{text}` column
(`{group}` and `{order}` add document context when present); output: a label, and class
probabilities through `predict_proba` or `stance predict`.

**Chosen candidate:** `{candidate}` ({headline_metric} on held-out {chosen_by} folds, best of
{n_candidates} candidates), refit on all {rows} labeled sentences of {groups} documents.
Hyper-parameters: `{best_params}`.

## Data
Hand-labeled sentences (`labels/gold.jsonl`, see `labels/GUIDELINES.md`). Label counts:
{label_counts}
{examples}
## Metrics (labels decoded jointly with the other tasks, as `stance predict` gives them)
| protocol | {headline_metric} | 95% interval | macro-F1 | accuracy | F1 per class |
| --- | --- | --- | --- | --- | --- |
{metric_rows}

`seeds`: leave-one-document-out over the hand-labeled articles. `written`: held-out written
passages (grouped k-fold over passages). All candidates ({headline_metric}, seeds / written):
{candidates}

## Intended use
Labeling English news sentences about NATO enlargement and the Russia–West security dispute,
in batch, for analysts who review the output; the probability column says how sure it is.

## Limits
- The hand-labeled articles are five, from January 2022, and the written passages are
  AI-written; figures on other outlets, periods or topics will differ. Treat labels as suggestions to review, not findings.
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
    protocols = [p for p in ("seeds", "written") if p in summary]
    rows = "\n".join(
        f"| {p} | {summary[p]['headline']:.3f} | {summary[p]['ci95'][0]:.3f}–{summary[p]['ci95'][1]:.3f} |"
        f" {summary[p]['macro_f1']:.3f} | {summary[p]['accuracy']:.3f} |"
        f" {', '.join(f'{label} {value:.2f}' for label, value in summary[p]['f1'].items())} |"
        for p in protocols
    )
    examples = summary.get("written_examples", 0)
    return CARD.format(
        task=task, labels=", ".join(f"`{label}`" for label in labels), text=columns.text, group=columns.group,
        order=columns.order, candidate=summary["chosen"], headline_metric=summary["headline_metric"],
        chosen_by=summary["chosen_by"], n_candidates=len(summary["candidates"]), rows=summary["rows"],
        groups=summary["groups"], best_params=best_params or "none",
        label_counts=", ".join(f"{label} {count}" for label, count in summary["label_counts"].items()),
        metric_rows=rows, examples=EXAMPLES.format(examples) if examples else "",
        candidates=", ".join(
            f"{name} {' / '.join(f'{value:.3f}' for value in scores.values())}" for name, scores in summary["candidates"].items()
        ),
    )
