"""The spaCy lexicon features: term matching, counts, interactions, first actor and speaker."""

import numpy as np
import pytest

from pipeline.features import LexiconFeatures

LEXICONS = {
    "actor:russia": ["moscow", "lavrov"],
    "actor:west": ["US", "nato"],
    "cue:attribution": ["said"],
    "cue:enlargement": ["expansion"],
}


@pytest.fixture(scope="module")
def lexicon() -> LexiconFeatures:
    return LexiconFeatures(LEXICONS, [["actor:west", "cue:enlargement"]], window=3).fit(None)


def features(lexicon: LexiconFeatures, text: str) -> dict[str, float]:
    row = lexicon.transform([text])[0]
    return {name: value for name, value in zip(lexicon.get_feature_names_out(), row) if value}


def test_lower_case_terms_match_any_case_and_capitalised_terms_only_as_written(lexicon):
    assert features(lexicon, "Nato and NATO met in MOSCOW.")["actor:west"] == 2
    assert features(lexicon, "Nato and NATO met in MOSCOW.")["actor:russia"] == 1
    assert "actor:west" not in features(lexicon, "They would tell us.")
    assert features(lexicon, "The US would tell us.")["actor:west"] == 1


def test_interactions_first_actor_and_speaker(lexicon):
    found = features(lexicon, "NATO expansion is a threat, Lavrov said in Moscow.")
    assert found["actor:west&cue:enlargement"] == 1
    assert found["first:actor:west"] == 1 and "first:actor:russia" not in found
    # Lavrov is within three tokens of "said"; NATO is not.
    assert found["speaker:actor:russia"] == 1 and "speaker:actor:west" not in found


def test_rows_follow_the_input_and_repeat_for_repeated_texts(lexicon):
    texts = ["Lavrov said.", "", "Lavrov said.", "The US said."]
    rows = lexicon.transform(texts)
    assert rows.shape == (4, len(lexicon.get_feature_names_out()))
    assert np.array_equal(rows[0], rows[2]) and not np.array_equal(rows[0], rows[3])
    assert not rows[1, : len(LEXICONS)].any()


def test_more_distinct_texts_than_the_cache_holds(monkeypatch):
    from pipeline import features

    monkeypatch.setattr(features, "CACHE_SIZE", 3)
    bounded = LexiconFeatures({"actor:russia": ["lavrov"], "cue:attribution": ["told"]}).fit(None)
    texts = [f"Lavrov told {n} reporters." for n in range(7)]
    rows = bounded.transform(texts[:2] + texts)  # the cache empties itself while the batch is computed
    assert rows.shape[0] == 9 and np.array_equal(rows[2:], bounded.transform(texts))
    assert (rows[:, 0] == 1).all()
