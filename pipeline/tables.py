"""Sentence tables in and out, batch by batch, so memory stays flat however large the input.

Inputs: documents (`.txt`, `.md`, segmented exactly like the training corpus), tables with one
sentence per row (`.csv`, `.tsv`, `.jsonl`, `.parquet`) and standard input (`-`, one sentence per
line). Outputs: `.csv`, `.jsonl`, `.parquet` or CSV on standard output. Every bad input raises
`InputError` naming the file (and the line or column where it applies).
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from pipeline.errors import InputError
from pipeline.files import atomic_path, json_object, refuse_overwrite

STDIN = "-"
DOCUMENT_SUFFIXES = (".txt", ".md")
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".parquet")
OUTPUT_SUFFIXES = (".csv", ".jsonl", ".parquet")
DOCUMENT_COLUMNS = ["id", "doc", "index", "start", "end", "date", "text"]


@dataclass(frozen=True)
class ReadOptions:
    """How inputs are read: the text column, the encoding of text files, the batch size and the
    longest text accepted (`segment.max_chars`, as for documents; None: no limit)."""

    text_column: str = "text"
    encoding: str = "utf-8"
    batch_size: int = 10_000
    max_chars: int | None = None

    def too_long(self, text: str, where: str) -> None:
        """Fail, saying `where`, when `text` is longer than `max_chars`."""
        if self.max_chars is not None and len(text) > self.max_chars:
            raise InputError(f"{where}: column '{self.text_column}': {len(text)} characters,"
                             f" more than segment.max_chars={self.max_chars}")

    def within_limit(self, batches: Iterable[pd.DataFrame], name: str, unit: str = "row") -> Iterator[pd.DataFrame]:
        """The batches, each checked before it is passed on: a text longer than `max_chars` fails,
        naming the row (or the `unit`) it is on."""
        offset = 0
        for batch in batches:
            if self.max_chars is not None and self.text_column in batch.columns:
                lengths = batch[self.text_column].fillna("").astype(str).str.len().to_numpy()
                over = np.flatnonzero(lengths > self.max_chars)
                if len(over):
                    row = int(over[0])
                    self.too_long(str(batch[self.text_column].iat[row]), f"{name}: {unit} {offset + row + 1}")
            offset += len(batch)
            yield batch


def files_inside(folder: Path) -> tuple[list[str], list[str], list[str]]:
    """The supported files inside `folder` (recursively, in name order), the hidden folders and
    supported files it skips (`.git/`, `.venv/`, `.draft.csv`; relative to `folder`), whose
    contents are not looked at, and the README files it skips (a folder's documentation, not
    one of its articles)."""
    found, hidden, readmes = [], [], []
    for root, folders, files in os.walk(folder):
        here = Path(root)
        hidden += [f"{(here / name).relative_to(folder)}/" for name in folders if name.startswith(".")]
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in files:
            if Path(name).suffix.lower() not in DOCUMENT_SUFFIXES + TABLE_SUFFIXES:
                continue
            if name.startswith("."):
                hidden.append(str((here / name).relative_to(folder)))
            elif Path(name).stem.lower() == "readme":
                readmes.append(str((here / name).relative_to(folder)))
            else:
                found.append(str(here / name))
    return sorted(found), sorted(hidden), sorted(readmes)


def expand_inputs(inputs: Iterable[str]) -> list[str]:
    """The input files of a run: files as given, directories as every supported file inside
    (recursively, in name order; hidden files and folders and README files skipped, and named on
    standard error),
    `-` for standard input."""
    found: list[str] = []
    for given in inputs:
        path = Path(given)
        if given == STDIN:
            found.append(STDIN)
        elif path.is_dir():
            inside, hidden, readmes = files_inside(path)
            if hidden:
                print(f"{path}: skipped hidden files and folders: {', '.join(hidden)}", file=sys.stderr)
            if readmes:
                print(f"{path}: skipped README files (documentation, not articles): {', '.join(readmes)}",
                      file=sys.stderr)
            if not inside:
                raise InputError(f"{path}: no supported file inside ({', '.join(DOCUMENT_SUFFIXES + TABLE_SUFFIXES)})")
            found.extend(inside)
        elif not path.exists():
            raise InputError(f"{path}: no such file or directory")
        elif path.suffix.lower() not in DOCUMENT_SUFFIXES + TABLE_SUFFIXES:
            raise InputError(
                f"{path}: unknown extension '{path.suffix}' (expected one of {', '.join(DOCUMENT_SUFFIXES + TABLE_SUFFIXES)})"
            )
        else:
            found.append(str(path))
    if found.count(STDIN) > 1:
        raise InputError("-: standard input can be read only once")
    return found


def decoded_lines(handle: BinaryIO, encoding: str, name: str) -> Iterator[str]:
    """Each line of a byte stream, decoded, without its line ending (nor a UTF-8 byte order mark);
    bad bytes raise `InputError` naming the line."""
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise InputError(f"{name}: unknown encoding '{encoding}'") from None
    decoder = codecs.getincrementaldecoder("utf-8-sig" if codec == "utf-8" else codec)()
    number, pending = 0, ""
    for raw in chain(handle, [None]):
        try:
            pending += decoder.decode(raw or b"", final=raw is None)
        except UnicodeDecodeError as error:
            raise InputError(
                f"{name}: line {number + 1}: bytes that are not {encoding} ({error.reason});"
                " use --encoding to read another encoding"
            ) from None
        *complete, pending = pending.split("\n")
        if raw is None and pending:
            complete.append(pending)
        for line in complete:
            number += 1
            yield line.removesuffix("\r")


def chunks(lines: Iterable, size: int) -> Iterator[list]:
    """Consecutive lists of up to `size` items."""
    chunk: list = []
    for item in lines:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def require_column(name: str, columns: list[str], column: str, hint: str) -> None:
    """Fail, listing the columns there are, when `column` is not among them."""
    if column not in columns:
        raise InputError(f"{name}: no column '{column}' (its columns: {', '.join(map(str, columns)) or 'none'}); {hint}")


class InputReader:
    """What every reader shares: how much of its input `batches` has read (`consumed`) of its
    `size()`, in `unit`s: bytes of files here, rows where a reader counts them."""

    unit = "bytes"
    consumed = 0

    def __init__(self, name: str, options: ReadOptions):
        self.path, self.options = Path(name), options

    def size(self) -> int | None:
        """The input's size in `unit`s (None: unknown until it is read)."""
        return self.path.stat().st_size


