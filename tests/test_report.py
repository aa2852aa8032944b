"""`stance report`: counts that add up, every section, a self-contained page, one-line errors."""

from __future__ import annotations

import html
import re
import shutil

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from conftest import REPO
from pipeline.cli import app
from pipeline.modelcard import CARD
from pipeline.report import SIDE_SENTENCES, ReportColumns, render, summarise

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
    assert stance("report", predicted, "-o", target, "--model", trained_models).exit_code == 0
    page = target.read_text(encoding="utf-8")
    sides = section(page, "Sentences taking a side")
    groups = pd.read_parquet(predicted).query("stance != 'none'").groupby(["bloc", "stance"])
    assert sides.count("<tr>") == sum(min(len(group), SIDE_SENTENCES) for _, group in groups)
    for _, group in groups:
        assert html.escape(group.sort_values("stance_p")["text"].iat[-1], quote=False) in sides
    assert "Model versions unknown" not in section(page, "Models")
    rows = len(pd.read_parquet(predicted))
    assert f"{rows} rows, {rows} with a predicted stance" in page
    for path in sorted((REPO / "seeds").glob("*.txt")):
        assert path.name in section(page, "Per document")
    assert "2022-01-12" in section(page, "Over time")


def broken_model(models):
    """A models folder whose stance model's MLmodel is not a model's metadata."""
    (models / "stance").mkdir(parents=True)
    (models / "stance" / "MLmodel").write_text("flavors: [", encoding="utf-8")


@pytest.mark.parametrize(
    "make, output, words",
    [
        (lambda p: pd.DataFrame({"text": ["a"]}).to_csv(p, index=False), "report.html", ["predictions.csv", "'stance'"]),
        (lambda p: None, "report.html", ["predictions.csv", "no such file"]),
        (lambda p: predictions().to_csv(p, index=False), "missing/report.html", ["missing", "does not exist"]),
        (lambda p: predictions().to_csv(p, index=False), "report.pdf", ["report.pdf", ".html"]),
        (lambda p: predictions().to_csv(p, index=False), "report.html --date-column published",
         ["predictions.csv", "'published'", "--date-column"]),
        (lambda p: predictions().to_csv(p, index=False), "report.html --doc-column source",
         ["predictions.csv", "'source'", "--doc-column"]),
        (lambda p: predictions().to_csv(p, index=False), "report.html --model {tmp}/missing",
         ["missing", "does not exist"]),
        (lambda p: predictions().to_csv(p, index=False) or broken_model(p.parent / "models"),
         "report.html --model {tmp}/models", ["MLmodel", "not a natostance model"]),
    ],
    ids=["no stance column", "missing input", "missing output directory", "not html", "missing date column",
         "missing doc column", "missing models folder", "unreadable model metadata"],
)
def test_bad_report_input_is_one_line_and_writes_nothing(tmp_path, make, output, words):
    source = tmp_path / "predictions.csv"
    make(source)
    existing = tmp_path / "report.html"
    existing.write_text("old report", encoding="utf-8")
    before = sorted(p.name for p in tmp_path.iterdir())
    name, *options = output.split()
    result = stance("report", source, "-o", tmp_path / name, *[option.format(tmp=tmp_path) for option in options])
    assert result.exit_code == 2, result.output
    line, *more = result.stderr.strip().splitlines()
    assert not more and all(word in line for word in words), line
    assert existing.read_text(encoding="utf-8") == "old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def dated_predictions() -> pd.DataFrame:
    """Predictions from January to June 2022 with nothing in February, April and May, two rows
    without a date and one with a value that is not a date, in columns of other names than usual."""
    rows = [("2022-01-10", "favor"), ("2022-01-20", "against"), ("2022-03-05", "favor"), ("2022-06-01", "against"),
            ("2022-06-02", "favor"), ("", "favor"), ("", "none"), ("soon", "against")] * 10
    frame = pd.DataFrame(rows, columns=["published", "stance"])
    return frame.assign(source=[f"outlet-{i % 3}" for i in range(len(frame))], bloc="west", stance_p="0.8",
                        text=[f"sentence {i}" for i in range(len(frame))])


def stance_lines(chart: str) -> list[str]:
    """The drawing of each line of a matplotlib SVG chart (legend samples included)."""
    return re.findall(r'<g id="line2d_\d+">\s*<path d="([^"]*)"', chart)


