"""A self-contained HTML report of predictions: stance overall, by bloc, by claim type, per
document and over time, as tables and inline SVG charts; per bloc, the sentences that take a side;
and the versions of the models named.

The predictions are read in batches and only counts and a bounded number of sentences (the most
confident of each bloc and stance) are kept, so any size of input fits.
"""

from __future__ import annotations

import html
import io
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from pipeline.errors import InputError
from pipeline.files import atomic_path
from pipeline.models import ModelVersion, model_versions
from pipeline.tables import DOCUMENT_SUFFIXES, ReadOptions, expand_inputs, reader, require_column

STANCE_COLORS = {"favor": "#2f9e44", "against": "#e03131", "none": "#adb5bd"}
DOCUMENT_COLUMNS = ("doc", "input_file")
MAX_DOCUMENTS_CHARTED = 40
MONTHLY_AFTER_DAYS = 120
SIDE_SENTENCES = 20  # listed per bloc and stance


@dataclass(frozen=True)
class ReportColumns:
    """The predictions' columns a report reads besides the labels, and the stances that take a
    side, whose sentences it lists. Before `resolved`, a doc or date column of None is one not
    named (the usual one, if there); after it, one the file does not have."""

    doc: str | None = "doc"
    date: str | None = "date"
    text: str = "text"
    sides: tuple[str, ...] = ("favor", "against")

    def resolved(self, name: str, columns: list[str]) -> "ReportColumns":
        """The columns of file `name` to read: the doc and date columns named, which must be there,
        else the first of the usual ones there is."""
        for given, option in ((self.doc, "--doc-column"), (self.date, "--date-column")):
            if given:
                require_column(name, columns, given, f"name another with {option}")
        doc = self.doc or next((c for c in DOCUMENT_COLUMNS if c in columns), None)
        return replace(self, doc=doc, date=self.date or ("date" if "date" in columns else None))


@dataclass
class Summary:
    """Counts of predicted stance, overall and by bloc, claim type, document and date, the rows
    with a stance but no date (`undated`, `not_dates` of them a value that is not a date, such as
    `not_date`), and the most confident sentences of each bloc that take a side (`sides`)."""

    columns: ReportColumns = field(default_factory=ReportColumns)
    rows: int = 0
    counts: dict[str, pd.Series] = field(default_factory=dict)
    confidence_sum: float = 0.0
    confidence_n: int = 0
    undated: int = 0
    not_dates: int = 0
    not_date: str = ""
    sides: pd.DataFrame | None = None

    def add(self, key: str, part: pd.Series) -> None:
        """Add the counts of one batch to the running counts called `key`."""
        self.counts[key] = part if key not in self.counts else self.counts[key].add(part, fill_value=0)

    def table(self, key: str, stances: list[str]) -> pd.DataFrame | None:
        """Counts `key` as a table: one row per value, one column per stance, integers."""
        if key not in self.counts or self.counts[key].empty:
            return None
        table = self.counts[key].unstack(fill_value=0).astype(int)
        return table.reindex(columns=ordered(stances, table.columns), fill_value=0)

    def count_dates(self, values: pd.Series, stance: pd.Series) -> None:
        """Count a batch's labeled rows by date; those without one (empty, or not a date) apart."""
        text = values.fillna("").astype(str).str.strip()
        dates = pd.to_datetime(text, errors="coerce", format="mixed").dt.normalize()
        known = dates.notna()
        wrong = ~known & text.ne("")
        self.undated += int((~known).sum())
        self.not_dates += int(wrong.sum())
        self.not_date = self.not_date or (text[wrong].iat[0] if wrong.any() else "")
        self.add("date", stance[known].groupby([dates[known].rename("date"), stance[known]]).size())

    def keep_sides(self, labeled: pd.DataFrame) -> None:
        """Keep, of the sentences kept and a batch's, the `SIDE_SENTENCES` most confident of each
        bloc and stance that takes a side (earlier ones first among equals)."""
        columns = self.columns
        taking = labeled[labeled["stance"].astype(str).isin(columns.sides)]
        named = {"bloc": "bloc", "stance": "stance", columns.text: "sentence", columns.doc: "document",
                 columns.date: "date"}
        named = {column: shown for column, shown in named.items() if column in taking.columns}
        part = taking[list(named)].fillna("").astype(str).set_axis(list(named.values()), axis=1)
        confidence = pd.to_numeric(taking["stance_p"], errors="coerce") if "stance_p" in taking else float("nan")
        part.insert(2, "probability", confidence)
        both = part if self.sides is None else pd.concat([self.sides, part], ignore_index=True)
        both = both.sort_values("probability", ascending=False, kind="stable", na_position="last")
        self.sides = both.groupby(["bloc", "stance"], sort=False).head(SIDE_SENTENCES).reset_index(drop=True)


