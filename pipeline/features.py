"""Feature transformers for sentence tables (pandas DataFrames with a text column).

Each is a stateless scikit-learn transformer whose parameters are plain data (lexicons as
lists of terms), so fitted pipelines serialise with skops. Heavy resources (the spaCy ruler,
the embedding model) are built on first use and cached per process, as are per-text features.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from pipeline.imports import without_torch
from pipeline.nlp import RenewablePipeline

SENTENCE_END = re.compile(r"[.!?…]['\"’”)\]]*$")
HEADING_PREFIX = re.compile(r"^([^\s:][^:]{0,40}):\s")
CACHE_SIZE = 20_000


def lexicon_key(lexicons: dict[str, list[str]]) -> str:
    """A fingerprint of a lexicon, to share one ruler between equal transformers."""
    return hashlib.sha1(json.dumps(lexicons, sort_keys=True).encode()).hexdigest()


@lru_cache(maxsize=8)
def span_ruler(key: str, lexicons_json: str) -> RenewablePipeline:
    """A blank English spaCy pipeline with a span_ruler that labels every lexicon term.

    A term in lower case matches in any case; a term written with capitals matches exactly as
    written, so that `US` (the country) is not `us` (the pronoun).
    """
    lexicons = json.loads(lexicons_json)

    def build():
        nlp = without_torch("spacy").blank("en")
        nlp.max_length = 10_000_000
        ruler = nlp.add_pipe("span_ruler", config={"phrase_matcher_attr": "LOWER", "spans_key": "lexicon"})
        exact = lambda term: [{"ORTH": token.text} for token in nlp.make_doc(term)]
        ruler.add_patterns(
            [{"label": category, "pattern": term if term == term.lower() else exact(term)}
             for category, terms in lexicons.items() for term in terms]
        )
        return nlp

    return RenewablePipeline(build)


def text_shape(doc) -> list[float]:
    """Surface features of a parsed sentence that separate claim types and headings."""
    text = doc.text
    return [
        np.log1p(len(doc)),
        float("?" in text),
        float(sum(text.count(q) for q in '“”"')),
        float(bool(SENTENCE_END.search(text.strip()))),
        float(bool(HEADING_PREFIX.match(text))),
        float(sum(token.like_num for token in doc)),
        float(sum(token.lower_ in ("we", "our", "us") and token.text != "US" for token in doc)),
    ]


SHAPE_NAMES = ["log_tokens", "question", "quote_marks", "sentence_end", "heading_prefix", "numbers", "first_person"]


class LexiconFeatures(TransformerMixin, BaseEstimator):
    """Counts of lexicon categories in each text (spaCy span_ruler), their interactions and shape.

    `lexicons` maps a category (e.g. `actor:russia`, `cue:against`) to its terms;
    `interactions` lists pairs of categories whose co-occurrence is a feature of its own.
    """

    def __init__(
        self,
        lexicons: dict | None = None,
        interactions: list | None = None,
        column: str = "text",
        actor_prefix: str = "actor:",
        attribution: str = "cue:attribution",
        window: int = 6,
    ):
        self.lexicons = lexicons
        self.interactions = interactions
        self.column = column
        self.actor_prefix = actor_prefix
        self.attribution = attribution
        self.window = window

    def fit(self, X, y=None):
        self.categories_ = sorted(self.lexicons or {})
        self.actors_ = [c for c in self.categories_ if c.startswith(self.actor_prefix)]
        return self

    def get_feature_names_out(self, input_features=None):
        pairs = [f"{a}&{b}" for a, b in self.interactions or []]
        first = [f"first:{actor}" for actor in self.actors_]
        speaker = [f"speaker:{actor}" for actor in self.actors_]
        return np.array([*self.categories_, *pairs, *first, *speaker, *SHAPE_NAMES], dtype=object)

    def transform(self, X):
        return self.vectors(column_values(X, self.column))

    def vectors(self, texts: list[str]) -> np.ndarray:
        """One feature row per text, computed once per distinct text and process."""
        lexicons = self.lexicons or {}

        def compute(missing: list[str]) -> list[np.ndarray]:
            ruler = span_ruler(lexicon_key(lexicons), json.dumps(lexicons, sort_keys=True))
            rows = [np.asarray(self._vector(doc), dtype=np.float32) for doc in ruler.nlp.pipe(missing, batch_size=256)]
            ruler.renew_if_large()
            return rows

        rows = cached_rows(row_cache(lexicon_key({"lexicons": lexicons, "params": self.get_params()})), texts, compute)
        return np.array(rows, dtype=float).reshape(len(texts), len(self.get_feature_names_out()))

    def actor_spans(self, texts: list[str]) -> list[list[tuple[str, int, int]]]:
        """Per text, its lexicon actors as (category, start character, end character), in order;
        of overlapping ones the longest ("Carnegie Moscow Center", not "Moscow")."""
        from spacy.util import filter_spans

        lexicons = self.lexicons or {}
        ruler = span_ruler(lexicon_key(lexicons), json.dumps(lexicons, sort_keys=True))
        longest = lambda doc: filter_spans([span for span in doc.spans["lexicon"] if span.label_ in self.actors_])
        spans = [[(span.label_, span.start_char, span.end_char) for span in longest(doc)]
                 for doc in ruler.nlp.pipe(texts, batch_size=256)]
        ruler.renew_if_large()
        return spans

    def _vector(self, doc) -> list[float]:
        spans = sorted(doc.spans["lexicon"], key=lambda span: span.start)
        counts = {category: 0.0 for category in self.categories_}
        for span in spans:
            counts[span.label_] += 1.0
        pairs = [min(counts[a], counts[b]) for a, b in self.interactions or []]
        actors = [span for span in spans if span.label_ in self.actors_]
        first = [float(bool(actors) and actors[0].label_ == actor) for actor in self.actors_]
        cues = [span for span in spans if span.label_ == self.attribution]
        speakers = {
            actor.label_
            for actor in actors
            for cue in cues
            if min(abs(actor.start - cue.end), abs(cue.start - actor.end)) <= self.window
        }
        speaker = [float(actor in speakers) for actor in self.actors_]
        return [*counts.values(), *pairs, *first, *speaker, *text_shape(doc)]


def cached_rows(cache: dict, texts: list[str], compute) -> list:
    """The feature row of each text: from `cache`, or computed by `compute(missing texts)` (an
    iterable of rows in their order) and then cached. The result never depends on the cache
    keeping what was put in it, so a cache that empties itself mid-batch is safe."""
    rows, missing = {}, []
    for text in dict.fromkeys(texts):
        if text in cache:
            rows[text] = cache[text]
        else:
            missing.append(text)
    if missing:
        for text, row in zip(missing, compute(missing), strict=True):
            rows[text] = cache[text] = row
    return [rows[text] for text in texts]


@lru_cache(maxsize=8)
def row_cache(key: str) -> dict:
    """Per-process cache of feature rows for one lexicon (bounded by clearing when full)."""
    return _BoundedDict(CACHE_SIZE)


class _BoundedDict(dict):
    """A dict that empties itself when it reaches its size limit, keeping memory flat."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit = limit

    def __setitem__(self, key, value):
        if len(self) >= self.limit:
            self.clear()
        super().__setitem__(key, value)


