"""Benchmark: wall time of the evaluate and train stages on the seed corpus and on corpora 20 and
100 times larger (resampled sentences, documents kept as groups).

Run from the repository root after `dvc repro` (it reads data/dataset.parquet):
    python bench/train_time.py [--scales 1 20 100]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from pipeline.config import Schema, load_params
from pipeline.crossval import load_table


def resampled(table: pd.DataFrame, scale: int, seed: int) -> pd.DataFrame:
    """`scale` times as many rows, drawn with replacement within each document."""
    if scale == 1:
        return table
    rows = table.groupby("doc", group_keys=False).sample(frac=scale, replace=True, random_state=seed)
    return rows.assign(index=rows.groupby("doc").cumcount()).reset_index(drop=True)


def timed(command: list[str], cwd: Path, env: dict) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 20, 100])
    parser.add_argument("--params", type=Path, default=Path("configs/params.yaml"))
    args = parser.parse_args()
    params = load_params(args.params)
    table = load_table("data/dataset.parquet", Schema.load(params["data"]["schema"]))
    print(f"{'scale':>5} {'sentences':>9} {'evaluate s':>10} {'train s':>8}")
    for scale in args.scales:
        with tempfile.TemporaryDirectory() as folder:
            work = Path(folder)
            data = work / "dataset.jsonl"
            resampled(table, scale, params["seed"]).to_json(data, orient="records", lines=True)
            env = dict(os.environ, MLFLOW_TRACKING_URI=f"sqlite:///{work / 'mlflow.db'}")
            common = ["--params", str(args.params)]
            evaluate = timed([sys.executable, "-m", "pipeline.stages.evaluate", str(data), str(work / "evaluation.json"),
                              "--metrics", str(work / "metrics.json"), "--plots", str(work / "plots"),
                              "--errors", str(work / "errors"), *common], Path.cwd(), env)
            train = timed([sys.executable, "-m", "pipeline.stages.train", str(data), str(work / "evaluation.json"),
                           str(work / "models"), *common], Path.cwd(), env)
            print(f"{scale:>5} {len(table) * scale:>9} {evaluate:>10.1f} {train:>8.1f}", flush=True)


if __name__ == "__main__":
    main()
