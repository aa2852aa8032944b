"""Stage `dataset`: check the gold labels, join them with the sentences, save as Parquet.

The stage stops (and with it every stage after it) when the labels fail `stance labels check`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.config import Schema, load_params
from pipeline.dataset import build_dataset
from pipeline.files import atomic_path, read_jsonl
from pipeline.labels import check_labels, read_gold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sentences", type=Path, help="sentence records from `segment` (.jsonl)")
    parser.add_argument("gold", type=Path, help="gold labels (.jsonl)")
    parser.add_argument("output", type=Path, help="data set to write (.parquet)")
    parser.add_argument("--params", type=Path, default=Path("configs/params.yaml"))
    args = parser.parse_args()
    schema = Schema.load(load_params(args.params)["data"]["schema"])
    sentences = read_jsonl(args.sentences)
    problems = check_labels(args.gold, sentences, schema)
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        sys.exit(f"dataset: {len(problems)} problem(s) in {args.gold}; fix them before training")
    dataset = build_dataset(sentences, read_gold(args.gold), schema)
    with atomic_path(args.output) as temporary:
        dataset.to_parquet(str(temporary))
    print(f"dataset: {dataset.num_rows} labeled sentences -> {args.output}")


if __name__ == "__main__":
    main()