def column_values(X, column: str) -> list[str]:
    """The text column of a DataFrame (or a 1-D sequence of texts) as a list of strings."""
    values = X[column] if isinstance(X, pd.DataFrame) else pd.Series(np.asarray(X).ravel())
    return values.fillna("").astype(str).tolist()


class EnsureColumns(TransformerMixin, BaseEstimator):
    """Pass a table through with every expected column present (missing ones become null),
    so a model trained on documents also takes a table that has only a text column."""

    def __init__(self, columns: list | None = None):
        self.columns = columns

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame({self.columns[0]: column_values(X, self.columns[0])})
        missing = [column for column in self.columns or [] if column not in frame.columns]
        return frame.assign(**{column: None for column in missing}) if missing else frame


def preload_embeddings(path: Path | None) -> int:
    """Fill this process's cache with the vectors of a file of the `embed` stage (under the
    digest of the encoder that made them), so that no process encodes those texts again; the
    number of texts read."""
    if path is None or not Path(path).is_file():
        return 0
    with np.load(path, allow_pickle=False) as saved:
        sha256, texts, vectors = str(saved["sha256"]), saved["texts"].tolist(), saved["vectors"]
    cache = row_cache(f"embeddings:{sha256}")
    for text, vector in zip(texts[: cache.limit], vectors, strict=False):
        cache[text] = vector
    return len(texts)


class SentenceEmbeddings(TransformerMixin, BaseEstimator):
    """all-MiniLM-L6-v2 sentence embeddings (384 dimensions, L2-normalised) from the ONNX encoder
    whose graph has the sha256 `encoder` (`pipeline.encoder`)."""

    def __init__(self, encoder: str = "", column: str = "text"):
        self.encoder = encoder
        self.column = column

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        from pipeline.encoder import encoder

        texts = column_values(X, self.column)
        encode = lambda missing: encoder(self.encoder).encode(missing)
        rows = cached_rows(row_cache(f"embeddings:{self.encoder}"), texts, encode)
        return np.array(rows, dtype=np.float32).reshape(len(texts), -1)