class StdinReader(InputReader):
    """Standard input: one sentence per line; its size is unknown, so `consumed` counts rows."""

    unit = "rows"

    def __init__(self, name: str, options: ReadOptions):
        self.name, self.options = name, options

    def size(self) -> None:
        return None

    def columns(self) -> list[str]:
        return [self.options.text_column]

    def batches(self) -> Iterator[pd.DataFrame]:
        lines = decoded_lines(sys.stdin.buffer, self.options.encoding, "<stdin>")
        frames = (pd.DataFrame({self.options.text_column: chunk}) for chunk in chunks(lines, self.options.batch_size))
        for frame in self.options.within_limit(frames, "<stdin>", "line"):
            self.consumed += len(frame)
            yield frame


class DocumentReader(InputReader):
    """A document, segmented into sentences by the corpus segmenter (read whole)."""

    def __init__(self, name: str, options: ReadOptions, segmenter: Callable):
        super().__init__(name, options)
        self.segmenter = segmenter

    def columns(self) -> list[str]:
        return [self.options.text_column if c == "text" else c for c in DOCUMENT_COLUMNS]

    def batches(self) -> Iterator[pd.DataFrame]:
        records = self.segmenter().segment_file(self.path, self.options.encoding)
        frame = pd.DataFrame.from_records(records, columns=DOCUMENT_COLUMNS)
        self.consumed = self.size()
        yield frame.astype({"index": "int64", "start": "int64", "end": "int64"}).rename(
            columns={"text": self.options.text_column}
        )


