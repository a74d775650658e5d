"""Deciding whether the chosen sentences really answer the question, or the assistant should abstain.

A retrieval score alone cannot tell an unanswerable question from an answerable one (on the seed set the
unanswerable question's top cosine sits inside the answerable range). Two kinds of evidence are used:

- the question's expected answer type: a "how many" or "when" question needs a number or a date in the
  chosen sentences (the commonest way an off-topic sentence looks relevant but says nothing);
- how strongly the best sentence matches the question: its similarity, and for questions in the corpus's
  language, the share of the question's content words it contains. The threshold on that combined
  strength is calibrated on the seed gold set, the fixture questions, our own unanswerable
  questions (benchmarks/data/unanswerable.jsonl) and XQuAD articles 00-23 (docs/answers.md).
"""

from assistant.answering import Candidate
from assistant.question_type import carries_type, expected_type
from index.normalise import is_arabic

# Strength below which the best sentence is not trusted, per encoder, for a question in the corpus's
# language and for a question in another language: cosine scales differ between models (USE puts related
# sentences near 0.3-0.6, e5 near 0.75-0.9), and a question and its answer in two languages sit lower on
# the same scale than in one. Calibrated with benchmarks/calibrate_abstention.py (docs/answers.md): the
# midpoint of the gap that decides the most questions right. An encoder with no calibrated value relies on
# the answer-type check alone.
MIN_STRENGTH: dict[str, tuple[float, float]] = {
    "use-m3": (0.269, 0.269),  # one value for both: calibrated before the split, on 25 questions
    "e5-small-q4": (1.023, 0.748),  # same language: 146 of 155 decided right; cross-language: 135 of 146
}


def strength(best: Candidate) -> float:
    """How strongly the top passages match: the best sentence cosine among them, plus the chosen
    sentence's share of the question's words.

    The cosine is the pool's best rather than the chosen sentence's own: the sentence score also weighs
    word overlap and the answer type, so the chosen sentence can be a lexically closer one with a lower
    cosine, and a cross-language question (word share 0) would then be abstained on although its passages
    match it well (XQuAD English false abstentions at this threshold: 15.3% with the chosen sentence's
    cosine, 11.5% with the pool's best; seed and fixture decisions the same).
    """
    return max(best.similarity, best.pool_similarity) + best.overlap


def is_supported(question: str, chosen: list[Candidate], embedder_id: str) -> bool:
    """True when the chosen sentences are evidence enough to answer ``question``."""
    if not chosen:
        return False
    if not carries_type(expected_type(question), " ".join(c.text for c in chosen)):
        return False
    return strength(chosen[0]) >= threshold(embedder_id, is_cross_language(question, chosen[0].text))


def is_cross_language(question: str, sentence: str) -> bool:
    """Whether the question is in another script than the sentence chosen to answer it.

    Told by script, not by the share of the question's words found in the corpus: an Arabic question about
    something the articles never mention shares no words with them either, and was held to the lower
    cross-language threshold ("ما هي عاصمة فرنسا؟" over the seed article was answered).
    """
    return is_arabic(question) != is_arabic(sentence)


def threshold(embedder_id: str, cross_language: bool) -> float:
    """The calibrated strength threshold for this encoder and language pairing (-inf if none)."""
    same, cross = MIN_STRENGTH.get(embedder_id, (float("-inf"), float("-inf")))
    return cross if cross_language else same
