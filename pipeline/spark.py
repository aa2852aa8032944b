"""Batch prediction on Apache Spark (`stance spark-predict`): the project's `Predictor` applied to
each partition in Arrow batches (`mapInArrow`), so that a corpus larger than one machine gets
the labels and probabilities `stance predict` would give it.

The driver loads and checks the models as `stance predict` does; they reach the executors as
one broadcast (the predictor and the sentence encoders it runs, `pipeline.encoder`), so an
executor needs the project installed with its extras, and no models folder. When the input has
the document columns (`doc` and `index`), rows are repartitioned by document and every document
is predicted whole in one batch, so that the context features (the voice a sentence carries
from the sentences before it) see the whole document wherever its rows are in the input.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd

from pipeline.errors import InputError
from pipeline.files import atomic_folder, refuse_overwrite
from pipeline.predict import TARGET_HINT, TEXT_HINT, Inputs, Predictor
from pipeline.tables import DOCUMENT_SUFFIXES, require_column

FORMATS = {".parquet": "parquet", ".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl"}
LOCAL = "local[*]"
LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")  # errors only, from the JVM's start
CONNECT_SECONDS = 10
SUCCESS = "_SUCCESS"  # the file Spark writes in a finished output folder
# Predicting costs a thousand times what reading does: every core gets several partitions, however
# few the input's splits (a few large files) or Spark's data-size-based coalescing would make them.
PARTITIONS_PER_CORE = 4


def is_uri(given: str) -> bool:
    """Whether `given` names a location by URI (`s3a://`, `hdfs://`, `file://`) rather than a local path."""
    return "://" in given


def input_format(given: str, chosen: str | None) -> str:
    """The format of the input: `chosen`, else its extension's, else that of the files of a local
    folder (as a Spark output folder holds: part files of one format)."""
    if chosen:
        if chosen not in FORMATS.values():
            raise InputError(f"--format {chosen}: expected one of {', '.join(FORMATS.values())}")
        return chosen
    path = Path(urlsplit(given).path if is_uri(given) else given)
    if path.suffix.lower() in DOCUMENT_SUFFIXES:
        raise InputError(f"{given}: a document; split documents into a sentence table first with `stance segment`")
    if path.suffix.lower() in FORMATS:
        return FORMATS[path.suffix.lower()]
    if not is_uri(given) and path.is_dir():
        found = {FORMATS.get(file.suffix.lower()) for file in path.rglob("*")
                 if file.is_file() and not file.name.startswith((".", "_"))} - {None}
        if len(found) == 1:
            return found.pop()
    raise InputError(f"{given}: cannot tell the input format; name it with --format ({', '.join(FORMATS.values())})")


def check_run(given: str, output: Path, chosen: str | None) -> str:
    """The input format, once the paths are checked: a local input must exist, the output's parent
    too; the output must not be the input or lie inside it, nor be an existing folder other than
    an earlier Spark output (which the run replaces)."""
    if not is_uri(given) and not Path(given).exists():
        raise InputError(f"{given}: no such file or directory")
    kind = input_format(given, chosen)
    if not output.parent.is_dir():
        raise InputError(f"{output}: output directory {output.parent} does not exist")
    if not is_uri(given):
        refuse_overwrite(output, [given])
    if output.exists() and not (output / SUCCESS).is_file():
        raise InputError(f"{output}: exists and is not a Spark output folder; remove it or name another output")
    return kind


def check_master(master: str) -> None:
    """Fail in one line when a standalone master (`spark://host:port`, or several for high
    availability) accepts no connection: Spark itself would retry for minutes."""
    if not master.startswith("spark://"):
        return
    reasons = []
    for host_port in master.removeprefix("spark://").split(","):
        host, _, port = host_port.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=CONNECT_SECONDS):
                return
        except (OSError, ValueError) as error:
            reasons.append(f"{host_port}: {getattr(error, 'strerror', None) or error}")
    raise InputError(f"{master}: cannot reach the Spark master ({'; '.join(reasons)})")


def first_line(error: BaseException) -> str:
    """The line of a Spark (or Java) error message that says what went wrong: the first, or the
    exception line of a Python worker's traceback."""
    lines = [line.rstrip() for line in str(error).splitlines() if line.strip()]
    traceback = next((i for i, line in enumerate(lines) if line.startswith("Traceback")), None)
    if traceback is not None:
        lines = [line for line in lines[traceback + 1:] if not line.startswith((" ", "\t", "SQLSTATE"))] or lines
    return lines[0].strip() if lines else type(error).__name__


@contextmanager
def spark_session(master: str | None, batch_size: int):
    """A SparkSession on `master` (default: spark-submit's, else `local[*]`), logging errors only;
    Arrow batches of `batch_size` rows. Stopped at the end, unless it was running before (a
    notebook's, or a test's: then `master` is the running one's)."""
    from pyspark.sql import SparkSession

    submitted = "PYSPARK_GATEWAY_PORT" in os.environ  # launched by spark-submit, which set the master
    master = master or (None if submitted else LOCAL)
    if master:
        check_master(master)
    if master and master.startswith("local"):  # workers run this interpreter, not the first python3 on PATH
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # The pandas the project runs is newer than PySpark knows; the Arrow path here does not use PySpark's pandas code.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    builder = SparkSession.builder.appName("stance spark-predict").config(map={
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}",
        "spark.ui.showConsoleProgress": "false",
    })
    running = SparkSession.getActiveSession()
    try:
        session = running or (builder.master(master) if master else builder).getOrCreate()
    except Exception as error:  # no Java, a master URL Spark cannot parse, ...
        raise InputError(f"{master or 'spark-submit'}: cannot start Spark ({first_line(error)}; Spark 4 needs Java 17)") from None
    session.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch_size))
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        if running is None:
            session.stop()


