"""Imports of spaCy and skops without PyTorch.

thinc (under spaCy) and scikit-learn's array-API shims (which skops reaches) import PyTorch
whenever it is installed (explosion/thinc#894), and that costs seconds in every process,
though a blank spaCy pipeline and a skops model need none of it. PyTorch comes with the
encoder extra, and only the `encoder` stage imports it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
from types import ModuleType

HIDDEN = "torch"


class _HideTorch(importlib.abc.MetaPathFinder):
    """An import finder that answers "not installed" for PyTorch."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == HIDDEN or fullname.startswith(f"{HIDDEN}."):
            raise ModuleNotFoundError(f"No module named '{fullname}' (not needed here)", name=fullname)
        return None


def without_torch(module: str) -> ModuleType:
    """`import module`, with PyTorch hidden from it unless PyTorch is loaded already."""
    if module in sys.modules or HIDDEN in sys.modules:
        return importlib.import_module(module)
    finder = _HideTorch()
    sys.meta_path.insert(0, finder)
    try:
        return importlib.import_module(module)
    finally:
        sys.meta_path.remove(finder)
