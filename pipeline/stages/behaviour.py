"""Stage `behaviour`: run the trained models on the behaviour suite (`labels/behaviour.yaml`).

Writes the pass rate per model set and capability as DVC metrics, every case with each set's
predicted labels as a table, and logs the pass rates on the MLflow parent run of the evaluation that chose the models.
It measures; it never trains or chooses.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from pipeline import tracking
from pipeline.candidates import DEFAULT_SET, CandidateSettings
from pipeline.behaviour import load_suite, pass_rates, run
from pipeline.config import Schema, load_params
from pipeline.errors import InputError
from pipeline.files import atomic_path, write_json
from pipeline.predict import load_predictor


def behaviour(models: Path, suite: Path, summary: Path, metrics: Path, cases: Path, params: dict) -> dict:
    """Run every model set of configs/candidates.yaml on the suite; its pass rates per capability."""
    # A broken tracking store stops the stage before any work.
    mlflow = tracking.configure(tracking.experiment_name(params))
    schema = Schema.load(params["data"]["schema"])
    settings = CandidateSettings.load(params["train"]["candidates"])
    suite_cases = load_suite(suite, schema.tasks)
    rates, tables, logged = {}, [], {}
    for model_set in settings.model_sets:
        predictor = load_predictor(params, [str(model_set.folder(models))], None, "text", False)
        results = run(suite_cases, predictor)
        rates[model_set.name] = pass_rates(results)
        tables.append(results.assign(model_set=model_set.name))
        logged.update({f"behaviour.{model_set.metric_prefix}{name}": entry["rate"]
                       for name, entry in rates[model_set.name].items()})
    parent = tracking.evaluation_run(json.loads(summary.read_text(encoding="utf-8")), str(summary))
    with mlflow.start_run(run_id=parent):
        mlflow.log_metrics(logged)
    # Only now, with everything computed and tracked: a failure before leaves the last outputs.
    cases.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(cases) as temporary:
        pd.concat(tables, ignore_index=True).to_csv(temporary, index=False)
    # DVC shows the pass rates; the cases behind them are in the table.
    write_json({name: {capability: entry["rate"] for capability, entry in set_rates.items()}
                for name, set_rates in rates.items()}, metrics)
    for name in rates[DEFAULT_SET]:
        figures = "  ".join(f"{model_set} {set_rates[name]['passed']:3d}/{set_rates[name]['cases']:3d}"
                            for model_set, set_rates in rates.items())
        print(f"behaviour: {name:28s} {figures}")
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("models", type=Path, help="folder of the trained task models")
    parser.add_argument("suite", type=Path, help="behaviour suite (.yaml)")
    parser.add_argument("summary", type=Path, help="evaluation summary written by `evaluate` (.json)")
    parser.add_argument("--metrics", type=Path, default=Path("models/behaviour.json"))
    parser.add_argument("--cases", type=Path, default=Path("models/behaviour.csv"))
    parser.add_argument("--params", type=Path, default=Path("configs/params.yaml"))
    args = parser.parse_args()
    try:
        behaviour(args.models, args.suite, args.summary, args.metrics, args.cases, load_params(args.params))
    except InputError as error:
        sys.exit(f"behaviour: {error}")


if __name__ == "__main__":
    main()
