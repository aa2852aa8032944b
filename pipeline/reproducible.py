"""Byte-reproducible model folders: the same data and parameters give the same files.

skops names each array file and memo entry of a model after the object's address in memory
(`id()`), and its zip entries carry the time of writing; MLflow's `MLmodel` carries a random
`model_uuid` and the time of saving. `reproducible_folder` rewrites those: ids numbered in the
order the schema lists them, zip entries sorted and dated 1980-01-01, the uuid derived from the
model file's content and the creation time left out (MLflow reads a missing one as "now").
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import yaml

SCHEMA = "schema.json"
NUMBERED_FILE = re.compile(r"^(\d+)(\.\w+)$")
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def renumbered(schema: Any, numbers: dict[int, int]) -> Any:
    """The schema with every `__id__` (and the array files named after one) renumbered 1, 2, ...
    in order of first appearance; `numbers` collects the mapping."""
    if isinstance(schema, list):
        return [renumbered(item, numbers) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {}
    for key, value in schema.items():
        if key == "__id__" and isinstance(value, int):
            value = numbers.setdefault(value, len(numbers) + 1)
        elif key == "file" and isinstance(value, str) and NUMBERED_FILE.match(value):
            old, suffix = NUMBERED_FILE.match(value).groups()
            value = f"{numbers.setdefault(int(old), len(numbers) + 1)}{suffix}"
        result[key] = renumbered(value, numbers)
    return result


def reproducible_skops(path: Path) -> None:
    """Rewrite a skops file so that equal models give equal bytes (it loads as before)."""
    with zipfile.ZipFile(path) as archive:
        compression = {info.filename: info.compress_type for info in archive.infolist()}
        entries = {name: archive.read(name) for name in archive.namelist()}
    numbers: dict[int, int] = {}
    schema = renumbered(json.loads(entries.pop(SCHEMA)), numbers)
    files = {SCHEMA: (json.dumps(schema, indent=2).encode(), compression[SCHEMA])}
    for name, data in entries.items():
        match = NUMBERED_FILE.match(name)
        new = f"{numbers[int(match.group(1))]}{match.group(2)}" if match and int(match.group(1)) in numbers else name
        files[new] = (data, compression[name])
    with zipfile.ZipFile(path, "w") as archive:
        for name in sorted(files):
            data, method = files[name]
            archive.writestr(zipfile.ZipInfo(name, date_time=ZIP_EPOCH), data, compress_type=method)


def reproducible_folder(folder: Path, model_file: Path) -> None:
    """Make an MLflow model folder's skops file and `MLmodel` reproducible."""
    reproducible_skops(model_file)
    mlmodel = folder / "MLmodel"
    meta = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
    meta.pop("utc_time_created", None)
    meta["model_uuid"] = hashlib.sha256(model_file.read_bytes()).hexdigest()[:32]
    mlmodel.write_text(yaml.safe_dump(meta, sort_keys=True), encoding="utf-8")