def ordered(known: Iterable[str], found: Iterable) -> list:
    """The values found, those of `known` first in its order."""
    found = list(found)
    return [value for value in known if value in found] + sorted(value for value in found if value not in known)


def summarise(batches: Iterable[pd.DataFrame], columns: ReportColumns = ReportColumns()) -> Summary:
    """The counts, and the sentences taking a side, of a stream of prediction batches read in
    `columns` (rows without a stance are counted apart)."""
    summary = Summary(columns)
    for batch in batches:
        summary.rows += len(batch)
        labeled = batch[batch["stance"].fillna("").astype(str).ne("")]
        stance = labeled["stance"].astype(str)
        summary.add("stance", stance.value_counts())
        if "stance_p" in labeled.columns:
            confidence = pd.to_numeric(labeled["stance_p"], errors="coerce").dropna()
            summary.confidence_sum += float(confidence.sum())
            summary.confidence_n += len(confidence)
        for key, column in (("bloc", "bloc"), ("claim", "claim"), ("doc", columns.doc)):
            if column in labeled.columns:
                values = labeled[column].fillna("").astype(str)
                summary.add(key, stance.groupby([values.rename(key), stance]).size())
        if columns.date in labeled.columns:
            summary.count_dates(labeled[columns.date], stance)
        if "bloc" in labeled.columns:
            summary.keep_sides(labeled)
    return summary


def svg(figure) -> str:
    """A matplotlib figure as inline SVG markup (text kept as text)."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "natostance"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight")
    markup = buffer.getvalue()
    return markup[markup.index("<svg"):]


def colors(stances: Iterable[str]) -> list[str]:
    palette = ["#1971c2", "#f08c00", "#9c36b5", "#0c8599", "#5c940d"]
    return [STANCE_COLORS.get(s, palette[i % len(palette)]) for i, s in enumerate(stances)]


def bar_chart(table: pd.DataFrame, title: str, share: bool = False) -> str:
    """Horizontal stacked bars: one bar per row of `table`, one segment per stance."""
    from matplotlib.figure import Figure

    data = table.div(table.sum(axis=1).where(lambda s: s > 0, 1), axis=0) if share else table
    figure = Figure(figsize=(7.5, 0.9 + 0.32 * len(data)))
    axes = figure.subplots()
    left = pd.Series(0.0, index=data.index)
    for stance, color in zip(data.columns, colors(data.columns)):
        axes.barh([str(i) for i in data.index], data[stance], left=left, color=color, label=str(stance))
        left += data[stance]
    axes.invert_yaxis()
    axes.set_title(title)
    axes.set_xlabel("share of sentences" if share else "sentences")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    return svg(figure)


def line_chart(table: pd.DataFrame, title: str) -> str:
    """One line per stance over time; a period without rows (all NaN) is a gap in every line."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 3.2))
    axes = figure.subplots()
    for stance, color in zip(table.columns, colors(table.columns)):
        axes.plot(table.index, table[stance], marker="o", color=color, label=str(stance))
    axes.set_title(title)
    axes.set_ylabel("sentences")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")
    figure.autofmt_xdate()
    return svg(figure)


def with_total(table: pd.DataFrame) -> pd.DataFrame:
    return table.assign(total=table.sum(axis=1))


