"""SemEval-2016 Task 6 subtask A through the README's recipe for another corpus, end to end.

The configuration in bench/semeval2016/ is all that differs from the NATO corpus: the `evaluate`
stage chooses a candidate by stratified 5-fold cross-validation over the training tweets, the
`train` stage refits it on all of them, then `stance predict` labels the test tweets and
`stance evaluate` scores them. Prints the official metric, F_avg (the mean of F1(FAVOR) and
F1(AGAINST), pooled over the test set), per target and pooled; the last line is `F_avg 0.xxxx`.

    python bench/semeval2016.py --train TRAIN.csv --test TEST.csv     # columns target,text,stance
    python bench/semeval2016.py --official DATA                       # the official annotation files

DATA holds the official files (trainingdata-, trialdata- and testdata-taskA-all-annotations.txt);
their licence forbids redistribution, so they are not in this repository (the README says where
they are). Everything the run writes, the MLflow store included, goes to a temporary folder. The
embedding candidates need the sentence encoder that `dvc repro` builds in models/encoder.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "bench" / "semeval2016"
OFFICIAL = {"train": ["trainingdata-all-annotations.txt", "trialdata-all-annotations.txt"],
            "test": ["testdata-taskA-all-annotations.txt"]}


def official_table(folder: Path, names: list[str]) -> pd.DataFrame:
    """Official annotation files (tab-separated ID, Target, Tweet, Stance, ...; Windows-1252) as
    one table of target, text and stance."""
    frames = []
    for name in names:
        path = folder / name
        if not path.is_file():
            sys.exit(f"semeval2016: {path}: no such file")
        frame = pd.read_csv(path, sep="\t", encoding="cp1252", quoting=3, dtype=str, keep_default_na=False)
        frames.append(frame.rename(columns={"Target": "target", "Tweet": "text", "Stance": "stance"}))
    return pd.concat(frames, ignore_index=True)[["target", "text", "stance"]]


def run(command: list[str], env: dict) -> None:
    """Run one step of the recipe; stop with its message when it fails."""
    print("$", " ".join(command[2:] if command[1] == "-m" else command), flush=True)
    done = subprocess.run(command, env=env, stderr=subprocess.PIPE, text=True)
    if done.returncode:
        sys.exit(f"semeval2016: step failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, help="training tweets (.csv: target, text, stance)")
    parser.add_argument("--test", type=Path, help="test tweets (.csv: target, text, stance)")
    parser.add_argument("--official", type=Path, help="folder of the official annotation files, instead of the CSVs")
    args = parser.parse_args()
    if not args.official and not (args.train and args.test):
        parser.error("give --train and --test, or --official")
    stance = str(Path(sys.executable).with_name("stance"))
    with tempfile.TemporaryDirectory(prefix="semeval2016-") as scratch:
        work = Path(scratch)
        train, test = args.train, args.test
        if args.official:
            train, test = work / "train.csv", work / "test.csv"
            for split, path in (("train", train), ("test", test)):
                official_table(args.official, OFFICIAL[split]).to_csv(path, index=False)
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}
        params = ["--params", str(CONFIG / "params.yaml")]
        run([sys.executable, "-m", "pipeline.stages.evaluate", str(train), str(work / "evaluation.json"), *params,
             "--metrics", str(work / "metrics.json"), "--plots", str(work / "plots"), "--errors", str(work / "errors")],
            env)
        run([sys.executable, "-m", "pipeline.stages.train", str(train), str(work / "evaluation.json"),
             str(work / "models"), *params], env)
        run([stance, "predict", str(test), "--model", str(work / "models"), "--prefix", "predicted_", "--quiet",
             "-o", str(work / "predictions.csv")], env)
        run([stance, "evaluate", str(test), "--model", str(work / "models"), "--json", str(work / "scores.json")], env)
        chosen = json.loads((work / "evaluation.json").read_text())["sets"]["default"]["stance"]
        predicted = pd.read_csv(work / "predictions.csv", keep_default_na=False)["predicted_stance"]
        scores = json.loads((work / "scores.json").read_text())["stance"]
    protocol = chosen["chosen_by"]
    print(f"\nchosen by {protocol} ({chosen[protocol]['headline']:.4f}): {chosen['chosen']};"
          f" candidates {json.dumps(chosen['candidates'])}")
    print(f"predicted: {predicted.value_counts().to_dict()}")
    print(f"{'target':36s} {'tweets':>6s} {'F_avg':>7s} {'F1 favor':>9s} {'F1 against':>11s}")
    for target, figures in [*scores["by_target"].items(), ("all (pooled)", scores)]:
        print(f"{target:36s} {figures['n']:6d} {figures['f_avg']:7.4f} {figures['f1.FAVOR']:9.4f}"
              f" {figures['f1.AGAINST']:11.4f}")
    print(f"F_avg {scores['f_avg']:.4f}")


if __name__ == "__main__":
    main()