def test_time_chart_names_the_undated_rows_and_leaves_empty_months_as_gaps(tmp_path):
    source, target = tmp_path / "predictions.csv", tmp_path / "report.html"
    dated_predictions().to_csv(source, index=False)
    result = stance("report", source, "-o", target, "--date-column", "published", "--doc-column", "source")
    assert result.exit_code == 0, result.output
    over_time = section(target.read_text(encoding="utf-8"), "Over time")
    assert ("30 of the 80 rows with a predicted stance have no date in column &#x27;published&#x27; (10 of them a"
            " value that is not a date, such as &#x27;soon&#x27;) and are left out of the chart") in over_time
    assert "3 month(s) without any row: gaps in the lines" in over_time
    months = re.findall(r"<th>(2022-\d\d)</th>", over_time)
    assert months == ["2022-01", "2022-03", "2022-06"]
    assert [line.count("M") for line in stance_lines(over_time)[:2]] == [3, 3]  # favor, against: gaps in Feb, Apr-May
    documents = section(target.read_text(encoding="utf-8"), "Per document")
    assert all(outlet in documents for outlet in ("outlet-0", "outlet-2"))


def test_every_row_dated_is_said():
    frame = dated_predictions().query("published.str.startswith('2022')")
    page = render(summarise([frame], ReportColumns(date="published")), "p.csv", {"stance": tuple(STANCES)})
    assert "Every one of the 50 rows with a predicted stance has a date in column &#x27;published&#x27;" in page


def test_side_sentences_are_the_most_confident_per_bloc_and_stance_however_batched():
    rows = 9 * SIDE_SENTENCES  # 30 of each bloc and stance
    frame = pd.DataFrame({"bloc": ["west", "russia"] * (rows // 2),
                          "stance": ["favor", "against", "none"] * (rows // 3),
                          "stance_p": [str((i * 37 % rows) / rows) for i in range(rows)],
                          "text": [f"sentence {i}" for i in range(rows)]})
    whole = summarise([frame]).sides
    batched = summarise([frame.iloc[i:i + 7] for i in range(0, rows, 7)]).sides
    assert whole.equals(batched)
    for (bloc, side), kept in whole.groupby(["bloc", "stance"]):
        group = frame[(frame["bloc"] == bloc) & (frame["stance"] == side)]
        expected = group.assign(p=group["stance_p"].astype(float)).sort_values("p", ascending=False)
        assert kept["sentence"].tolist() == expected["text"].head(SIDE_SENTENCES).tolist()
        assert len(kept) == min(SIDE_SENTENCES, len(group))
    assert set(whole["stance"]) == {"favor", "against"}


def test_report_names_the_model_versions_read_from_their_folders(trained_models, tmp_path):
    source, target = tmp_path / "predictions.csv", tmp_path / "report.html"
    predictions().to_csv(source, index=False)
    models = tmp_path / "models"
    shutil.copytree(trained_models, models)
    card = CARD.replace("{candidate}", "logreg-ngrams-lexicon")  # the card `dvc repro` writes (the rest unfilled)
    (models / "stance" / "README.md").write_text(card, encoding="utf-8")
    assert stance("report", source, "-o", target, "--model", models).exit_code == 0
    listed = section(target.read_text(encoding="utf-8"), "Models")
    for task in ("stance", "bloc", "claim"):
        uuid = yaml.safe_load((models / task / "MLmodel").read_text())["model_uuid"]
        assert re.search(rf"<td>{task}</td>.*?<td>{uuid}</td>", listed, re.S)
    assert "<td>logreg-ngrams-lexicon</td>" in listed and listed.count("<td>unknown</td>") == 2
    empty = tmp_path / "no-models"
    empty.mkdir()
    assert stance("report", source, "-o", target, "--model", empty).exit_code == 0
    assert f"Model versions unknown (no model in {empty})" in section(target.read_text(encoding="utf-8"), "Models")


def test_a_report_outside_the_repository_reads_the_schema_its_models_carry(trained_models, tmp_path, monkeypatch):
    """`stance report` elsewhere failed on configs/params.yaml."""
    monkeypatch.chdir(tmp_path)
    predictions().to_csv("predictions.csv", index=False)
    result = stance("report", "predictions.csv", "-o", "report.html", "--model", trained_models)
    assert result.exit_code == 0, result.output
    assert "Sentences taking a side" in (tmp_path / "report.html").read_text(encoding="utf-8")
    alone = stance("report", "predictions.csv", "-o", "alone.html")
    assert alone.exit_code == 2 and alone.stderr.startswith("error: no label schema: name the models")
    assert not (tmp_path / "alone.html").exists()
