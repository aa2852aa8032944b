"""A self-contained HTML report of predictions: stance overall, by bloc, by claim type, per
document and over time, as tables and inline SVG charts.

The predictions are read in batches and only counts are kept, so any size of input fits.
"""

from __future__ import annotations

import html
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipeline.errors import InputError
from pipeline.files import atomic_path
from pipeline.tables import DOCUMENT_SUFFIXES, ReadOptions, expand_inputs, reader, require_column

STANCE_COLORS = {"favor": "#2f9e44", "against": "#e03131", "none": "#adb5bd"}
DOCUMENT_COLUMNS = ("doc", "input_file")
MAX_DOCUMENTS_CHARTED = 40
MONTHLY_AFTER_DAYS = 120


@dataclass
class Summary:
    """Counts of predicted stance, overall and by bloc, claim type, document and date."""

    rows: int = 0
    counts: dict[str, pd.Series] = field(default_factory=dict)
    confidence_sum: float = 0.0
    confidence_n: int = 0

    def add(self, key: str, part: pd.Series) -> None:
        """Add the counts of one batch to the running counts called `key`."""
        self.counts[key] = part if key not in self.counts else self.counts[key].add(part, fill_value=0)

    def table(self, key: str, stances: list[str]) -> pd.DataFrame | None:
        """Counts `key` as a table: one row per value, one column per stance, integers."""
        if key not in self.counts or self.counts[key].empty:
            return None
        table = self.counts[key].unstack(fill_value=0).astype(int)
        return table.reindex(columns=ordered(stances, table.columns), fill_value=0)


def ordered(known: Iterable[str], found: Iterable) -> list:
    """The values found, those of `known` first in its order."""
    found = list(found)
    return [value for value in known if value in found] + sorted(value for value in found if value not in known)


def summarise(batches: Iterable[pd.DataFrame]) -> Summary:
    """The counts of a stream of prediction batches (rows without a stance are counted apart)."""
    summary = Summary()
    for batch in batches:
        summary.rows += len(batch)
        labeled = batch[batch["stance"].fillna("").astype(str).ne("")]
        stance = labeled["stance"].astype(str)
        summary.add("stance", stance.value_counts())
        if "stance_p" in labeled.columns:
            confidence = pd.to_numeric(labeled["stance_p"], errors="coerce").dropna()
            summary.confidence_sum += float(confidence.sum())
            summary.confidence_n += len(confidence)
        for key in ("bloc", "claim", *[c for c in DOCUMENT_COLUMNS if c in labeled.columns][:1]):
            if key in labeled.columns:
                values = labeled[key].fillna("").astype(str)
                summary.add(key, stance.groupby([values.rename(key), stance]).size())
        if "date" in labeled.columns:
            dates = pd.to_datetime(labeled["date"].astype(str), errors="coerce", format="mixed").dt.normalize()
            known = dates.notna()
            summary.add("date", stance[known].groupby([dates[known].rename("date"), stance[known]]).size())
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
    """One line per stance over time."""
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
    """Daily counts, or monthly ones when the dates span more than a few months."""
    span = (table.index.max() - table.index.min()).days
    if span <= MONTHLY_AFTER_DAYS:
        return table.set_axis(table.index.date), "day"
    monthly = table.groupby(table.index.to_period("M")).sum()
    return monthly.set_axis(monthly.index.to_timestamp().date), "month"


def section(title: str, *parts: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>\n" + "\n".join(parts) + "\n</section>"


def frame_html(table: pd.DataFrame) -> str:
    return table.to_html(border=0, classes="counts", escape=True)


def note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def render(summary: Summary, source: str, schema_tasks: dict[str, tuple[str, ...]]) -> str:
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

    key = next((c for c in DOCUMENT_COLUMNS if c in summary.counts), None)
    table = summary.table(key, stances) if key else None
    if table is None:
        parts.append(section("Per document", note("No labeled row names its document (doc or input_file column).")))
    else:
        table = table.loc[table.sum(axis=1).sort_values(ascending=False, kind="stable").index]
        shown = table.head(MAX_DOCUMENTS_CHARTED)
        caption = "Stance share per document" + (f" ({len(shown)} largest of {len(table)})" if len(table) > len(shown) else "")
        parts.append(section("Per document", bar_chart(shown, caption, share=True), frame_html(with_total(table))))

    table = summary.table("date", stances)
    if table is None:
        parts.append(section("Over time", note("No row has a known date.")))
    else:
        table, period = over_time(table.sort_index())
        title = f"Stance per {period}"
        parts.append(section("Over time", line_chart(table, title), frame_html(with_total(table).rename_axis(period))))

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


def write_report(predictions: Path, target: Path, schema_tasks: dict[str, tuple[str, ...]], encoding: str = "utf-8") -> None:
    """Summarise a predictions table into a self-contained HTML file (written atomically)."""
    if target.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"{target}: the report is HTML; name it .html")
    if not target.parent.is_dir():
        raise InputError(f"{target}: output directory {target.parent} does not exist")
    names = expand_inputs([str(predictions)])
    if len(names) != 1 or Path(names[0]).suffix.lower() in DOCUMENT_SUFFIXES:
        raise InputError(f"{predictions}: not a predictions table (.csv, .tsv, .jsonl, .parquet)")
    source = reader(names[0], ReadOptions(encoding=encoding), segmenter=None)
    require_column(names[0], source.columns(), "stance", "write predictions with `stance predict`")
    page = render(summarise(source.batches()), predictions.name, schema_tasks)
    with atomic_path(target) as temporary:
        temporary.write_text(page, encoding="utf-8")
