"""`dvc repro` on a fresh copy of the repository: real DVC, real stages."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run


def test_dvc_repro_builds_sentences_then_does_nothing(repo_copy: Path) -> None:
    run(["dvc", "repro"], repo_copy)
    sentences = [json.loads(line) for line in (repo_copy / "data/sentences.jsonl").read_text().splitlines()]
    assert {s["doc"] for s in sentences} == {p.name for p in (repo_copy / "seeds").glob("*.txt")}
    second = run(["dvc", "repro"], repo_copy)
    assert "Data and pipelines are up to date." in second.stdout
