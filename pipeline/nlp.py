"""spaCy pipelines that stay small in long runs.

spaCy keeps every string it has seen in a pipeline's vocabulary, so a process that reads
millions of new sentences (names, numbers) grows without bound (explosion/spaCy#10015).
`RenewablePipeline` rebuilds its pipeline once the vocabulary holds more than `limit` strings;
building a blank pipeline takes a fraction of a second. spaCy's own `Language.memory_zone`
frees the strings too, but turns off the tokenizer cache, which made the lexicon features 40%
slower here.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

VOCABULARY_LIMIT = 50_000  # about 25 MB of strings, lexemes and tokenizer cache; a rebuild takes ~0.2 s


class RenewablePipeline:
    """The spaCy pipeline made by `build`, rebuilt by `renew_if_large` past `limit` strings."""

    def __init__(self, build: Callable[[], Any], limit: int = VOCABULARY_LIMIT):
        self.build, self.limit = build, limit
        self.nlp = build()

    def renew_if_large(self) -> None:
        """Start afresh when the vocabulary has grown past the limit (call it between batches)."""
        if len(self.nlp.vocab.strings) > self.limit:
            self.nlp = self.build()
            gc.collect()  # spaCy's objects refer to each other: only the collector frees the old ones
