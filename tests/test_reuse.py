"""Reused TF-IDF fits: the same results as fresh fits, shared only inside `reused_fits()`."""

from pipeline import reuse
from pipeline.reuse import ReusableTfidfVectorizer, reused_fits

TEXTS = ["NATO enlargement talks", "Moscow rejects enlargement", "talks end"]


def test_reused_vectorizer_fits_once_and_matches_a_fresh_fit():
    texts = TEXTS
    fresh = ReusableTfidfVectorizer().fit_transform(texts)
    with reused_fits():
        first, second = ReusableTfidfVectorizer(), ReusableTfidfVectorizer()
        first_matrix = first.fit_transform(texts)
        second_matrix = second.fit_transform(texts)
        assert second.vocabulary_ is first.vocabulary_  # the second fit was reused
        assert (second.transform(["enlargement"]) != first.transform(["enlargement"])).nnz == 0
        different = ReusableTfidfVectorizer(ngram_range=(1, 2)).fit(texts)
        assert len(different.vocabulary_) > len(first.vocabulary_)
    assert (first_matrix != fresh).nnz == 0 and (second_matrix != fresh).nnz == 0
    outside = ReusableTfidfVectorizer().fit(texts)
    assert outside.vocabulary_ is not first.vocabulary_


def test_saved_with_its_vocabulary_as_one_array_and_loaded_back(tmp_path):
    import skops.io

    vectorizer = ReusableTfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3), max_features=10).fit(TEXTS)
    path = tmp_path / "vectorizer.skops"
    skops.io.dump(vectorizer, path)
    loaded = skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path))
    assert loaded.vocabulary_ == vectorizer.vocabulary_
    assert (loaded.transform(TEXTS) != vectorizer.transform(TEXTS)).nnz == 0
    assert "vocabulary_" not in vectorizer.__getstate__() and len(vectorizer.__getstate__()["vocabulary_terms_"]) == 10


def test_least_recently_used_fits_are_dropped_beyond_the_memory_budget(monkeypatch):
    monkeypatch.setattr(reuse, "BUDGET_BYTES", 1)
    with reused_fits():
        first = ReusableTfidfVectorizer().fit(TEXTS)
        ReusableTfidfVectorizer().fit(TEXTS[:2])  # pushes the first fit out
        again = ReusableTfidfVectorizer().fit(TEXTS)
        assert again.vocabulary_ is not first.vocabulary_
        assert again.vocabulary_ == first.vocabulary_


def test_equal_loaded_vectorizers_transform_a_batch_once(tmp_path, monkeypatch):
    import skops.io

    calls = []
    plain_transform = reuse.TfidfVectorizer.transform
    monkeypatch.setattr(reuse.TfidfVectorizer, "transform", lambda self, docs: calls.append(1) or plain_transform(self, docs))
    path = tmp_path / "vectorizer.skops"
    skops.io.dump(ReusableTfidfVectorizer().fit(TEXTS), path)
    first, second = (skops.io.load(path, trusted=skops.io.get_untrusted_types(file=path)) for _ in range(2))
    other = ReusableTfidfVectorizer(ngram_range=(1, 2)).fit(TEXTS)
    with reused_fits():
        shared = [v.transform(TEXTS) for v in (first, second, first)]
        other.transform(TEXTS)
    assert len(calls) == 2  # once for the two equal vectorizers, once for the different one
    assert all((matrix != plain_transform(first, TEXTS)).nnz == 0 for matrix in shared)
    first.transform(TEXTS)
    assert len(calls) == 3  # outside the block nothing is shared


def test_a_vectorizer_refit_outside_the_block_is_not_taken_for_its_old_fit():
    first = ReusableTfidfVectorizer()
    with reused_fits():
        first.fit(TEXTS)
    first.fit(["Kyiv asks for membership", "Washington answers"])  # refit, no sharing
    expected = first.transform(TEXTS)
    with reused_fits():
        twin = ReusableTfidfVectorizer().fit(TEXTS)  # the state `first` had before
        twin.transform(TEXTS)
        assert (first.transform(TEXTS) != expected).nnz == 0