class DelimitedReader(InputReader):
    """A CSV or TSV table with a header row; every value is read as text, exactly as written."""

    def __init__(self, name: str, options: ReadOptions):
        super().__init__(name, options)
        self.separator = "\t" if self.path.suffix.lower() == ".tsv" else ","

    def _read(self, source, **kwargs):
        # index_col=False: a first row with a field too many is an error, not an index column
        # that shifts every row.
        return pd.read_csv(
            source, sep=self.separator, dtype=str, keep_default_na=False, na_filter=False, index_col=False,
            encoding=self.options.encoding, **kwargs,
        )

    def _first_row(self) -> tuple[int, int, int]:
        """The line of the first data row, its number of fields and the header's."""
        with self.path.open(encoding=self.options.encoding, newline="") as handle:
            rows = csv.reader(handle, delimiter=self.separator)
            header, first = (next(row for row in rows if row) for _ in range(2))
            return rows.line_num, len(first), len(header)

    @contextmanager
    def _errors(self):
        """Pandas' parse errors as `InputError`, a malformed first row and bad bytes located by line."""
        try:
            with warnings.catch_warnings():
                # pandas only warns, and drops the extra fields, when the first row is too long
                warnings.simplefilter("error", pd.errors.ParserWarning)
                yield
        except pd.errors.ParserWarning:
            line, fields, expected = self._first_row()
            raise InputError(
                f"{self.path}: malformed {self.kind} (Expected {expected} fields in line {line}, saw {fields})"
            ) from None
        except UnicodeDecodeError:
            with self.path.open("rb") as handle:
                for _ in decoded_lines(handle, self.options.encoding, str(self.path)):
                    pass
            raise InputError(f"{self.path}: bytes that are not {self.options.encoding}") from None
        except LookupError:
            raise InputError(f"{self.path}: unknown encoding '{self.options.encoding}'") from None
        except pd.errors.ParserError as error:
            message = str(error).strip().removeprefix("Error tokenizing data. C error: ")
            raise InputError(f"{self.path}: malformed {self.kind} ({message})".replace("\n", " ")) from None

    @property
    def kind(self) -> str:
        """CSV or TSV, for messages."""
        return self.path.suffix[1:].upper()

    def columns(self) -> list[str]:
        with self._errors():
            try:
                return list(self._read(self.path, nrows=1).columns)  # one row: a malformed first row fails here
            except pd.errors.EmptyDataError:
                return []

    def batches(self) -> Iterator[pd.DataFrame]:
        with self.path.open("rb") as handle:  # its position is the bytes the parser has read
            with self._errors():
                try:
                    reader = self._read(handle, chunksize=self.options.batch_size)
                except pd.errors.EmptyDataError:
                    self.consumed = self.size()
                    return
            with reader:
                yield from self.options.within_limit(self._chunks(reader, handle), str(self.path))

    def _chunks(self, reader, handle: BinaryIO) -> Iterator[pd.DataFrame]:
        while True:
            with self._errors():  # not held while the caller has a batch
                batch = next(reader, None)
            self.consumed = handle.tell()
            if batch is None:
                return
            yield batch


JSON_KINDS = {bool: "a boolean", int: "a number", float: "a number", list: "a list", dict: "an object"}


class JsonlReader(InputReader):
    """A JSON Lines table: one object per line; blank lines are skipped. Its columns are the
    fields of all records (a first pass over the file, cheap beside prediction, which also finds
    a malformed line before any output is written); a record without a field leaves it empty."""

    def records(self, handle: BinaryIO) -> Iterator[dict]:
        """Each record of the file open as `handle`; a malformed line, or a text that is not a
        string or is too long, raises `InputError`."""
        for number, line in enumerate(decoded_lines(handle, self.options.encoding, str(self.path)), start=1):
            if not line.strip():
                continue
            try:
                record = json_object(line)
            except ValueError as error:
                raise InputError(f"{self.path}: line {number}: {error}") from None
            text = record.get(self.options.text_column)
            if text is not None and not isinstance(text, str):
                raise InputError(
                    f"{self.path}: line {number}: column '{self.options.text_column}' holds"
                    f" {JSON_KINDS.get(type(text), type(text).__name__)} ({json.dumps(text)[:40]}), not text"
                )
            self.options.too_long(text or "", f"{self.path}: line {number}")
            yield record

    def columns(self) -> list[str]:
        fields: dict[str, None] = {}
        with self.path.open("rb") as handle:
            for record in self.records(handle):
                fields.update(dict.fromkeys(record))
        return list(fields)

    def batches(self) -> Iterator[pd.DataFrame]:
        with self.path.open("rb") as handle:
            for chunk in chunks(self.records(handle), self.options.batch_size):
                self.consumed = handle.tell()
                yield pd.DataFrame.from_records(chunk)
            self.consumed = handle.tell()  # blank lines after the last record


class ParquetReader(InputReader):
    """A Parquet table, read one record batch at a time; its size is its row count."""

    unit = "rows"

    def size(self) -> int:
        return self._open().metadata.num_rows

    @contextmanager
    def _errors(self):
        import pyarrow as pa

        try:
            yield
        except (pa.ArrowException, OSError) as error:
            raise InputError(f"{self.path}: not a readable Parquet file ({error})".replace("\n", " ")) from None

    def _open(self):
        import pyarrow.parquet as pq

        with self._errors():
            return pq.ParquetFile(self.path)

    def columns(self) -> list[str]:
        """The column names; a text column of values that are not strings raises `InputError`."""
        schema = self._open().schema_arrow
        column = self.options.text_column
        if column in schema.names and not is_text_type(schema.field(column).type):
            row = self._first_value_row(column)
            if row:
                raise InputError(f"{self.path}: row {row}: column '{column}' holds {schema.field(column).type}"
                                 " values, not text")
        return schema.names

    def _first_value_row(self, column: str) -> int | None:
        """The row (from 1) of the first non-null value in `column`; None when all are null."""
        import pyarrow.compute as pc

        offset = 0
        with self._errors():
            for batch in self._open().iter_batches(batch_size=self.options.batch_size, columns=[column]):
                found = pc.index(batch.column(0).is_valid(), True).as_py()
                if found >= 0:
                    return offset + found + 1
                offset += batch.num_rows
        return None

    def batches(self) -> Iterator[pd.DataFrame]:
        yield from self.options.within_limit(self._frames(), str(self.path))

    def _frames(self) -> Iterator[pd.DataFrame]:
        parquet = self._open()
        with self._errors():
            for batch in parquet.iter_batches(batch_size=self.options.batch_size):
                self.consumed += batch.num_rows
                yield batch.to_pandas()


