"""Stage `dataset`: check the gold labels, join them with the sentences, save as Parquet; check
the written training examples (`data.examples`) and save them as Parquet too.

The stage stops (and with it every stage after it) when the labels fail `stance labels check`,
or when an example breaks the schema or copies a phrase of a corpus sentence.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.config import Columns, Schema, load_params
from pipeline.dataset import build_dataset, build_examples
from pipeline.files import atomic_path, read_jsonl
from pipeline.labels import Problem, check_examples, check_labels, read_label_file


def stop_on(problems: list[Problem], path: Path) -> None:
    """Print every problem and exit when there are any."""
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        sys.exit(f"dataset: {len(problems)} problem(s) in {path}; fix them before training")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sentences", type=Path, help="sentence records from `segment` (.jsonl)")
    parser.add_argument("gold", type=Path, help="gold labels (.jsonl)")
    parser.add_argument("output", type=Path, help="data set to write (.parquet)")
    parser.add_argument("--examples-output", type=Path,
                        help="where to write the written examples of `data.examples` (.parquet; no rows when it is null)")
    parser.add_argument("--params", type=Path, default=Path("configs/params.yaml"))
    args = parser.parse_args()
    params = load_params(args.params)
    schema = Schema.load(params["data"]["schema"])
    sentences = read_jsonl(args.sentences)
    stop_on(check_labels(args.gold, sentences, schema), args.gold)
    source, columns = params["data"].get("examples"), Columns.from_params(params)
    if args.examples_output and source:
        if not Path(source).is_file():
            sys.exit(f"dataset: {source}: no such file (data.examples in {args.params})")
        stop_on(check_examples(Path(source), sentences, schema, columns, params["data"].get("examples_overlap_words")),
                Path(source))
    dataset = build_dataset(sentences, read_label_file(args.gold), schema)
    with atomic_path(args.output) as temporary:
        dataset.to_parquet(str(temporary))
    print(f"dataset: {dataset.num_rows} labeled sentences -> {args.output}")
    if args.examples_output:
        examples = build_examples(read_label_file(Path(source)) if source else [], schema, ["id", *columns.inputs()])
        with atomic_path(args.examples_output) as temporary:
            examples.to_parquet(str(temporary))
        print(f"dataset: {examples.num_rows} written examples -> {args.examples_output}")

if __name__ == "__main__":
    main()
