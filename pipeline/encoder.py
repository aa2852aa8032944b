"""The sentence encoder at prediction time: all-MiniLM-L6-v2 as an int8 ONNX graph, run by ONNX
Runtime with the `tokenizers` library, no PyTorch, one sentence per run (a text's vector never
depends on the others of its batch), on as many threads as there are cores.

The `encoder` stage (`pipeline.stages.encoder`) writes an encoder folder: `model.onnx`,
`tokenizer.json` and `encoder.json` (the sha256 of both files and the tokenizer's settings).
An encoder is named by the sha256 of its `model.onnx`: a model that uses one holds that digest,
and finds the encoder in a folder registered with `register` (by `pipeline.models` when it
loads a model folder with its encoder beside or inside it, by the candidate settings in training). A folder is read once and checked
against its digests before ONNX Runtime sees it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import InputError

MANIFEST = "encoder.json"
GRAPH = "model.onnx"
TOKENIZER = "tokenizer.json"


class MissingExtra(RuntimeError):
    """An optional dependency of a candidate is not installed, or the encoder was not built."""


def require_runtime() -> None:
    """Raise MissingExtra unless ONNX Runtime and tokenizers are installed (nothing imported)."""
    for module in ("onnxruntime", "tokenizers"):
        if importlib.util.find_spec(module) is None:
            raise MissingExtra(f"the embeddings extra is not installed (no {module}): pip install 'natostance[embeddings]'")


def read_manifest(folder: Path) -> dict:
    """An encoder folder's `encoder.json`; MissingExtra when the folder holds no encoder."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise MissingExtra(f"{folder}: no sentence encoder (run `dvc repro encoder`)")
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if "missing" in manifest:
        raise MissingExtra(f"{folder}: no sentence encoder: {manifest['missing']}")
    return manifest


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class OnnxEncoder:
    """Mean-pooled, L2-normalised sentence vectors from a transformer graph. It pickles as the files
    it was built from, and is rebuilt (and checked again) where it is unpickled: a Spark executor."""

    session: Any
    tokenizer: Any
    sha256: str
    files: dict[str, bytes]

    @classmethod
    def load(cls, folder: Path) -> "OnnxEncoder":
        """The encoder of `folder`, its files checked against the digests of its manifest."""
        require_runtime()
        read_manifest(folder)
        return cls.build({name: (Path(folder) / name).read_bytes() for name in (MANIFEST, GRAPH, TOKENIZER)}, folder)

    @classmethod
    def build(cls, files: dict[str, bytes], folder: Path = Path(".")) -> "OnnxEncoder":
        """The encoder of an encoder folder's files (`folder` names them in messages)."""
        import onnxruntime
        from tokenizers import Tokenizer

        manifest = json.loads(files[MANIFEST])
        for name in (GRAPH, TOKENIZER):
            if digest(files[name]) != manifest["sha256"][name]:
                raise InputError(f"{Path(folder) / name}: sha256 {digest(files[name])} is not the one its {MANIFEST} names")
        text_tokenizer = Tokenizer.from_str(files[TOKENIZER].decode("utf-8"))
        text_tokenizer.no_padding()
        text_tokenizer.enable_truncation(max_length=int(manifest["max_tokens"]))
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = 1  # one short sentence per run: a second thread inside it only waits (measured)
        session = onnxruntime.InferenceSession(files[GRAPH], options, providers=["CPUExecutionProvider"])
        return cls(session, text_tokenizer, manifest["sha256"][GRAPH], files)

    def __reduce__(self):
        return OnnxEncoder.build, (self.files,)

    def encode(self, texts: list[str]) -> np.ndarray:
        """(texts, dimensions) float32 vectors. Each text runs alone (int8 dynamic quantization
        scales activations by the range of the whole input, so in a padded batch a text's vector
        would depend on the texts beside it), on one thread per core, or `OMP_NUM_THREADS` threads
        where it is set (Spark sets it to the cores of a task: a node's tasks would share its cores
        with a thread per core each)."""
        vectors = np.empty((len(texts), self.session.get_outputs()[0].shape[-1]), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(texts)
        cores = os.environ.get("OMP_NUM_THREADS", "")
        threads = max(1, min(int(cores) if cores.isdigit() else os.cpu_count() or 1, len(texts)))

        def run(rows: range) -> None:
            for row in rows:
                ids = np.array([encodings[row].ids], dtype=np.int64)
                (hidden,) = self.session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                                    "token_type_ids": np.zeros_like(ids)})
                pooled = hidden[0].mean(axis=0)
                vectors[row] = pooled / np.linalg.norm(pooled)

        with ThreadPoolExecutor(threads) as pool:  # ONNX Runtime runs a session from several threads at once
            list(pool.map(run, [range(start, len(texts), threads) for start in range(threads)]))
        return vectors


_REGISTERED: dict[str, OnnxEncoder] = {}


def register(folder: Path) -> str:
    """Load the encoder of `folder` for this process; its sha256."""
    sha256 = read_manifest(folder)["sha256"][GRAPH]
    if sha256 not in _REGISTERED:
        _REGISTERED[sha256] = OnnxEncoder.load(folder)
    return sha256


def install(loaded: OnnxEncoder) -> None:
    """Make `loaded` (an encoder unpickled on a Spark executor) the encoder of its digest in this process."""
    _REGISTERED.setdefault(loaded.sha256, loaded)


def encoder(sha256: str) -> OnnxEncoder:
    """The encoder with this digest, registered in this process by `register`."""
    if sha256 not in _REGISTERED:
        raise MissingExtra(f"no sentence encoder with sha256 {sha256[:12]}… is loaded (run `dvc repro`)")
    return _REGISTERED[sha256]
