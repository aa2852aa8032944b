"""Speaker attribution: the lexicon rule against the dependency parse, on a written development set.

    python bench/speaker_attribution.py [--cases labels/attribution/cases.jsonl]

Each case is a sentence (with the sentence before it) and the bloc of whoever speaks in it
(`none` when nobody's words are reported). Both ways of reading the voice (`DocumentContext`
without and with `parser`) run on the same two-sentence documents; the script prints the share of
cases whose voice bloc is right, per pattern, and the precision of each when it names a bloc.
The set is for choosing how to read speakers; no model trains or is evaluated on it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.candidates import CandidateSettings  # noqa: E402
from pipeline.context import DocumentContext  # noqa: E402
from pipeline.files import read_jsonl  # noqa: E402


def voice_blocs(cases: pd.DataFrame, settings: CandidateSettings, parser: dict | None) -> list[str]:
    """The bloc of the voice each case's sentence gets (after its previous sentence), or `none`."""
    rows = [(case.id, position, text) for case in cases.itertuples()
            for position, text in enumerate([case.previous, case.text]) if text]
    table = pd.DataFrame(rows, columns=["doc", "index", "text"])
    context = DocumentContext(settings.lexicons, settings.interactions, parser=parser).fit(table)
    voices = context.voices(table, table["text"].tolist())
    last = table.assign(voice=voices["voice"]).groupby("doc", sort=False).tail(1).set_index("doc")["voice"]
    return [(last[case] or "actor:none").removeprefix("actor:") for case in cases["id"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=Path, default=REPO / "labels/attribution/cases.jsonl")
    parser.add_argument("--candidates", type=Path, default=REPO / "configs/candidates.yaml")
    args = parser.parse_args()
    settings = CandidateSettings.load(args.candidates)
    cases = pd.DataFrame(read_jsonl(args.cases))
    for method, parsing in (("rule", None), ("parse", settings.parser)):
        cases[method] = voice_blocs(cases, settings, parsing)
    print(f"speaker attribution on {len(cases)} written cases ({args.cases.name}): share right")
    print(f"  {'pattern':18s} {'cases':>5s} {'rule':>6s} {'parse':>6s}")
    for pattern, part in [*cases.groupby("pattern", sort=True), ("all", cases)]:
        right = {method: (part[method] == part["speaker_bloc"]).mean() for method in ("rule", "parse")}
        print(f"  {pattern:18s} {len(part):5d} {right['rule']:6.2f} {right['parse']:6.2f}")
    for method in ("rule", "parse"):
        named = cases[cases[method] != "none"]
        print(f"  {method}: names a bloc for {len(named)} cases, precision {(named[method] == named['speaker_bloc']).mean():.2f}")


if __name__ == "__main__":
    main()
