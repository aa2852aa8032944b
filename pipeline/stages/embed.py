"""Stage `embed`: the sentence embedding of every distinct training text, computed once by the
encoder of the `encoder` stage.

`evaluate` and `train` fit embedding candidates many times in several processes; with this file
each process reads the vectors instead of encoding the texts again. Without the `embeddings`
extra the file holds no vectors and the embedding candidates are skipped as before.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.candidates import CandidateSettings
from pipeline.config import Columns, Schema, load_params
from pipeline.crossval import load_training_tables
from pipeline.errors import InputError
from pipeline.encoder import MissingExtra
from pipeline.features import SentenceEmbeddings
from pipeline.files import atomic_path


def embed(dataset: Path, examples: Path | None, output: Path, params: dict) -> None:
    schema = Schema.load(params["data"]["schema"])
    columns = Columns.from_params(params)
    settings = CandidateSettings.load(params["train"]["candidates"])
    table, extra = load_training_tables(dataset, examples, schema, columns)
    texts = sorted({*table[columns.text].astype(str), *extra[columns.text].astype(str)})
    try:
        encoder = settings.encoder()
        vectors = SentenceEmbeddings(encoder, "text").transform(pd.DataFrame({"text": texts}))
    except MissingExtra as missing:
        print(f"embed: no embeddings: {missing}", file=sys.stderr)
        encoder, texts, vectors = "", [], np.zeros((0, 0), dtype=np.float32)
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(output) as temporary, open(temporary, "wb") as file:
        np.savez(file, texts=np.asarray(texts, dtype=str), vectors=vectors, sha256=encoder)
    print(f"embed: {len(texts)} texts -> {output}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dataset", type=Path, help="labeled data set (.parquet, .csv or .jsonl)")
    parser.add_argument("output", type=Path, help="embeddings to write (.npz)")
    parser.add_argument("--examples", type=Path, help="written training examples (.parquet from `dataset`, .csv or .jsonl)")
    parser.add_argument("--params", type=Path, default=Path("configs/params.yaml"))
    args = parser.parse_args()
    try:
        embed(args.dataset, args.examples, args.output, load_params(args.params))
    except InputError as error:
        sys.exit(f"embed: {error}")


if __name__ == "__main__":
    main()
