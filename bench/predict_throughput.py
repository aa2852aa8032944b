"""Benchmark of `stance predict`: throughput, peak memory and cold start.

    python bench/predict_throughput.py [--rows 1000000] [--models models/]

* throughput: `stance predict big.csv -o out.csv --quiet` (a subprocess, wall time, start-up
  included) against the in-process prediction of the same loaded models on the same rows, read
  in the same batches; goal: the CLI at 80% of the in-process rate or more;
* peak memory (maximum resident set) of the CLI on rows/10 and on rows: goal within 10%;
* cold start: `stance --help` (goal under 0.3 s) and one sentence predicted (goal under 2 s).

The CSV resamples the sentences of the seed corpus (segmented like the training corpus);
`--distinct` makes each one unique, so that per-text caches of the features cannot help. The CLI
runs in the repository root (it reads configs/params.yaml).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STANCE = Path(sys.executable).parent / "stance"
BATCH = 10_000
SENTENCE = "NATO's door remains open to Ukraine, the alliance's secretary general said.\n"


def make_csv(path: Path, rows: int, distinct: bool, seed: int = 0) -> None:
    """`rows` seed sentences drawn with replacement, with an id column; with `distinct`, each
    sentence made unique by a reference number (no per-text cache can help)."""
    import numpy as np
    import pandas as pd

    from pipeline.segmentation import Segmenter

    sentences = np.array([r["text"] for r in Segmenter().segment_folder(REPO / "seeds")], dtype=object)
    rng = np.random.default_rng(seed)
    with path.open("w", encoding="utf-8", newline="") as out:
        for start in range(0, rows, 100_000):
            size = min(100_000, rows - start)
            ids = np.arange(start, start + size)
            text = pd.Series(sentences[rng.integers(0, len(sentences), size)])
            chunk = pd.DataFrame({"id": ids, "text": text + [f" (ref {i})" for i in ids] if distinct else text})
            chunk.to_csv(out, index=False, header=start == 0)


def timed(command: list[str], stdin: str | None = None) -> tuple[float, int | None]:
    """Wall time (s) and peak resident memory (KB) of a command that must succeed."""
    measure = ["/usr/bin/time", "-f", "MAXRSS %M"] if shutil.which("/usr/bin/time") else []
    start = time.perf_counter()
    result = subprocess.run(measure + command, input=stdin, capture_output=True, text=True, cwd=REPO)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr}")
    found = re.search(r"MAXRSS (\d+)", result.stderr)
    if found:
        return elapsed, int(found.group(1))
    import resource

    return elapsed, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # the largest child so far


def in_process_rate(csv: Path, models_dir: str) -> tuple[float, float]:
    """Rows per second of reading the CSV in batches and predicting every task (the CLI's
    `Predictor`, models loaded once); and the seconds the loading took (not counted in the rate)."""
    import pandas as pd

    from pipeline.config import Schema, load_params
    from pipeline.models import load_models
    from pipeline.predict import Predictor

    start = time.perf_counter()
    predictor = Predictor(load_models([models_dir], Schema.load(load_params()["data"]["schema"]).tasks))
    loading = time.perf_counter() - start
    rows, start = 0, time.perf_counter()
    for batch in pd.read_csv(csv, chunksize=BATCH, dtype=str, keep_default_na=False):
        predictor.labels(batch)
        rows += len(batch)
    return rows / (time.perf_counter() - start), loading


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the big CSV (memory also on rows/10)")
    parser.add_argument("--models", default="models", help="models directory (default models/)")
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the CSVs (default: a temporary folder)")
    parser.add_argument("--distinct", action="store_true", help="make every sentence unique (default: seed sentences repeat)")
    args = parser.parse_args()
    os.chdir(REPO)
    sys.path.insert(0, str(REPO))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="predict-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    small_rows = max(args.rows // 10, 1)
    kind = "distinct" if args.distinct else "resampled"
    big, small = workdir / f"{kind}-{args.rows}.csv", workdir / f"{kind}-{small_rows}.csv"
    for path, rows in ((big, args.rows), (small, small_rows)):
        if not path.exists():
            make_csv(path, rows, args.distinct)

    predict = [str(STANCE), "predict", "--model", args.models, "--quiet"]
    help_times = [timed([str(STANCE), "--help"])[0] for _ in range(5)]
    one_sentence, _ = timed([*predict, "-"], stdin=SENTENCE)
    _, small_memory = timed([*predict, str(small), "-o", str(workdir / "small-out.csv")])
    cli_seconds, big_memory = timed([*predict, str(big), "-o", str(workdir / "big-out.csv")])
    in_process, loading = in_process_rate(big, args.models)
    cli_rate = args.rows / cli_seconds
    warm_rate = args.rows / max(cli_seconds - one_sentence, 1e-9)

    figures = [
        ("in-process predict (models loaded once)", f"{in_process:,.0f} sentences/s", ""),
        ("stance predict, end to end", f"{cli_rate:,.0f} sentences/s", f"{cli_rate / in_process:.0%} of in-process (goal >= 80%)"),
        ("stance predict, minus one-sentence start-up", f"{warm_rate:,.0f} sentences/s", f"{warm_rate / in_process:.0%} of in-process"),
        (f"peak memory, {small_rows:,} rows", f"{small_memory / 1024:,.0f} MB", ""),
        (f"peak memory, {args.rows:,} rows", f"{big_memory / 1024:,.0f} MB",
         f"{big_memory / small_memory - 1:+.1%} (goal within 10%)"),
        ("stance --help (median of 5)", f"{statistics.median(help_times):.2f} s", "goal < 0.3 s"),
        ("one sentence predicted (cold)", f"{one_sentence:.2f} s", f"goal < 2 s; model loading alone {loading:.1f} s"),
    ]
    print_figures(f"predict throughput benchmark: {args.rows:,} {kind} rows, models {args.models},"
                  f" batches of {BATCH:,}", figures)


def print_figures(title: str, figures: list[tuple[str, str, str]]) -> None:
    """A benchmark's title, then one aligned line per (name, value, note)."""
    width = max(len(name) for name, _, _ in figures)
    print(title)
    for name, value, note in figures:
        print(f"  {name:<{width}}  {value:>20}  {note}")


if __name__ == "__main__":
    main()
