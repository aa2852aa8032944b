"""Segmentation with real spaCy on the real seed documents."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.segmentation import DocumentError, Segmenter, read_document

SEEDS = sorted((Path(__file__).resolve().parents[1] / "seeds").glob("*.txt"))


@pytest.fixture(scope="module")
def segmenter() -> Segmenter:
    return Segmenter()


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_every_seed_document_maps_back_to_its_text(segmenter: Segmenter, path: Path) -> None:
    text = read_document(path)
    records = segmenter.segment_file(path)
    assert len(records) >= 10
    assert [r["index"] for r in records] == list(range(len(records)))
    for record in records:
        assert record["doc"] == path.name
        assert text[record["start"] : record["end"]] == record["text"]
        assert record["text"] == record["text"].strip() and record["text"]
    starts = [r["start"] for r in records]
    assert starts == sorted(starts)


def test_seed_ids_are_unique_across_the_corpus(segmenter: Segmenter) -> None:
    ids = [r["id"] for path in SEEDS for r in segmenter.segment_file(path)]
    assert len(ids) == len(set(ids))


def test_date_header_is_metadata_not_text(segmenter: Segmenter) -> None:
    records = segmenter.segment_file(SEEDS[0])
    assert {r["date"] for r in records} == {"2022-01-14"}
    assert records[0]["text"].startswith("The Western bloc")
    assert not any("date 2022" in r["text"] for r in records)


def test_document_without_header_has_no_date(segmenter: Segmenter) -> None:
    records = segmenter.segment("Russia wants guarantees. NATO refuses.", "plain.txt")
    assert [r["text"] for r in records] == ["Russia wants guarantees.", "NATO refuses."]
    assert {r["date"] for r in records} == {None}


def test_headline_on_its_own_line_is_a_unit(segmenter: Segmenter) -> None:
    records = segmenter.segment("Talks end without a deal\nDiplomats met in Geneva. They left.", "h.txt")
    assert [r["text"] for r in records] == ["Talks end without a deal", "Diplomats met in Geneva.", "They left."]


def test_empty_and_blank_documents_give_no_sentences(segmenter: Segmenter) -> None:
    assert segmenter.segment("", "empty.txt") == []
    assert segmenter.segment(" \n\n  \n", "blank.txt") == []
    assert segmenter.segment("date 2022-01-10\n", "header-only.txt") == []


def test_windows_line_endings_keep_offsets(segmenter: Segmenter, tmp_path: Path) -> None:
    path = tmp_path / "crlf.txt"
    path.write_bytes(b"date 2022-01-10\r\nFirst line here.\r\n\r\nSecond paragraph. Third one.\r\n")
    text = read_document(path)
    records = segmenter.segment_file(path)
    assert [r["text"] for r in records] == ["First line here.", "Second paragraph.", "Third one."]
    assert all(text[r["start"] : r["end"]] == r["text"] for r in records)
    assert all("\r" not in r["text"] for r in records)
    assert records[0]["date"] == "2022-01-10"


def test_inserting_a_sentence_keeps_the_other_ids(segmenter: Segmenter, tmp_path: Path) -> None:
    original = read_document(SEEDS[4])
    before = segmenter.segment(original, SEEDS[4].name)
    paragraphs = original.split("\n\n")
    paragraphs.insert(3, "An inserted sentence that was not there before.")
    after = segmenter.segment("\n\n".join(paragraphs), SEEDS[4].name)
    assert len(after) == len(before) + 1
    inserted = [r for r in after if r["text"].startswith("An inserted sentence")]
    assert len(inserted) == 1
    assert [r["id"] for r in after if r is not inserted[0]] == [r["id"] for r in before]
    assert [r["index"] for r in after] == list(range(len(after)))


def test_repeated_sentences_get_distinct_ids(segmenter: Segmenter) -> None:
    records = segmenter.segment("Watch the video.\nNews text.\nWatch the video.", "dup.txt")
    assert records[0]["text"] == records[2]["text"]
    assert records[0]["id"] != records[2]["id"]


def test_bad_date_header_names_the_file(segmenter: Segmenter) -> None:
    with pytest.raises(DocumentError, match=r"bad\.txt: line 1: date header '2022-13-40'"):
        segmenter.segment("date 2022-13-40 Text.", "bad.txt")


def test_bytes_that_are_not_utf8_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.txt"
    path.write_bytes("First line.\nCaf\xe9 au lait.\n".encode("latin-1"))
    with pytest.raises(DocumentError, match=r"latin\.txt: line 2: bytes that are not utf-8"):
        read_document(path)
    assert read_document(path, encoding="latin-1").endswith("Café au lait.\n")


def test_a_megabyte_without_a_full_stop_is_one_sentence(segmenter: Segmenter) -> None:
    text = "word " * 200_000
    records = segmenter.segment(text, "long.txt")
    assert "".join(r["text"] for r in records).replace(" ", "") == text.replace(" ", "")
