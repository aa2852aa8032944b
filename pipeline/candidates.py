"""Candidate models: scikit-learn Pipelines built from configs/candidates.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MaxAbsScaler, OneHotEncoder

from pipeline.config import Columns, ConfigError, load_yaml, relative_to_file
from pipeline.context import DocumentContext
from pipeline.examples import WithExamples
from pipeline.encoder import MissingExtra, register
from pipeline.speakers import parser_folder
from pipeline.svm import ScoredLinearSVC
from pipeline.features import EnsureColumns, LexiconFeatures, SentenceEmbeddings
from pipeline.reuse import ReusableTfidfVectorizer


@dataclass(frozen=True)
class Candidate:
    """One candidate model: its feature blocks, classifier and hyper-parameter grid."""

    name: str
    features: tuple[str, ...]
    classifier: str
    grid: dict[str, list] = field(default_factory=dict)  # searched (several values) or set (one value)
    fixed: dict[str, Any] = field(default_factory=dict)  # set: any constructor argument of any step
    per_target: bool = False  # one model per value of the target column (`pipeline.pertarget`)

    @classmethod
    def from_config(cls, name: str, spec: dict, path: str | Path) -> "Candidate":
        """One entry of the `candidates` section; YAML lists of numbers become tuples (ranges)."""
        unknown = sorted(set(spec) - {"features", "classifier", "grid", "params", "per_target"})
        if unknown or "classifier" not in spec:
            raise ConfigError(f"{path}: candidate '{name}': "
                              + (f"unknown key '{unknown[0]}'" if unknown else "no 'classifier'"))
        grid = {key: [as_parameter(value) for value in values] if isinstance(values, list) else [as_parameter(values)]
                for key, values in (spec.get("grid") or {}).items()}
        fixed = {key: as_parameter(value) for key, value in (spec.get("params") or {}).items()}
        return cls(name, tuple(spec.get("features") or ()), spec["classifier"], grid, fixed,
                   bool(spec.get("per_target")))

    def params(self) -> dict[str, Any]:
        """Flat parameters for experiment tracking."""
        return {"candidate": self.name, "features": "+".join(self.features) or "none",
                "classifier": self.classifier, "per_target": str(self.per_target),
                **{f"grid.{k}": str(v) for k, v in self.grid.items()},
                **{f"params.{k}": str(v) for k, v in self.fixed.items()}}

    def settings(self) -> dict[str, list]:
        """Every hyper-parameter as a grid entry: the fixed ones as one-value entries."""
        return {**{key: [value] for key, value in self.fixed.items()}, **self.grid}


def as_parameter(value: Any) -> Any:
    """A value from YAML as scikit-learn takes it: a list of numbers is a tuple (`ngram_range`)."""
    if isinstance(value, list) and value and all(isinstance(v, (int, float)) for v in value):
        return tuple(value)
    return value


@dataclass(frozen=True)
class ModelSet:
    """A set of task models that `dvc repro` trains: per task, the best of the candidates it admits."""

    name: str
    without: tuple[str, ...] = ()  # feature blocks its candidates must not use

    def admits(self, candidate: Candidate) -> bool:
        return not set(self.without) & set(candidate.features)

    def folder(self, models: Path) -> Path:
        """Where its task models are written: `models/` itself for the default set, else a subfolder."""
        return models if self.name == DEFAULT_SET else models / self.name

    @property
    def metric_prefix(self) -> str:
        """What its metric names start with in MLflow: nothing for the default set, else `<set>.`."""
        return "" if self.name == DEFAULT_SET else f"{self.name}."

    def registered_name(self, task: str, prefix: str = "natostance-") -> str:
        """Its task model's name in the MLflow registry."""
        return f"{prefix}{task}" if self.name == DEFAULT_SET else f"{prefix}{self.name}-{task}"


DEFAULT_SET = "default"