@contextmanager
def spark_errors(given: str):
    """Spark's errors about the input (a missing path, a malformed file) as one-line `InputError`s."""
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    try:
        yield
    except PySparkException as error:
        if error.getCondition() == "PATH_NOT_FOUND":
            raise InputError(f"{given}: no such file or directory") from None
        raise InputError(f"{given}: {first_line(error)}") from None
    except Py4JError as error:
        raise InputError(f"{given}: {first_line(error)}") from None


def read_input(session, given: str, kind: str):
    """The input as a Spark DataFrame: every column of a table kept, CSV values as text (as
    `stance predict` reads them)."""
    reader = session.read
    if kind in ("csv", "tsv"):  # RFC 4180 quoting, as pandas and spreadsheets write it
        reader = reader.options(header=True, sep="\t" if kind == "tsv" else ",", escape='"')
    return reader.format({"tsv": "csv", "jsonl": "json"}.get(kind, kind)).options(mode="FAILFAST").load(given)


def whole_documents(batches: Iterator, group: str) -> Iterator:
    """The Arrow batches of a partition sorted by `group`, cut again so that no document is split:
    the rows of a batch's last document wait for the next batch."""
    import numpy as np
    import pyarrow as pa

    pending = None
    for batch in batches:
        if pending is not None:
            batch = pa.Table.from_batches([pending, batch]).combine_chunks().to_batches()[0]
        if batch.num_rows == 0:
            continue
        documents = batch.column(group).to_pandas()
        last = documents.isna() if pd.isna(documents.iat[-1]) else documents.eq(documents.iat[-1])
        cut = int(np.argmax(last.to_numpy()))  # the first row of the last document
        if cut:
            yield batch.slice(0, cut)
        pending = batch.slice(cut)
    if pending is not None:
        yield pending


def label_partition(shipped, group: str | None, batches: Iterator) -> Iterator:
    """Each Arrow batch of a partition with the added columns of the broadcast predictor (on an
    executor); the input columns pass through untouched."""
    import pyarrow as pa

    from pipeline import encoder

    predictor, encoders = shipped.value
    for loaded in encoders:
        encoder.install(loaded)
    read = [name for name in (predictor.text_column, predictor.group, predictor.order, predictor.target) if name]
    for batch in whole_documents(batches, group) if group else batches:
        added = predictor.labels(batch.select([name for name in read if name in batch.schema.names]).to_pandas())
        arrays = [pa.array(added[name].to_numpy(), pa.string() if name in predictor.models else pa.float64(),
                           from_pandas=True) for name in predictor.columns]
        yield pa.RecordBatch.from_arrays([*batch.columns, *arrays], names=[*batch.schema.names, *predictor.columns])


def encoders_of(predictor: Predictor) -> list:
    """The sentence encoders the predictor's models run, to ship with them."""
    from pipeline.encoder import encoder
    from pipeline.features import SentenceEmbeddings
    from pipeline.models import parts

    return [encoder(sha256) for sha256 in sorted({embeddings.encoder for model in predictor.models.values()
                                                  for embeddings in parts(model.estimator, SentenceEmbeddings)})]


def labeled(frame, predictor: Predictor, shipped, given: str):
    """The DataFrame with the added columns of `stance predict`, after every input column, by the
    predictor `shipped` (a broadcast of it and its encoders)."""
    from pyspark.sql.types import DoubleType, NullType, StringType, StructField, StructType

    for column, hint in ((predictor.text_column, TEXT_HINT), (predictor.target, TARGET_HINT)):
        if column:
            require_column(given, frame.columns, column, hint)
    Inputs({}, {given: frame.columns}).refuse_columns(predictor.columns)
    kind = frame.schema[predictor.text_column].dataType
    if not isinstance(kind, (StringType, NullType)):
        raise InputError(f"{given}: column '{predictor.text_column}' holds {kind.simpleString()} values, not text")
    documents = {predictor.group, predictor.order} <= set(frame.columns)
    partitions = max(frame.rdd.getNumPartitions(), PARTITIONS_PER_CORE * frame.sparkSession.sparkContext.defaultParallelism)
    if documents:  # each document in one partition, its rows together
        frame = frame.repartition(partitions, predictor.group).sortWithinPartitions(predictor.group)
    elif frame.rdd.getNumPartitions() < partitions:
        frame = frame.repartition(partitions)
    added = [StructField(name, StringType() if name in predictor.models else DoubleType()) for name in predictor.columns]
    return frame.mapInArrow(functools.partial(label_partition, shipped, predictor.group if documents else None),
                            StructType(frame.schema.fields + added))


def spark_predict(given: str, output: Path, predictor: Predictor, master: str | None, kind: str,
                  batch_size: int) -> None:
    """Predict every row of the input `given` (of format `kind`, paths checked by `check_run`) into
    the Parquet folder `output`, which appears only when the run succeeds."""
    with spark_session(master, batch_size) as session, atomic_folder(output) as staging:
        with spark_errors(given):
            frame = read_input(session, given, kind)
        shipped = session.sparkContext.broadcast((predictor, encoders_of(predictor)))
        try:
            result = labeled(frame, predictor, shipped, given)
            with spark_errors(given):
                result.write.mode("overwrite").parquet(str(staging))
        finally:
            shipped.destroy()
