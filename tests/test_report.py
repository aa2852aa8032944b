"""`stance report`: counts that add up, every section, a self-contained page, one-line errors."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import REPO
from pipeline.cli import app
from pipeline.report import summarise

STANCES = ["favor", "against", "none"]


@pytest.fixture(autouse=True)
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


def stance(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def predictions() -> pd.DataFrame:
    """Hand-made predictions over two dated documents and one undated, one row without a label."""
    rows = [
        ("a.txt", "2022-01-12", "favor", "west"), ("a.txt", "2022-01-12", "against", "russia"),
        ("a.txt", "2022-01-12", "against", "russia"), ("b.txt", "2022-01-14", "none", "none"),
        ("b.txt", "2022-01-14", "favor", "west"), ("c.txt", "", "against", "russia"), ("c.txt", "", "", ""),
    ]
    frame = pd.DataFrame(rows, columns=["doc", "date", "stance", "bloc"])
    return frame.assign(text=[f"sentence {i}" for i in range(len(frame))], stance_p="0.9")


def test_counts_over_batches_equal_the_crosstab():
    frame = predictions()
    summary = summarise([frame.iloc[:3], frame.iloc[3:5], frame.iloc[5:]])
    labeled = frame[frame["stance"] != ""]
    assert summary.rows == len(frame)
    assert summary.table("bloc", STANCES).equals(pd.crosstab(labeled["bloc"], labeled["stance"])[STANCES].rename_axis(columns="stance"))
    assert summary.table("doc", STANCES).loc["a.txt"].tolist() == [1, 2, 0]
    by_date = summary.table("date", STANCES)
    assert [str(d.date()) for d in by_date.index] == ["2022-01-12", "2022-01-14"] and by_date.to_numpy().sum() == 5


def section(page: str, title: str) -> str:
    match = re.search(rf"<h2>{re.escape(title)}</h2>(.*?)</section>", page, re.S)
    assert match, title
    return match.group(1)


def test_report_has_every_section_with_charts_and_tables(tmp_path):
    source = tmp_path / "predictions.csv"
    predictions().to_csv(source, index=False)
    target = tmp_path / "report.html"
    result = stance("report", source, "-o", target)
    assert result.exit_code == 0, result.output
    page = target.read_text(encoding="utf-8")
    assert "7 rows, 6 with a predicted stance" in section(page, "Stance")
    for title in ("Stance by bloc", "Stance by claim type", "Per document", "Over time"):
        section(page, title)
    for title in ("Stance by bloc", "Per document", "Over time"):
        assert "<svg" in section(page, title) and "<table" in section(page, title)
    assert "no claim column" in section(page, "Stance by claim type")
    assert all(doc in section(page, "Per document") for doc in ("a.txt", "b.txt", "c.txt"))
    assert "2022-01-14" in section(page, "Over time")
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page) and "<script" not in page


def test_report_of_real_predictions(trained_models, tmp_path):
    predicted = tmp_path / "predictions.parquet"
    result = stance("predict", REPO / "seeds", "--model", trained_models, "--quiet", "-o", predicted)
    assert result.exit_code == 0, result.output
    target = tmp_path / "report.html"
    assert stance("report", predicted, "-o", target).exit_code == 0
    page = target.read_text(encoding="utf-8")
    rows = len(pd.read_parquet(predicted))
    assert f"{rows} rows, {rows} with a predicted stance" in page
    for path in sorted((REPO / "seeds").glob("*.txt")):
        assert path.name in section(page, "Per document")
    assert "2022-01-12" in section(page, "Over time")


@pytest.mark.parametrize(
    "make, output, words",
    [
        (lambda p: pd.DataFrame({"text": ["a"]}).to_csv(p, index=False), "report.html", ["predictions.csv", "'stance'"]),
        (lambda p: None, "report.html", ["predictions.csv", "no such file"]),
        (lambda p: predictions().to_csv(p, index=False), "missing/report.html", ["missing", "does not exist"]),
        (lambda p: predictions().to_csv(p, index=False), "report.pdf", ["report.pdf", ".html"]),
    ],
    ids=["no stance column", "missing input", "missing output directory", "not html"],
)
def test_bad_report_input_is_one_line_and_writes_nothing(tmp_path, make, output, words):
    source = tmp_path / "predictions.csv"
    make(source)
    existing = tmp_path / "report.html"
    existing.write_text("old report", encoding="utf-8")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = stance("report", source, "-o", tmp_path / output)
    assert result.exit_code == 2, result.output
    line, *more = result.stderr.strip().splitlines()
    assert not more and all(word in line for word in words), line
    assert existing.read_text(encoding="utf-8") == "old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == before
