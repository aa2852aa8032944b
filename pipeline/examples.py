"""Written training examples: a meta-estimator that adds them to every fit of a model.

The examples (`labels/written/`) are sentences written from the label definitions, not taken
from the corpus. They only ever train: a cross-validation of a `WithExamples` model still tests
on corpus rows alone, and the inner search of hyper-parameters validates on corpus rows alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.validation import check_is_fitted


class WithExamples(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Fit `estimator` on the given rows plus `examples`, labeled by their column `label`.

    Columns of the training rows that the examples lack are left empty in the example rows.
    """

    def __init__(self, estimator, examples: pd.DataFrame, label: str):
        self.estimator = estimator
        self.examples = examples
        self.label = label

    def fit(self, X: pd.DataFrame, y):
        extra = self.examples.reindex(columns=X.columns)
        rows = pd.concat([X, extra], ignore_index=True)
        labels = np.concatenate([np.asarray(y, dtype=object), self.examples[self.label].to_numpy(dtype=object)])
        self.estimator_ = clone(self.estimator).fit(rows, labels)
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self)
        return self.estimator_.predict(X)
