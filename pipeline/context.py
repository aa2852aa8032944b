"""Document context: whose voice a sentence carries, read from the sentences around it.

News articles attribute a quotation once ("..., the minister said") and let it run over
several sentences, and sections open with a heading that names the party they present
("Moscow's view: ..."). `DocumentContext` follows a document in order and gives each sentence
a voice: its own attributed speaker; failing that, the voice of the sentence before when it
starts inside an open quotation, opens a new one, or attributes to someone it does not name
("he said": the voice of the sentence before, else the first actor it names); failing that, the
party named in its section heading.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from pipeline.features import HEADING_PREFIX, SENTENCE_END, LexiconFeatures, column_values
from pipeline.speakers import PRONOUN, parse_speakers

OPENING_QUOTES = "“«„"
CLOSING_QUOTES = "”»"
STRAIGHT_QUOTE = '"'
SOURCES = ("speaker", "carried", "section", "none")
HEADING_WORDS = 12


def heading_of(text: str) -> str | None:
    """The heading a unit sets for the sentences after it: a `Heading: ...` prefix or a short
    line without final punctuation."""
    prefix = HEADING_PREFIX.match(text)
    if prefix:
        return prefix.group(1)
    body = text.strip().rstrip(OPENING_QUOTES + STRAIGHT_QUOTE).strip()  # a quotation reopened after the full stop
    if not SENTENCE_END.search(body) and 0 < len(text.split()) <= HEADING_WORDS:
        return text
    return None


def opens_quotation(text: str) -> bool:
    """Whether a sentence starts with a quotation (a quoted speaker often goes on in a new one)."""
    return text.lstrip()[:1] in (*OPENING_QUOTES, STRAIGHT_QUOTE)


def inside_quote_after(text: str, inside: bool) -> bool:
    """Whether a quotation is open after `text`, given whether one was open before it."""
    for char in text:
        if char in OPENING_QUOTES:
            inside = True
        elif char in CLOSING_QUOTES:
            inside = False
        elif char == STRAIGHT_QUOTE:
            inside = not inside
    return inside


class DocumentContext(TransformerMixin, BaseEstimator):
    """Voice features of each sentence from its document context.

    A sentence's own speaker is the actor next to an attribution cue (the lexicon rule), or, with
    `parser` (`pipeline.speakers`: package and pinned digests), the speaker its dependency parse
    names when it names an actor. Features: the voice's bloc (one-hot over the lexicon's actor
    categories), where the voice came from (`SOURCES`), the bloc named by the section heading, and the voice crossed with the
    sentence's cue counts for every (actor, cue) pair in `interactions`. Rows are placed in
    their documents by `group_column` and `order_column`; a table without them (independent
    sentences) gets each sentence's own speaker only.
    """

    def __init__(
        self,
        lexicons: dict | None = None,
        interactions: list | None = None,
        text_column: str = "text",
        group_column: str = "doc",
        order_column: str = "index",
        parser: dict | None = None,
    ):
        self.lexicons = lexicons
        self.interactions = interactions
        self.text_column = text_column
        self.group_column = group_column
        self.order_column = order_column
        self.parser = parser

    def fit(self, X, y=None):
        self.lexicon_ = LexiconFeatures(self.lexicons, self.interactions, self.text_column).fit(X)
        if self.parser:
            parse_speakers([], self.parser, self.lexicon_)  # a missing or changed parser fails the fit, not a later transform
        self.blocs_ = list(self.lexicon_.actors_)
        self.crossed_ = [(a, c) for a, c in self.interactions or [] if a in self.blocs_ and c not in self.blocs_]
        return self

    def get_feature_names_out(self, input_features=None):
        return np.array(
            [*(f"voice:{b}" for b in self.blocs_), *(f"source:{s}" for s in SOURCES),
             *(f"section:{b}" for b in self.blocs_), *(f"voice:{a}&{c}" for a, c in self.crossed_)],
            dtype=object,
        )

    def transform(self, X):
        texts = column_values(X, self.text_column)
        lexical = self._lexical(texts)
        voices = self.voices(X, texts, lexical)
        counts = lexical[[c for _, c in self.crossed_]].to_numpy()
        one_hot = lambda column, values: (voices[column].to_numpy()[:, None] == np.asarray(values)[None, :]).astype(float)
        voice = one_hot("voice", self.blocs_)
        crossed = np.column_stack(
            [voice[:, self.blocs_.index(a)] * counts[:, i] for i, (a, _) in enumerate(self.crossed_)]
        ) if self.crossed_ else np.zeros((len(texts), 0))
        return np.hstack([voice, one_hot("source", SOURCES), one_hot("section", self.blocs_), crossed])

    def voices(self, X, texts: list[str], lexical: pd.DataFrame | None = None) -> pd.DataFrame:
        """Per row (input order): `voice` and `section` blocs (or None) and the voice's `source`.

        `lexical` is the lexicon feature table of `texts`, when the caller has it already.
        """
        lexical = self._lexical(texts) if lexical is None else lexical
        own = self._speakers(lexical)
        carries = lexical[self.lexicon_.attribution].to_numpy() > 0
        if self.parser:
            attributed = np.flatnonzero(carries)
            parsed = parse_speakers([texts[row] for row in attributed], self.parser, self.lexicon_)
            for row, speaker in zip(attributed, parsed):
                if speaker == PRONOUN:  # "he said": the voice of the sentence before
                    own[row] = None
                elif speaker in self.blocs_:
                    own[row] = speaker
        headings = [heading_of(text) for text in texts]
        heading_blocs = self._first_actors(self._lexical([heading or "" for heading in headings]))
        voices, sources, sections = [None] * len(texts), ["none"] * len(texts), [None] * len(texts)
        named = self._first_actors(lexical)
        for rows in self._documents(X):
            section, previous, referent, inside = None, None, None, False
            for row in rows:
                if headings[row] is not None:
                    section = heading_blocs[row]
                carried = previous if inside or carries[row] or opens_quotation(texts[row]) else None
                if own[row]:
                    voice, source = own[row], "speaker"
                elif carried or (carries[row] and referent):  # "he said" after a sentence naming him
                    voice, source = carried or referent, "carried"
                elif section:
                    voice, source = section, "section"
                else:
                    voice, source = None, "none"
                voices[row], sources[row], sections[row] = voice, source, section
                inside, previous, referent = inside_quote_after(texts[row], inside), voice, voice or named[row]
        return pd.DataFrame({"voice": voices, "source": sources, "section": sections}, dtype=object)

    def _documents(self, X) -> list[list[int]]:
        """Row positions of each document in reading order; one document per row without them."""
        columns = {self.group_column, self.order_column}
        if not isinstance(X, pd.DataFrame) or not columns <= set(X.columns) or X[self.group_column].isna().all():
            return [[row] for row in range(len(X))]
        frame = pd.DataFrame({"group": X[self.group_column].to_numpy(), "order": X[self.order_column].to_numpy()})
        frame = frame.sort_values(["group", "order"], kind="stable")
        return [part.index.tolist() for _, part in frame.groupby("group", sort=False)]

    def _lexical(self, texts: list[str]) -> pd.DataFrame:
        """The lexicon features of `texts`, one named column per feature."""
        return pd.DataFrame(self.lexicon_.vectors(texts), columns=self.lexicon_.get_feature_names_out())

    def _speakers(self, lexical: pd.DataFrame) -> list[str | None]:
        """The bloc of each sentence's attributed speaker: the first-named actor when it is one."""
        speaking = lexical[[f"speaker:{b}" for b in self.blocs_]].to_numpy() > 0
        first = self._first_actors(lexical)
        return [
            first[i] if first[i] and speaking[i, self.blocs_.index(first[i])]
            else next((b for b, s in zip(self.blocs_, speaking[i]) if s), None)
            for i in range(len(lexical))
        ]

    def _first_actors(self, lexical: pd.DataFrame) -> list[str | None]:
        first = lexical[[f"first:{b}" for b in self.blocs_]].to_numpy() > 0
        return [next((b for b, f in zip(self.blocs_, row) if f), None) for row in first]
