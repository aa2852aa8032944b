"""spaCy pipelines renewed before their vocabulary grows without bound."""

from pipeline.nlp import RenewablePipeline
from pipeline.segmentation import Segmenter

TEXT = "Ryabkov met Sherman in Geneva. Talks 1 to 40 followed.\nNo deal was reached."


def test_a_pipeline_is_renewed_once_its_vocabulary_passes_the_limit():
    import spacy

    builds = []
    start = len(spacy.blank("en").vocab.strings)
    pipeline = RenewablePipeline(lambda: builds.append(1) or spacy.blank("en"), limit=start + 50)
    first = pipeline.nlp
    pipeline.nlp("a few words")
    pipeline.renew_if_large()
    assert pipeline.nlp is first
    list(pipeline.nlp.pipe(f"word{n}" for n in range(100)))
    pipeline.renew_if_large()
    assert pipeline.nlp is not first and len(builds) == 2
    assert len(pipeline.nlp.vocab.strings) <= start + 50


def test_segmentation_is_the_same_across_a_renewal():
    segmenter = Segmenter()
    segmenter.pipeline.limit = len(segmenter.pipeline.nlp.vocab.strings) + 5
    first_nlp = segmenter.pipeline.nlp
    records = segmenter.segment(TEXT, "doc.txt")
    assert segmenter.pipeline.nlp is not first_nlp  # the document's new words passed the limit
    assert segmenter.segment(TEXT, "doc.txt") == records
    assert [r["text"] for r in records] == ["Ryabkov met Sherman in Geneva.", "Talks 1 to 40 followed.", "No deal was reached."]