def over_time(table: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Daily counts, or monthly ones when the dates span more than a few months, by period, with
    every period from the first to the last: those without rows hold NaN."""
    period = "day" if (table.index.max() - table.index.min()).days <= MONTHLY_AFTER_DAYS else "month"
    counts = table.groupby(table.index.to_period(period[0].upper())).sum()
    return counts.reindex(pd.period_range(counts.index.min(), counts.index.max(), freq=counts.index.freq)), period


def section(title: str, *parts: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>\n" + "\n".join(parts) + "\n</section>"


def frame_html(table: pd.DataFrame) -> str:
    return table.to_html(border=0, classes="counts", escape=True)


def note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def dates_note(summary: Summary, labeled: int) -> str:
    """How many rows with a stance the time chart leaves out for want of a date."""
    column = summary.columns.date
    if column is None:
        return "The predictions have no date column (name one with --date-column): no row is charted over time."
    wrong = (f" ({summary.not_dates:,} of them a value that is not a date, such as {summary.not_date!r})"
             if summary.not_dates else "")
    if summary.undated == 0:
        return f"Every one of the {labeled:,} rows with a predicted stance has a date in column '{column}'."
    return (f"{summary.undated:,} of the {labeled:,} rows with a predicted stance have no date in column"
            f" '{column}'{wrong} and are left out of the chart.")


def time_section(summary: Summary, stances: list[str], labeled: int) -> str:
    """Stance per day or month, periods without rows left as gaps, and the rows left out."""
    table = summary.table("date", stances)
    if table is None:
        return section("Over time", note(dates_note(summary, labeled)))
    table, period = over_time(table.sort_index())
    empty = table.isna().all(axis=1)
    gaps = f" {int(empty.sum())} {period}(s) without any row: gaps in the lines." if empty.any() else ""
    counts = with_total(table[~empty].astype(int)).set_axis(table.index[~empty].astype(str)).rename_axis(period)
    chart = line_chart(table.set_axis(table.index.to_timestamp()), f"Stance per {period}")
    return section("Over time", note(dates_note(summary, labeled) + gaps), chart, frame_html(counts))


def sides_section(summary: Summary, blocs: Iterable[str]) -> str:
    """Per bloc, the most confident sentences of each stance that takes a side."""
    title = "Sentences taking a side"
    kept = summary.sides
    if kept is None or kept.empty:
        sides = " or ".join(summary.columns.sides)
        missing = "no bloc column" if "bloc" not in summary.counts else f"no sentence {sides}"
        return section(title, note(f"The predictions have {missing}."))
    counts = summary.table("bloc", list(summary.columns.sides))
    parts = [note(f"Per bloc, the {SIDE_SENTENCES} sentences of each stance ({', '.join(summary.columns.sides)})"
                  " with the highest stance probability.")]
    for bloc in ordered(blocs, kept["bloc"].unique()):
        rows = kept[kept["bloc"] == bloc]
        rows = rows.sort_values("stance", key=lambda s: s.map(summary.columns.sides.index), kind="stable")
        shown = ", ".join(f"{int(counts.at[bloc, s]) if s in counts else 0:,} {s}" for s in summary.columns.sides)
        table = rows.drop(columns="bloc").assign(probability=rows["probability"].map("{:.3f}".format))
        parts.append(f"<h3>{html.escape(bloc)}</h3>\n" + note(f"{shown}; the most confident:") + table.to_html(
            border=0, classes="sentences", escape=True, index=False, na_rep=""))
    return section(title, *parts)


def models_section(versions: list[ModelVersion] | None, source: str | None, tasks: Iterable[str]) -> str:
    """The versions of the models named by --model (the predictions file does not record them)."""
    title = "Models"
    if not versions:
        where = f"no model in {source}" if source else "no models folder"
        return section(title, note(f"Model versions unknown ({where}): name the models that made the predictions"
                                   " with --model."))
    by_task = {version.task: version for version in versions}
    table = pd.DataFrame([{"task": task, "labels": ", ".join(by_task[task].labels),
                           "chosen candidate": by_task[task].candidate or "unknown", "model_uuid": by_task[task].uuid,
                           "saved": by_task[task].created or ""} for task in ordered(tasks, by_task)])
    table = table.drop(columns="saved") if not table["saved"].any() else table
    return section(title, note(f"The models in {source}, as named by --model: the predictions file does not record"
                               " which models made it. A model_uuid is derived from the model file's content."),
                   table.to_html(border=0, classes="sentences", escape=True, index=False))


def render(summary: Summary, source: str, schema_tasks: dict[str, tuple[str, ...]],
           versions: list[ModelVersion] | None = None, models: str | None = None) -> str:
    """The report page."""
    stances = list(schema_tasks.get("stance", ()))
    overall = summary.counts.get("stance", pd.Series(dtype=int))
    labeled = int(overall.sum())
    overview = pd.DataFrame({"sentences": overall.reindex(ordered(stances, overall.index), fill_value=0).astype(int)})
    overview["share"] = (overview["sentences"] / max(labeled, 1)).map("{:.1%}".format)
    facts = f"{summary.rows:,} rows, {labeled:,} with a predicted stance"
    if summary.confidence_n:
        facts += f", mean stance probability {summary.confidence_sum / summary.confidence_n:.3f}"
    parts = [section("Stance", note(facts), frame_html(overview.rename_axis("stance")))]

    for key, title in (("bloc", "Stance by bloc"), ("claim", "Stance by claim type")):
        table = summary.table(key, stances)
        if table is None:
            parts.append(section(title, note(f"The predictions have no {key} column.")))
            continue
        table = table.reindex(ordered(schema_tasks.get(key, ()), table.index))
        parts.append(section(title, bar_chart(table, title), frame_html(with_total(table))))

    table = summary.table("doc", stances)
    if table is None:
        parts.append(section("Per document", note("No labeled row names its document (doc or input_file column;"
                                                  " name another with --doc-column).")))
    else:
        table = table.loc[table.sum(axis=1).sort_values(ascending=False, kind="stable").index]
        shown = table.head(MAX_DOCUMENTS_CHARTED)
        caption = "Stance share per document" + (f" ({len(shown)} largest of {len(table)})" if len(table) > len(shown) else "")
        parts.append(section("Per document", bar_chart(shown, caption, share=True), frame_html(with_total(table))))

    parts.append(time_section(summary, stances, labeled))
    parts.append(sides_section(summary, schema_tasks.get("bloc", ())))
    parts.append(models_section(versions, models, schema_tasks))
    return PAGE.format(title=html.escape(f"Stance report: {source}"), body="\n".join(parts))


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #212529; }}
h1 {{ font-size: 1.5rem; }} h2 {{ font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #dee2e6; }}
table.counts {{ border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }}
table.counts th, table.counts td {{ padding: 0.2rem 0.7rem; text-align: right; border-bottom: 1px solid #f1f3f5; }}
table.counts th:first-child {{ text-align: left; }}
table.sentences {{ border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.85rem; }}
table.sentences th, table.sentences td {{ padding: 0.2rem 0.5rem; text-align: left; vertical-align: top;
  border-bottom: 1px solid #f1f3f5; }}
h3 {{ font-size: 1rem; margin-bottom: 0.2rem; }}
.note {{ color: #495057; }}
svg {{ max-width: 100%; height: auto; }}
</style>
</head>
<body>
<h1>{title}</h1>
{body}
</body>
</html>
"""


def write_report(predictions: Path, target: Path, schema_tasks: dict[str, tuple[str, ...]], encoding: str = "utf-8",
                 columns: ReportColumns = ReportColumns(doc=None, date=None), models: Path | None = None) -> None:
    """Summarise a predictions table into a self-contained HTML file (written atomically), naming
    the versions of the models in `models` (the folder of the models that made the predictions)."""
    if target.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"{target}: the report is HTML; name it .html")
    if not target.parent.is_dir():
        raise InputError(f"{target}: output directory {target.parent} does not exist")
    names = expand_inputs([str(predictions)])
    if len(names) != 1 or Path(names[0]).suffix.lower() in DOCUMENT_SUFFIXES:
        raise InputError(f"{predictions}: not a predictions table (.csv, .tsv, .jsonl, .parquet)")
    source = reader(names[0], ReadOptions(encoding=encoding), segmenter=None)
    found = source.columns()
    require_column(names[0], found, "stance", "write predictions with `stance predict`")
    versions = model_versions(models) if models else None
    page = render(summarise(source.batches(), columns.resolved(names[0], found)), predictions.name, schema_tasks,
                  versions, str(models) if models else None)
    with atomic_path(target) as temporary:
        temporary.write_text(page, encoding="utf-8")
