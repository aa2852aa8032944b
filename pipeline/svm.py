"""A linear SVM whose label is its own decision, with probability-like scores for the label columns."""

from __future__ import annotations

import numpy as np
from scipy.special import softmax
from sklearn.svm import LinearSVC


class ScoredLinearSVC(LinearSVC):
    """`LinearSVC` with `predict_proba`: the softmax of its decision values, so that the most
    probable class is the SVM's own decision (calibrated probabilities, whose argmax may differ,
    collapse to the majority class on small imbalanced sets). The scores are not calibrated."""

    def predict_proba(self, X) -> np.ndarray:
        scores = self.decision_function(X)
        if scores.ndim == 1:  # two classes: the score of the second
            scores = np.column_stack([-scores, scores]) / 2
        return softmax(scores, axis=1)
