"""The progress bar of `stance predict` measures what has been read of the inputs: bytes of text
files, rows of Parquet tables, so that one big file moves the bar and gives a time left."""

from __future__ import annotations

import os
import pty
import re
import subprocess

import pandas as pd
import pytest
from rich.filesize import decimal
from typer.testing import CliRunner

from conftest import BIN, tool_env
from pipeline.cli import app
from pipeline.predict import ProgressBar, measured
from pipeline.tables import ReadOptions, reader

ROWS = 3_000


def big_table() -> pd.DataFrame:
    """Some 650 kB of CSV: three of the 256 kB blocks the CSV parser reads at a time."""
    sentence = "NATO's door stays open to {}, the alliance said, while Moscow called enlargement a threat to it, again."
    return pd.DataFrame({"id": range(ROWS), "text": [(sentence * 2).format(i, i) for i in range(ROWS)]})


WRITE = {
    "csv": lambda frame, path: frame.to_csv(path, index=False),
    "tsv": lambda frame, path: frame.to_csv(path, sep="\t", index=False),
    "jsonl": lambda frame, path: frame.to_json(path, orient="records", lines=True),
    "parquet": lambda frame, path: frame.to_parquet(path, row_group_size=1_000),
}


@pytest.mark.parametrize("kind, unit", [("csv", "bytes"), ("tsv", "bytes"), ("jsonl", "bytes"), ("parquet", "rows")])
def test_readers_count_what_they_have_read_up_to_their_size(tmp_path, kind, unit):
    path = tmp_path / f"big.{kind}"
    WRITE[kind](big_table(), path)  # parquet: 1,000-row groups
    source = reader(str(path), ReadOptions(batch_size=1_000), segmenter=None)
    size = source.size()
    assert source.unit == unit and size == (ROWS if unit == "rows" else path.stat().st_size)
    seen, rows = [], 0
    for batch in source.batches():
        rows += len(batch)
        seen.append(source.consumed)
    assert rows == ROWS and seen == sorted(seen) and 0 < seen[0] < size and seen[-1] == size


def terminal_run(args: list[str], cwd) -> str:
    """What a command writes to a terminal (its standard error and output on a pseudo-terminal)."""
    parent, child = pty.openpty()
    process = subprocess.Popen(args, cwd=cwd, env=tool_env(TERM="xterm", COLUMNS="160"), stdin=subprocess.DEVNULL,
                               stdout=child, stderr=child)
    os.close(child)
    shown = b""
    while True:
        try:
            data = os.read(parent, 65536)
        except OSError:  # the command has exited and closed the terminal
            break
        if not data:
            break
        shown += data
    os.close(parent)
    assert process.wait() == 0, shown.decode(errors="replace")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode())


def test_bar_on_one_big_csv_reaches_its_size_with_time_left(trained_models, tmp_path):
    source = tmp_path / "big.csv"
    big_table().to_csv(source, index=False)
    shown = terminal_run([str(BIN / "stance"), "predict", str(source), "--model", str(trained_models),
                          "--batch-size", "500", "-o", str(tmp_path / "out.csv")], tmp_path)
    frames = [frame.strip() for frame in re.split(r"[\r\n]+", shown) if frame.strip()]
    size = decimal(source.stat().st_size)
    final = frames[-1]
    assert re.search(rf"predicting .* {re.escape(size)} of {re.escape(size)}, .*/s .*{ROWS:,} sentences", final), final
    partway = [frame for frame in frames if re.search(r" of .* \d+:\d\d:\d\d", frame) and f"{size} of" not in frame]
    assert partway, frames  # a time left while reading


def test_no_bar_when_not_on_a_terminal(trained_models, tmp_path):
    source = tmp_path / "small.csv"
    big_table().head(3).to_csv(source, index=False)
    result = CliRunner().invoke(app, ["predict", str(source), "--model", str(trained_models)])
    assert result.exit_code == 0 and result.stderr == "" and len(result.stdout.splitlines()) == 4


def test_bar_has_one_task_per_unit_summing_its_inputs(tmp_path):
    paths = [tmp_path / name for name in ("a.csv", "b.jsonl", "c.parquet", "d.parquet")]
    for path in paths:
        WRITE[path.suffix[1:]](big_table().head(1_500), path)
    readers = [reader(str(path), ReadOptions(batch_size=500), segmenter=None) for path in paths]
    stdin = reader("-", ReadOptions(), segmenter=None)
    with ProgressBar(True, readers) as bar:
        for source in readers[:3]:
            for _ in source.batches():
                bar.wrote(0)
        bytes_task, rows_task = bar.bar.tasks
        assert (bytes_task.completed, bytes_task.total) == (sum(p.stat().st_size for p in paths[:2]),) * 2
        assert (rows_task.completed, rows_task.total) == (1_500, 3_000)
    with ProgressBar(True, [stdin]) as bar:
        (rows_task,) = bar.bar.tasks
        assert rows_task.total is None and rows_task.fields["amount"] == "0 rows"


def test_amounts_read_are_in_bytes_or_rows():
    assert measured(1_200_000, 4_000_000, 300_000, "bytes") == "1.2 MB of 4.0 MB, 300.0 kB/s"
    assert measured(1_200, 4_000, 300.4, "rows") == "1,200 of 4,000 rows, 300 rows/s"
    assert measured(1_200, None, None, "rows") == "1,200 rows"