def is_text_type(kind) -> bool:
    """Whether an Arrow type holds text (strings, or only nulls)."""
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return any(test(kind) for test in (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view,
                                       pa.types.is_null))


def reader(name: str, options: ReadOptions, segmenter: Callable):
    """The reader of one input (a path or `-`), which `expand_inputs` has checked."""
    if name == STDIN:
        return StdinReader(name, options)
    suffix = Path(name).suffix.lower()
    if suffix in DOCUMENT_SUFFIXES:
        return DocumentReader(name, options, segmenter)
    return {".csv": DelimitedReader, ".tsv": DelimitedReader, ".jsonl": JsonlReader, ".parquet": ParquetReader}[suffix](
        name, options
    )


def check_output(target: Path | None, inputs: Iterable[str] = ()) -> None:
    """Fail early on an output whose format is unknown, whose directory does not exist, or that
    would overwrite one of `inputs` or land inside an input folder (paths resolved, so `./x.csv`
    and symbolic links count)."""
    if target is None:
        return
    if target.suffix.lower() not in OUTPUT_SUFFIXES:
        raise InputError(f"{target}: unknown output extension '{target.suffix}' (expected one of {', '.join(OUTPUT_SUFFIXES)})")
    if not target.parent.is_dir():
        raise InputError(f"{target}: output directory {target.parent} does not exist")
    if target.is_dir():
        raise InputError(f"{target}: is a directory")
    refuse_overwrite(target, [given for given in inputs if given != STDIN])


class CsvWriter:
    """CSV: the header with the first batch (an empty one gives a header-only file), then each
    batch; nothing reaches standard output before the first batch is predicted."""

    def __init__(self, handle, columns: list[str]):
        self.handle, self.columns, self.started = handle, columns, False

    def write(self, frame: pd.DataFrame) -> None:
        if not self.started:
            pd.DataFrame(columns=self.columns).to_csv(self.handle, index=False)
            self.started = True
        frame.to_csv(self.handle, header=False, index=False)

    def close(self) -> None:
        self.handle.flush()


class JsonlWriter:
    """JSON Lines: one object per row; missing values are null."""

    def __init__(self, handle, columns: list[str]):
        self.handle = handle

    def write(self, frame: pd.DataFrame) -> None:
        if len(frame):
            frame.to_json(self.handle, orient="records", lines=True, force_ascii=False)

    def close(self) -> None:
        self.handle.flush()


class ParquetWriter:
    """Parquet: the column types of the first batch (all-null columns become strings) hold for all;
    at least one batch, even empty, must be written. `target` names the output in messages."""

    def __init__(self, path: Path, target: Path):
        self.path, self.target, self.writer = path, target, None

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.writer is None:
            schema = pa.Schema.from_pandas(frame, preserve_index=False)
            schema = pa.schema([f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in schema])
            self.writer = pq.ParquetWriter(self.path, schema)
        try:
            table = pa.Table.from_pandas(frame, schema=self.writer.schema, preserve_index=False)
        except (pa.ArrowException, ValueError) as error:
            raise InputError(
                f"{self.target}: a batch does not fit the column types of the earlier rows ({error});"
                " write CSV or JSONL instead".replace("\n", " ")
            ) from None
        self.writer.write_table(table)

    def close(self) -> None:
        self.writer.close()


WRITERS = {".csv": CsvWriter, ".jsonl": JsonlWriter, ".parquet": ParquetWriter}


@contextmanager
def open_output(target: Path | None, columns: list[str]):
    """A writer for `target` (None: CSV on standard output). A file is written beside the target
    and renamed onto it only when the block succeeds, so a failure leaves no partial output."""
    if target is None:
        writer = CsvWriter(sys.stdout, columns)
        yield writer
        writer.close()
        return
    check_output(target)
    kind = WRITERS[target.suffix.lower()]
    try:
        with atomic_path(target) as temporary:
            if kind is ParquetWriter:
                writer = ParquetWriter(temporary, target)
                yield writer
                writer.close()
            else:
                with temporary.open("w", encoding="utf-8", newline="") as handle:
                    yield kind(handle, columns)
    except FileNotFoundError as error:
        raise InputError(str(error)) from None