@dataclass(frozen=True)
class CandidateSettings:
    """configs/candidates.yaml, with the lexicons read from their data files."""

    candidates: tuple[Candidate, ...]
    lexicons: dict[str, list[str]]
    interactions: list[list[str]]
    embeddings: dict[str, Any]
    parser: dict[str, Any] = field(default_factory=dict)
    model_sets: tuple[ModelSet, ...] = (ModelSet(DEFAULT_SET),)

    @classmethod
    def load(cls, path: str | Path) -> "CandidateSettings":
        raw = load_yaml(path)
        candidates = tuple(Candidate.from_config(name, spec or {}, path) for name, spec in raw["candidates"].items())
        lexicons = {
            f"{prefix}:{category}": [str(term) for term in terms]
            for prefix, lexicon_path in (raw.get("lexicons") or {}).items()
            for category, terms in load_yaml(relative_to_file(lexicon_path, path)).items()
        }
        for pair in raw.get("interactions") or []:
            unknown = [category for category in pair if category not in lexicons]
            if unknown:
                raise ConfigError(f"{path}: interaction {pair} names unknown categories {unknown}")
        sets = tuple(ModelSet(name, tuple((spec or {}).get("without") or ())) for name, spec in
                     (raw.get("model_sets") or {DEFAULT_SET: {}}).items())
        if DEFAULT_SET not in [model_set.name for model_set in sets]:
            raise ConfigError(f"{path}: model_sets has no '{DEFAULT_SET}' set")
        for model_set in sets:
            if not any(model_set.admits(candidate) for candidate in candidates):
                raise ConfigError(f"{path}: model set '{model_set.name}' admits no candidate")
        embeddings = dict(raw.get("embeddings") or {})
        if "encoder" in embeddings:
            embeddings["encoder"] = relative_to_file(embeddings["encoder"], path)
        return cls(candidates, lexicons, list(map(list, raw.get("interactions") or [])), embeddings,
                   dict(raw.get("parser") or {}), sets)

    def check_columns(self, columns: Columns, path: str | Path) -> None:
        """Refuse, before any work, a candidate that needs a column the data has not got."""
        needs = {"context": ("group", "order"), "parsed-context": ("group", "order")}
        for candidate in self.candidates:
            missing = [f"{kind}_column" for block in candidate.features for kind in needs.get(block, ())
                       if not getattr(columns, kind)]
            if candidate.per_target and not columns.target:
                missing.append("target_column")
            if missing:
                raise ConfigError(f"{path}: candidate '{candidate.name}' needs data.{missing[0]}, which is null"
                                  " (drop the candidate or set the column)")

    def encoder(self) -> str:
        """The sha256 of the sentence encoder the `encoder` stage built, loaded for this process
        (MissingExtra without one)."""
        return register(Path(self.embeddings["encoder"]))


def feature_block(name: str, settings: CandidateSettings, columns: Columns):
    """(name, transformer, columns) for a ColumnTransformer."""
    text = columns.text
    context = lambda parser: (
        make_pipeline(DocumentContext(settings.lexicons, settings.interactions, text, columns.group, columns.order, parser),
                      MaxAbsScaler()),
        [text, columns.group, columns.order],
    )
    blocks = {
        "words": lambda: (ReusableTfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2), text),
        "chars": lambda: (ReusableTfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2, max_features=4000), text),
        "lexicon": lambda: (
            make_pipeline(LexiconFeatures(settings.lexicons, settings.interactions, text), MaxAbsScaler()),
            [text],
        ),
        "context": lambda: context(None),
        "parsed-context": lambda: context(settings.parser),
        "embeddings": lambda: (SentenceEmbeddings(settings.encoder(), text), [text]),
        "target": lambda: (OneHotEncoder(handle_unknown="ignore"), [columns.target]),
    }
    if name not in blocks:
        raise ConfigError(f"unknown feature block '{name}' (known: {', '.join(blocks)})")
    transformer, selected = blocks[name]()
    return name, transformer, selected


def classifier(name: str, seed: int):
    """The classifier step by its name in configs/candidates.yaml."""
    if name == "majority":
        return DummyClassifier(strategy="most_frequent")
    if name == "logreg":
        return LogisticRegression(C=1.0, class_weight="balanced", solver="newton-cg", max_iter=1000, random_state=seed)
    if name == "svm":
        return ScoredLinearSVC(C=1.0, class_weight="balanced", random_state=seed)
    raise ConfigError(f"unknown classifier '{name}' (known: majority, logreg, svm)")


def build(candidate: Candidate, settings: CandidateSettings, columns: Columns, seed: int,
          examples: pd.DataFrame | None = None, task: str | None = None) -> Pipeline | WithExamples:
    """The candidate's unfitted Pipeline; with written `examples`, wrapped so that every fit adds
    them, labeled by their column `task` (raises MissingExtra when an optional extra is absent)."""
    if "embeddings" in candidate.features:
        settings.encoder()
    if "parsed-context" in candidate.features:
        parser_folder(settings.parser["package"])
    one_hot_target = columns.target and candidate.features and not candidate.per_target
    blocks = list(candidate.features) + (["target"] if one_hot_target else [])
    steps = []
    if blocks:
        steps.append(("columns", EnsureColumns(columns.inputs())))
        steps.append(("features", ColumnTransformer([feature_block(b, settings, columns) for b in blocks])))
    steps.append(("classifier", classifier(candidate.classifier, seed)))
    if examples is None or examples.empty:
        return Pipeline(steps)
    return WithExamples(Pipeline(steps), examples, task)


__all__ = ["Candidate", "CandidateSettings", "MissingExtra", "ModelSet", "build"]
