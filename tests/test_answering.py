"""The answer step's pure parts: idf-weighted word overlap, and the abstention strength."""

from assistant import evidence
from assistant.answering import Candidate, _weighted_overlap
from assistant.records import Hit
from index.records import Chunk


def test_rare_question_words_weigh_more_than_the_topic_name() -> None:
    # "cairo" is in every sentence of the pool, "museum" in one: the sentence with the rare word wins,
    # although both sentences share one question word.
    question = {"cairo", "museum"}
    pool = [{"cairo", "river"}, {"cairo", "museum"}, {"cairo", "tower"}]
    weighted = _weighted_overlap(question, pool)
    assert weighted[1] > weighted[0] == weighted[2] > 0
    assert weighted[1] == 1.0  # every question word present
    assert _weighted_overlap(set(), pool).tolist() == [0.0, 0.0, 0.0]
    assert _weighted_overlap(question, []).size == 0


def _candidate(similarity: float, overlap: float, pool_similarity: float) -> Candidate:
    chunk = Chunk("c", "a", "a.txt", "T", "One sentence here.", 0, 18, ((0, 18),))
    return Candidate(Hit(chunk, 1.0, 0.5, 0.0), (0, 18), 1.0, similarity, overlap, pool_similarity)


def test_strength_uses_the_pools_best_cosine_and_the_chosen_sentences_words() -> None:
    # A sentence chosen for its words (cosine 0.1) from passages whose best sentence has cosine 0.4.
    assert evidence.strength(_candidate(0.1, 0.5, 0.4)) == 0.4 + 0.5
    assert evidence.strength(_candidate(0.3, 0.0, 0.0)) == 0.3  # no pool figure: the sentence's own
