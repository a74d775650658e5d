"""English question words in Arabic from a dictd dictionary (written here, with our own entries)."""

import gzip
from pathlib import Path

import pytest

from index import dictionary
from index.dictionary import Dictionary
from index.lexical import question_tokens, tokenise

ENTRIES = {  # headword -> the entry's translation lines, as FreeDict writes them
    "Port": ["الميناء"],
    "Expansion": ["التوسعة", "توسيع، تمديد"],
    "Cost": ["التكلفة"],
    "What": ["ماذا"],
    "Accident": ["1. الحادث", "2. إصابة"],  # numbered senses
    "U": ["يو - اسم حرف"],  # a letter's entry is its name
    "Us": ["الولايات المتّحدة", "نحن"],  # the acronym's sense first, then the pronoun's
    "Their": ["هم"],
}


def write_dictd(prefix: Path, entries: dict[str, list[str]]) -> Path:
    """A dictionary in dictd format: base-64 offsets and lengths into a gzip-compressed text."""
    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

    def b64(value: int) -> str:
        out = digits[value % 64]
        while value >= 64:
            value //= 64
            out = digits[value % 64] + out
        return out

    text, index = b"00-database-info\nour own test words\n", []
    for word, lines in entries.items():
        entry = "\n".join([f"{word} /pronunciation/", *lines, ""]).encode("utf-8")
        index.append(f"{word.lower()}\t{b64(len(text))}\t{b64(len(entry))}")
        text += entry
    Path(f"{prefix}.index").write_text("\n".join(index) + "\n", encoding="utf-8")
    Path(f"{prefix}.dict.dz").write_bytes(gzip.compress(text))
    return prefix


@pytest.fixture()
def words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    prefix = write_dictd(tmp_path / "eng-ara", ENTRIES)
    monkeypatch.setenv("DALIL_DICTIONARY", str(prefix))
    return prefix


def test_entries_are_read_at_their_offsets_in_any_case(words: Path) -> None:
    found = Dictionary(words)
    assert found.translations("port") == ["الميناء"] == found.translations("Port")
    assert found.translations("expansion") == ["التوسعة", "توسيع", "تمديد"]  # split at Arabic commas too
    assert found.translations("port's") == ["الميناء"] == found.translations("Port'")  # possessives
    assert found.translations("accident") == ["الحادث", "إصابة"]  # no "1", which would match every number
    assert found.translations("harbour") == []


def test_an_english_question_gets_its_content_words_in_arabic(words: Path) -> None:
    found = Dictionary(words)
    assert found.arabic_words("What will the port expansion cost?") == "الميناء التوسعة توسيع التكلفة"  # no ماذا
    assert found.arabic_words("ما تكلفة توسعة الميناء؟") == ""  # an Arabic question is matched as it is
    question = "How much will the port expansion cost?"
    assert question_tokens(question) == tokenise(question) + tokenise("الميناء التوسعة توسيع التكلفة")


@pytest.mark.parametrize("setting", ["none", "/nonexistent/eng-ara"])
def test_without_a_dictionary_questions_are_matched_as_before(setting: str, monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("DALIL_DICTIONARY", setting)
    monkeypatch.setattr(dictionary, "_loaded", {})
    assert dictionary.default_dictionary() is None
    question = "How much will the port expansion cost?"
    assert question_tokens(question) == tokenise(question)
    # A dictionary named that is not there is said once (it was silently not used); "none" is no surprise.
    warned = [r.getMessage() for r in caplog.records if "DALIL_DICTIONARY" in r.getMessage()]
    assert warned == ([] if setting == "none" else [f"DALIL_DICTIONARY={setting} is not a dictd dictionary "
                                                    f"({setting}.index and {setting}.dict.dz): English questions "
                                                    "are matched without one."])


def test_single_letters_are_not_looked_up(words: Path) -> None:
    assert Dictionary(words).arabic_words("Did the U.S. port grow?") == "الميناء"


def test_pronouns_are_skipped_and_an_acronym_keeps_its_first_sense(words: Path) -> None:
    found = Dictionary(words)
    # "us" and "their" would match every article that says نحن / هم; "US" is the United States, not "we".
    assert found.arabic_words("Did their port cost us much?") == "الميناء التكلفة"
    assert found.arabic_words("What did the US port cost?") == "الولايات المتّحدة الميناء التكلفة"
    # A question all in capitals is not all acronyms: its function words are still skipped.
    assert found.arabic_words("WHAT DID THEIR PORT COST US?") == "الميناء التكلفة"


@pytest.mark.parametrize("damage", ["not gzip", "a corrupt stream"])
def test_a_damaged_dictionary_translates_nothing_and_fails_nothing(words: Path, damage: str) -> None:
    path = Path(f"{words}.dict.dz")
    data = bytearray(path.read_bytes())
    if damage == "not gzip":
        data = bytearray(b"not gzip at all")
    else:  # gzip's header intact, the deflate stream after it scrambled
        data[12:-8] = bytes(255 - b for b in data[12:-8])
    path.write_bytes(bytes(data))
    found = Dictionary(words)
    for _ in range(2):  # the failure is kept: not read, and not raised, again for every question
        assert found.arabic_words("How much will the port expansion cost?") == ""


def test_bm25_matches_an_english_question_to_the_arabic_article(words: Path, fixture_assistant) -> None:
    question = "How much will the port expansion cost?"
    with_words = fixture_assistant.retriever.search(question, k=3)
    assert with_words[0].chunk.source == "port_expansion.txt" and with_words[0].lexical > 0
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DALIL_DICTIONARY", "none")
        without = fixture_assistant.retriever.search(question, k=3)
    assert without[0].lexical == 0  # English words alone match nothing in the Arabic article
