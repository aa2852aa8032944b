"""Writing files so that a failure never leaves a partial output behind."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.errors import InputError


def shared(path: Path, mode: int) -> Path:
    """`path` with `mode` less the umask: mkstemp's 0600 and mkdtemp's 0700 would make an output private."""
    umask = os.umask(0)
    os.umask(umask)
    path.chmod(mode & ~umask)
    return path


@contextmanager
def named_after(target: Path) -> Iterator[None]:
    """An `OSError` of writing `target` (through its hidden temporary file, or naming no file, as a
    full disk does) names `target`, so that the message says which output failed."""
    try:
        yield
    except OSError as error:
        if error.filename is not None and not Path(error.filename).name.startswith(f".{target.name}."):
            raise
        raise OSError(error.errno, error.strerror or str(error), str(target)) from None


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` only on success."""
    target = Path(target)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"{target}: output directory {target.parent} does not exist")
    with named_after(target):
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(handle)
        temporary = shared(Path(temporary), 0o666)
        try:
            yield temporary
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)


@contextmanager
def atomic_folder(target: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside `target` (created with its parents); it replaces the folder
    `target` only on success, so a failure leaves the previous folder as it was."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = shared(Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)), 0o777)
    previous = staging.with_suffix(".old")
    try:
        yield staging
        if target.exists():
            target.rename(previous)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(previous, ignore_errors=True)


def write_jsonl(records: Iterable[dict[str, Any]], target: str | Path) -> None:
    """Write one JSON object per line, atomically."""
    with atomic_path(target) as temporary, temporary.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def write_json(content: Any, target: str | Path) -> None:
    """Write pretty JSON, atomically."""
    with atomic_path(target) as temporary:
        temporary.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def json_object(line: str) -> dict[str, Any]:
    """One JSONL line as an object; `ValueError` saying what is wrong with it otherwise."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"malformed JSON ({error.msg} at column {error.colno})") from None
    if not isinstance(record, dict):
        raise ValueError(f"expected a JSON object, got {type(record).__name__}")
    return record


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSONL file of objects; bad input raises `InputError` naming the file and line."""
    records = []
    try:
        with Path(path).open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if line.strip():
                    try:
                        records.append(json_object(line))
                    except ValueError as error:
                        raise InputError(f"{path}: line {number}: {error}") from None
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: line {len(records) + 1}: bytes that are not UTF-8 ({error.reason})") from None
    return records
