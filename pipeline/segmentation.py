"""Split documents into sentence records with spaCy's rule-based sentencizer.

A document is read as UTF-8 and never normalised, so that `text[start:end]` of the decoded file
is the sentence. An optional first token `date YYYY-MM-DD` is the document's date, not text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import InputError
from pipeline.imports import without_torch
from pipeline.nlp import RenewablePipeline

DATE_HEADER = re.compile(r"\A[\s\ufeff]*date[ \t]+(\S+)[ \t]*")


class DocumentError(InputError):
    """A document cannot be read or segmented; the message names the file."""


@dataclass(frozen=True)
class SegmentationSettings:
    """The `segment` parameters of configs/params.yaml."""

    language: str = "en"
    paragraph_break: str = r"\r\n|\r|\n"
    punct_chars: tuple[str, ...] | None = None
    max_chars: int = 5_000_000

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "SegmentationSettings":
        section = dict(params.get("segment", {}))
        if section.get("punct_chars") is not None:
            section["punct_chars"] = tuple(section["punct_chars"])
        return cls(**section)


def sentence_id(doc: str, text: str, occurrence: int = 0) -> str:
    """A stable id from the document name and the sentence's own text.

    `occurrence` counts earlier sentences of the same document with the same text, so repeated
    boilerplate gets distinct ids while other sentences keep theirs when the document is edited.
    """
    key = f"{doc}\x00{text}\x00{occurrence}" if occurrence else f"{doc}\x00{text}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


def read_document(path: Path, encoding: str = "utf-8") -> str:
    """The file's text exactly as stored (line endings kept), with a clear error on bad bytes."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise DocumentError(f"{path}: cannot read ({error.strerror})") from None
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DocumentError(
            f"{path}: line {line}: bytes that are not {encoding} at byte {error.start}"
            " (use --encoding to read another encoding)"
        ) from None
    except LookupError:
        raise DocumentError(f"{path}: unknown encoding '{encoding}'") from None


def split_date_header(text: str, doc: str) -> tuple[str | None, int]:
    """The document's date and the offset where its body starts."""
    match = DATE_HEADER.match(text)
    if not match:
        return None, 0
    try:
        date = dt.date.fromisoformat(match.group(1))
    except ValueError:
        raise DocumentError(f"{doc}: line 1: date header '{match.group(1)}' is not YYYY-MM-DD") from None
    return date.isoformat(), match.end()


class Segmenter:
    """Turns document text into sentence records: paragraphs at line breaks, then sentences."""

    def __init__(self, settings: SegmentationSettings | None = None):
        self.settings = settings or SegmentationSettings()
        self.pipeline = RenewablePipeline(self._sentencizer)
        self._paragraph_break = re.compile(self.settings.paragraph_break)

    def _sentencizer(self):
        nlp = without_torch("spacy").blank(self.settings.language)
        config = {} if self.settings.punct_chars is None else {"punct_chars": list(self.settings.punct_chars)}
        nlp.add_pipe("sentencizer", config=config)
        nlp.max_length = self.settings.max_chars
        return nlp

    def paragraphs(self, text: str, start: int = 0) -> Iterator[tuple[int, str]]:
        """(offset, text) of each non-blank paragraph from `start`, surrounding space removed."""
        position = start
        for boundary in [*self._paragraph_break.finditer(text, start), None]:
            end = boundary.start() if boundary else len(text)
            chunk = text[position:end]
            stripped = chunk.strip()
            if stripped:
                yield position + len(chunk) - len(chunk.lstrip()), stripped
            if boundary:
                position = boundary.end()

    def segment(self, text: str, doc: str) -> list[dict[str, Any]]:
        """Sentence records of one document's text."""
        if len(text) > self.settings.max_chars:
            raise DocumentError(f"{doc}: {len(text)} characters, more than max_chars={self.settings.max_chars}")
        date, body_start = split_date_header(text, doc)
        paragraphs = list(self.paragraphs(text, body_start))
        seen: Counter[str] = Counter()
        records = []
        for (offset, _), parsed in zip(paragraphs, self.pipeline.nlp.pipe(p for _, p in paragraphs)):
            for sent in parsed.sents:
                sentence = sent.text.strip()
                if not sentence:
                    continue
                start = offset + sent.start_char + (len(sent.text) - len(sent.text.lstrip()))
                records.append(
                    {
                        "id": sentence_id(doc, sentence, seen[sentence]),
                        "doc": doc,
                        "index": len(records),
                        "start": start,
                        "end": start + len(sentence),
                        "date": date,
                        "text": sentence,
                    }
                )
                seen[sentence] += 1
        self.pipeline.renew_if_large()
        return records

    def segment_file(self, path: Path, encoding: str = "utf-8") -> list[dict[str, Any]]:
        """Sentence records of one file, named by its file name."""
        return self.segment(read_document(path, encoding), path.name)

    def segment_folder(self, folder: Path) -> list[dict[str, Any]]:
        """Sentence records of every `.txt` document in a folder, in file-name order."""
        return [record for path in sorted(folder.glob("*.txt")) for record in self.segment_file(path)]
