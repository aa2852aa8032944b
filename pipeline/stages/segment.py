"""Stage `segment`: every document in the corpus folder to sentence records (JSONL)."""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline.config import load_params
from pipeline.files import write_jsonl
from pipeline.segmentation import SegmentationSettings, Segmenter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("corpus", type=Path, help="folder of .txt documents")
    parser.add_argument("output", type=Path, help="sentence records to write (.jsonl)")
    parser.add_argument("--params", type=Path, default=Path("configs/params.yaml"))
    args = parser.parse_args()
    settings = SegmentationSettings.from_params(load_params(args.params))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    records = Segmenter(settings).segment_folder(args.corpus)
    write_jsonl(records, args.output)
    print(f"segment: {len(records)} sentences from {args.corpus} -> {args.output}")


if __name__ == "__main__":
    main()
