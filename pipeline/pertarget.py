"""One model per stance target: a meta-estimator that fits a clone of its estimator on the rows of
each value of the target column, as the strong baselines of multi-target stance benchmarks do.

The estimator may be a hyper-parameter search: each target then gets its own search.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing
from sklearn.utils.validation import check_is_fitted

from pipeline.errors import InputError


class PerTarget(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Fit `estimator` once per value of the column `target`; predict each row with its target's model.

    `classes_` are the labels of all training rows; a class a target never had gets probability 0
    for that target's rows. A target value not seen in training is an `InputError` naming it.
    """

    def __init__(self, estimator, target: str):
        self.estimator = estimator
        self.target = target

    def get_metadata_routing(self):
        return MetadataRouter(owner=self.__class__.__name__).add(
            estimator=self.estimator, method_mapping=MethodMapping().add(caller="fit", callee="fit"))

    def fit(self, X: pd.DataFrame, y, **fit_params):
        routed = process_routing(self, "fit", **fit_params)
        y = np.asarray(y, dtype=object)
        values = X[self.target].astype(str).to_numpy()
        self.classes_ = np.array(sorted(set(y)), dtype=object)
        self.estimators_ = {}
        for value in sorted(set(values)):
            rows = np.flatnonzero(values == value)
            self.estimators_[value] = clone(self.estimator).fit(
                X.iloc[rows], y[rows], **{name: np.asarray(data)[rows] for name, data in routed.estimator.fit.items()})
        return self

    def with_estimators(self, convert) -> "PerTarget":
        """A fitted copy whose model of each target is `convert(model)` (the fitted pipeline inside
        a search, say), and whose `estimator` is an unfitted clone of one of those."""
        check_is_fitted(self)
        converted = {value: convert(model) for value, model in self.estimators_.items()}
        copy = PerTarget(clone(next(iter(converted.values()))), self.target)
        copy.classes_, copy.estimators_ = self.classes_, converted
        return copy

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self)
        values = X[self.target].astype(str).to_numpy()
        unknown = sorted(set(values) - set(self.estimators_))
        if unknown:
            raise InputError(f"target '{unknown[0]}' was not in the training data (the model's targets:"
                             f" {', '.join(self.estimators_)})")
        probabilities = np.zeros((len(X), len(self.classes_)))
        for value, model in self.estimators_.items():
            rows = np.flatnonzero(values == value)
            if len(rows):
                columns = [list(self.classes_).index(label) for label in model.classes_]
                probabilities[np.ix_(rows, columns)] = model.predict_proba(X.iloc[rows])
        return probabilities

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
