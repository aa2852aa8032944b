"""Benchmark of `stance spark-predict` against `stance predict` on the same rows.

    python bench/spark_predict.py [--rows 200000] [--models models/fast] [--master local[2]]

Both commands run as subprocesses on the same CSV of distinct seed sentences (as
`bench/predict_throughput.py --distinct` makes it), wall time with start-up included; Spark's
start-up (JVM, session, models shipped) is also measured on 1,000 rows, to give its rate once
running. The two outputs are compared: the same labels, probabilities within 1e-6. The commands
run in the repository root (they read configs/params.yaml).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from predict_throughput import REPO, STANCE, make_csv, print_figures  # noqa: E402

STARTUP_ROWS = 1_000


def timed(command: list[str]) -> float:
    """Wall time (s) of a command that must succeed."""
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    return time.perf_counter() - start


def differences(spark_output: Path, reference: Path) -> tuple[int, float]:
    """Rows whose labels differ, and the largest probability difference, between the outputs."""
    import numpy as np
    import pandas as pd

    found = pd.read_parquet(spark_output).sort_values("id").reset_index(drop=True)
    expected = pd.read_parquet(reference).sort_values("id").reset_index(drop=True)
    assert found["id"].tolist() == expected["id"].tolist(), "the outputs hold other rows"
    added = [c for c in expected.columns if c not in ("id", "text")]
    probabilities = [c for c in added if c.endswith("_p")]
    labels = [c for c in added if c not in probabilities]
    differing = (found[labels].fillna("") != expected[labels].fillna("")).any(axis=1).sum()
    gap = np.nanmax(np.abs(found[probabilities].to_numpy(float) - expected[probabilities].to_numpy(float)))
    return int(differing), float(gap)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the CSV (default 200,000)")
    parser.add_argument("--models", default="models", help="models directory (default models/; models/fast: the fast set)")
    parser.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the files (default: a temporary folder)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="spark-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    big, small = workdir / f"distinct-{args.rows}.csv", workdir / f"distinct-{STARTUP_ROWS}.csv"
    for path, rows in ((big, args.rows), (small, STARTUP_ROWS)):
        if not path.exists():
            make_csv(path, rows, distinct=True)

    models = ["--model", args.models]
    spark = [str(STANCE), "spark-predict", "--master", args.master, *models]
    predict_seconds = timed([str(STANCE), "predict", str(big), "-o", str(workdir / "predict.parquet"), "--quiet", *models])
    startup = timed([*spark, str(small), str(workdir / "spark-small")])
    spark_seconds = timed([*spark, str(big), str(workdir / "spark")])
    differing, gap = differences(workdir / "spark", workdir / "predict.parquet")

    figures = [
        ("stance predict, end to end", f"{args.rows / predict_seconds:,.0f} rows/s", f"{predict_seconds:.0f} s"),
        (f"stance spark-predict {args.master}, end to end", f"{args.rows / spark_seconds:,.0f} rows/s",
         f"{spark_seconds:.0f} s"),
        (f"  less start-up ({STARTUP_ROWS:,} rows: {startup:.0f} s)",
         f"{(args.rows - STARTUP_ROWS) / max(spark_seconds - startup, 1e-9):,.0f} rows/s", ""),
        ("rows whose labels differ", f"{differing:,}", f"largest probability difference {gap:.1e}"),
    ]
    print_figures(f"spark-predict benchmark: {args.rows:,} distinct rows, models {args.models}", figures)


if __name__ == "__main__":
    main()
