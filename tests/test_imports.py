"""spaCy and skops load without importing PyTorch, which stays importable for the embeddings."""

import importlib.util
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed")


def run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()


def test_spacy_and_skops_load_without_torch():
    code = (
        "import sys; from pipeline.imports import without_torch; "
        "spacy = without_torch('spacy'); without_torch('skops.io'); "
        "nlp = spacy.blank('en'); nlp.add_pipe('sentencizer'); "
        "print(len(list(nlp('One sentence here. Another one there.').sents)), 'torch' in sys.modules)"
    )
    assert run(code) == "2 False"


def test_torch_is_importable_afterwards_and_then_not_hidden():
    code = (
        "import sys; from pipeline.imports import without_torch; without_torch('spacy'); "
        "import torch; without_torch('skops.io'); "
        "print(torch.tensor([1, 2]).sum().item(), any(type(f).__name__ == '_HideTorch' for f in sys.meta_path))"
    )
    assert run(code) == "3 False"
