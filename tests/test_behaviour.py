"""The behaviour suite: templates expand into cases, and the trained models are scored on them."""

from __future__ import annotations

import pytest
import yaml

from conftest import REPO
from pipeline.behaviour import case_table, load_suite, pass_rates, run
from pipeline.config import ConfigError, Schema

SCHEMA = Schema.load(REPO / "configs/schema.yaml")


def test_templates_expand_into_every_combination(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump({"capabilities": {"swap": {"cases": [
        {"text": "{who} said {country} may join.", "fill": {"who": ["A", "B", "C"], "country": ["X", "Y"]},
         "stance": "favor", "bloc": "west"},
        {"before": ["Lavrov spoke in Moscow."], "text": "He said no.", "stance": "against", "bloc": "russia"},
    ]}}}))
    cases = load_suite(suite, SCHEMA.tasks)
    assert len(cases) == 7 and cases[0].text == "A said X may join." and cases[5].text == "C said Y may join."
    table = case_table(cases)
    last = table[table["doc"] == "case-6"]
    assert list(last["text"]) == ["Lavrov spoke in Moscow.", "He said no."] and list(last["case"]) == [-1, 6]


def test_a_label_outside_the_schema_is_named(tmp_path):
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump({"capabilities": {"odd": {"cases": [{"text": "x", "stance": "pro", "bloc": "west"}]}}}))
    with pytest.raises(ConfigError, match="odd case 1: stance='pro'"):
        load_suite(suite, SCHEMA.tasks)


def test_the_suite_scores_trained_models_per_capability(trained_models):
    from pipeline.config import load_params
    from pipeline.predict import load_predictor

    params = load_params(REPO / "configs/params.yaml")
    params["data"] = {**params["data"], "schema": str(REPO / "configs/schema.yaml")}
    cases = load_suite(REPO / "labels/behaviour.yaml", SCHEMA.tasks)
    results = run(cases, load_predictor(params, [str(trained_models)], None, "text", False))
    assert len(results) == len(cases) and results["predicted_stance"].isin(SCHEMA.tasks["stance"]).all()
    rates = pass_rates(results)
    assert rates["all"]["cases"] == len(cases)
    assert sum(entry["cases"] for name, entry in rates.items() if name != "all") == len(cases)
    assert rates["all"]["passed"] == int((results["expected_stance"].eq(results["predicted_stance"])
                                          & results["expected_bloc"].eq(results["predicted_bloc"])).sum())
