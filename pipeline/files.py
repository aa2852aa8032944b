"""Writing files so that a failure never leaves a partial output behind."""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
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


def temporary_prefix(target: Path) -> str:
    """How the names of `target`'s temporary files begin: hidden, with the host and the process that
    write them, so that a killed run's can be told from a running one's."""
    return f".{target.name}.{socket.gethostname()}.{os.getpid()}."


def running(pid: int) -> bool:
    """Whether a process of this id runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    return True


def sweep_leftovers(target: Path) -> None:
    """Remove the temporary files and folders of `target` that runs on this host left when they
    were killed (SIGKILL, a power cut: no chance to clean up)."""
    start = f".{target.name}.{socket.gethostname()}."
    for leftover in target.parent.glob(f"{glob.escape(start)}*.tmp"):
        pid = leftover.name[len(start):].split(".", 1)[0]
        if not pid.isdigit() or running(int(pid)):
            continue
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; rename it onto `target` only on success."""
    target = Path(target)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"{target}: output directory {target.parent} does not exist")
    with named_after(target):
        sweep_leftovers(target)
        handle, temporary = tempfile.mkstemp(prefix=temporary_prefix(target), suffix=".tmp", dir=target.parent)
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
    sweep_leftovers(target)
    staging = shared(Path(tempfile.mkdtemp(prefix=temporary_prefix(target), suffix=".tmp", dir=target.parent)), 0o777)
    previous = staging.with_suffix(".old")
    try:
        yield staging
        if target.exists():
            target.rename(previous)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(previous, ignore_errors=True)


def overwrites(target: Path, source: Path) -> bool:
    """Whether writing `target` would replace the file `source` or write inside the folder `source`
    (paths resolved, so that another spelling or a symbolic or hard link counts)."""
    resolved, origin = target.resolve(), source.resolve()
    if source.is_dir():
        return origin in resolved.parents
    return resolved == origin or (target.exists() and source.exists() and target.samefile(source))


def refuse_overwrite(target: Path, inputs: Iterable[str | Path]) -> None:
    """Fail when writing `target` would replace one of `inputs` or write inside an input folder."""
    for given in inputs:
        if overwrites(target, Path(given)):
            where = "lies inside the input folder" if Path(given).is_dir() else "is the input"
            raise InputError(f"{target}: {where} {given}; write the output elsewhere")


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
