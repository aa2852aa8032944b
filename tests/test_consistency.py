"""Labels keep the schema's rules: a sentence that takes a side always has a holder."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from pipeline.config import Schema
from pipeline.consistency import consistent_labels
from pipeline.metrics import f_avg, f_avg_at_share

SCHEMA = Schema.load(REPO / "configs/schema.yaml")
LABELS = {task: list(labels) for task, labels in SCHEMA.tasks.items()}


def test_a_side_without_a_holder_is_decoded_jointly():
    stance = np.array([[0.6, 0.1, 0.3], [0.45, 0.1, 0.45], [0.1, 0.1, 0.8]])  # favor, against, none
    bloc = np.array([[0.1, 0.3, 0.0, 0.0, 0.6], [0.0, 0.1, 0.0, 0.0, 0.9], [0.2, 0.2, 0.2, 0.2, 0.2]])
    decoded = consistent_labels({"stance": stance, "bloc": bloc}, LABELS, SCHEMA.rules)
    # Row 0: favor alone would have bloc none; favor/west (0.18) ties none/none (0.18), the first wins.
    assert list(decoded["stance"]) == ["favor", "none", "none"]
    assert list(decoded["bloc"]) == ["west", "none", "russia"]
    for stance_label, bloc_label in zip(decoded["stance"], decoded["bloc"]):
        assert not SCHEMA.violations({"stance": stance_label, "bloc": bloc_label})


def test_tasks_outside_a_rule_keep_their_argmax():
    claim = np.array([[0.1, 0.7, 0.1, 0.1]])
    assert list(consistent_labels({"claim": claim}, LABELS, SCHEMA.rules)["claim"]) == ["assessment"]


def test_f_avg_at_a_share_equals_f_avg_on_a_test_set_with_that_mix():
    gold = np.array(["favor", "against", "none", "none", "favor", "none"])
    predicted = np.array(["favor", "none", "none", "favor", "against", "none"])
    # Half of the sentences take a side; duplicating every side-taking sentence gives two thirds.
    taking = np.isin(gold, ["favor", "against"])
    mixed_gold = np.concatenate([gold, gold[taking]])
    mixed_predicted = np.concatenate([predicted, predicted[taking]])
    assert f_avg_at_share(gold, predicted, ["favor", "against"], 2 / 3) == pytest.approx(
        f_avg(mixed_gold, mixed_predicted, ["favor", "against"]))
    assert f_avg_at_share(gold, predicted, ["favor", "against"], 2 / 3) != pytest.approx(
        f_avg(gold, predicted, ["favor", "against"]))


def test_predictions_never_take_a_side_without_a_holder(trained_models):
    from pipeline.config import load_params
    from pipeline.predict import load_predictor

    predictor = load_predictor(load_params(REPO / "configs/params.yaml") | {"data": {
        **load_params(REPO / "configs/params.yaml")["data"], "schema": str(REPO / "configs/schema.yaml")}},
        [str(trained_models)], None, "text", True)
    sentences = pd.read_json(REPO / "labels/written/examples.jsonl", lines=True)[["text"]]
    predicted = predictor.predict(sentences)
    sides = predicted["stance"].isin(["favor", "against"])
    assert sides.any() and not (sides & predicted["bloc"].eq("none")).any()
    # Each task's own argmax would break the rule on some of these sentences.
    independent = replace(predictor, rules=()).predict(sentences)
    assert (independent["stance"].isin(["favor", "against"]) & independent["bloc"].eq("none")).any()
    # Each label's probability is its model's probability of that label.
    chosen = predicted.apply(lambda row: row[f"bloc_p_{row['bloc']}"], axis=1)
    assert np.allclose(chosen, predicted["bloc_p"])
