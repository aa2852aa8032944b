"""Stage `behaviour`: run the trained models on the behaviour suite (`labels/behaviour.yaml`).

Writes the pass rate per capability as DVC metrics, every case with its predicted labels as a
table, and logs the pass rates on the MLflow parent run of the evaluation that chose the models.
It measures; it never trains or chooses.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipeline import tracking
from pipeline.behaviour import load_suite, pass_rates, run
from pipeline.config import Schema, load_params
from pipeline.errors import InputError
from pipeline.files import atomic_path, write_json
from pipeline.predict import load_predictor


def behaviour(models: Path, suite: Path, summary: Path, metrics: Path, cases: Path, params: dict) -> dict:
    mlflow = tracking.configure()  # a broken tracking store stops the stage before any work
    schema = Schema.load(params["data"]["schema"])
    predictor = load_predictor(params, [str(models)], None, "text", False)
    results = run(load_suite(suite, schema.tasks), predictor)
    rates = pass_rates(results)
    parent = json.loads(summary.read_text(encoding="utf-8"))["parent_run_id"]
    with mlflow.start_run(run_id=parent):
        mlflow.log_metrics({f"behaviour.{name}": entry["rate"] for name, entry in rates.items()})
    # Only now, with everything computed and tracked: a failure before leaves the last outputs.
    cases.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(cases) as temporary:
        results.to_csv(temporary, index=False)
    write_json(rates, metrics)
    for name, entry in rates.items():
        print(f"behaviour: {name:28s} {entry['passed']:3d}/{entry['cases']:3d} {entry['rate']:.2f}")
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
