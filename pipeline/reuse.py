"""Reuse of identical TF-IDF fits and transforms.

Model selection fits the same vectorizer on the same training texts many times: once per task,
per candidate that shares the text blocks and per grid point; at prediction, the task models
hold equal vectorizers (fitted on the same texts) and transform the same batch. Inside
`reused_fits()` a `ReusableTfidfVectorizer` fits once per distinct (parameters, texts) and
transforms once per distinct (fitted state, texts); outside it, it is a plain `TfidfVectorizer`.
The results are the same either way, only quicker.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from typing import Iterator

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

BUDGET_BYTES = 1 << 30  # memory for kept matrices; the least recently used go first

_store: OrderedDict | None = None
_fit_keys: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@contextmanager
def reused_fits() -> Iterator[None]:
    """Share vectorizer fits and transforms within the block (one process, in memory)."""
    global _store
    previous, _store = _store, OrderedDict()
    try:
        yield
    finally:
        _store = previous


def texts_digest(raw_documents) -> str:
    """A fingerprint of a sequence of texts, in order."""
    digest = hashlib.sha1()
    for text in raw_documents:
        digest.update(str(text).encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


def _matrix_bytes(value) -> int:
    matrix = value[1] if isinstance(value, tuple) else value
    return matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes


def _remembered(key: tuple, compute):
    if key in _store:
        _store.move_to_end(key)
        return _store[key]
    value = _store[key] = compute()
    while len(_store) > 1 and sum(map(_matrix_bytes, _store.values())) > BUDGET_BYTES:
        _store.popitem(last=False)
    return value


class ReusableTfidfVectorizer(TfidfVectorizer):
    """A `TfidfVectorizer` whose fits and transforms are shared inside `reused_fits()`.

    It saves its vocabulary as one array of terms in index order: skops writes a dict as one
    JSON node per entry, which made each model 8 MB and seconds to save and to load. It leaves
    out sklearn's `_stop_words_id` (the address of an object), so equal fits save equal bytes.
    """

    def fit(self, raw_documents, y=None):
        self.fit_transform(raw_documents)
        return self

    def fit_transform(self, raw_documents, y=None):
        if _store is None:
            _fit_keys.pop(self, None)  # a new state: an earlier fit's key no longer names it
            return super().fit_transform(raw_documents, y)
        documents = list(raw_documents)
        key = ("fit", json.dumps(self.get_params(), sort_keys=True, default=str), texts_digest(documents))

        def fit():
            matrix = super(ReusableTfidfVectorizer, self).fit_transform(documents)
            return {name: value for name, value in vars(self).items() if name not in self.get_params()}, matrix

        state, matrix = _remembered(key, fit)
        vars(self).update(state)
        _fit_keys[self] = key
        return matrix.copy()

    def transform(self, raw_documents):
        if _store is None:
            return super().transform(raw_documents)
        if self not in _fit_keys:  # fitted elsewhere (a loaded model): known by its state
            _fit_keys[self] = self._state_key()
        documents = list(raw_documents)
        key = ("transform", _fit_keys[self], texts_digest(documents))
        return _remembered(key, lambda: super(ReusableTfidfVectorizer, self).transform(documents)).copy()

    def _state_key(self) -> tuple:
        """A fingerprint of the fitted state: parameters, vocabulary in index order, idf weights."""
        check_is_fitted(self, "vocabulary_")
        digest = hashlib.sha1(json.dumps(self.get_params(), sort_keys=True, default=str).encode())
        digest.update(texts_digest(sorted(self.vocabulary_, key=self.vocabulary_.__getitem__)).encode())
        if self.use_idf:
            digest.update(np.ascontiguousarray(self.idf_).tobytes())
        return ("fitted", digest.hexdigest())

    def __getstate__(self):
        state = dict(super().__getstate__())  # for a class outside sklearn it is the live __dict__
        state.pop("_stop_words_id", None)  # an address in memory (sklearn's cache of a check it redoes)
        vocabulary = state.get("vocabulary_")
        if isinstance(vocabulary, dict) and sorted(vocabulary.values()) == list(range(len(vocabulary))):
            del state["vocabulary_"]
            state["vocabulary_terms_"] = np.array(sorted(vocabulary, key=vocabulary.__getitem__), dtype=str)
        return state

    def __setstate__(self, state):
        state = dict(state)
        terms = state.pop("vocabulary_terms_", None)
        if terms is not None:
            state["vocabulary_"] = {term: index for index, term in enumerate(terms.tolist())}
        super().__setstate__(state)
