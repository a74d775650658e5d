"""The evaluation metrics as small pure functions over text, ranks and flags (definitions: docs/quality.md).

Every comparison of text goes through ``index.normalise.normalise`` (the normaliser retrieval uses), with
runs of whitespace folded to one space, so "إسرائيل" in a gold file matches "اسرائيل" in an article.
"""

import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence

from assistant.records import MARKER
from index.normalise import normalise

# SQuAD drops English articles before comparing tokens; the Arabic counterpart is the definite article
# ال at the start of a word (kept when fewer than two letters would remain, as in "ال" itself).
_ENGLISH_ARTICLES = {"a", "an", "the"}
_ARABIC_ARTICLE = "ال"


def match_form(text: str) -> str:
    """``text`` as compared: normalised, whitespace runs folded to one space, trimmed."""
    return " ".join(normalise(text).split())


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """True when ``text`` contains one of ``answers`` (both in match form; empty answers never match)."""
    haystack = match_form(text)
    return any(needle and needle in haystack for needle in map(match_form, answers))


def first_hit_rank(passages: Sequence[str], answers: Sequence[str]) -> int | None:
    """1-based rank of the first passage containing a gold answer, or None when none does."""
    for rank, passage in enumerate(passages, start=1):
        if contains_answer(passage, answers):
            return rank
    return None


def same_source(found: str, gold: str) -> bool:
    """True when two source names denote the same file (equal, or one is the other under a folder)."""
    found, gold = found.replace("\\", "/"), gold.replace("\\", "/")
    return found == gold or found.endswith("/" + gold) or gold.endswith("/" + found)


def source_rank(sources: Sequence[str], gold: str | None) -> int | None:
    """1-based rank of the first passage from the gold source file, or None (also when there is none)."""
    if not gold:
        return None
    return next((rank for rank, found in enumerate(sources, start=1) if same_source(found, gold)), None)


def passage_rank(passages: Sequence[str], context: str | None, answers: Sequence[str]) -> int | None:
    """1-based rank of the first passage cut from the gold paragraph ``context`` that holds a gold answer.

    The stricter hit: the answer found in its own paragraph, not a lucky match elsewhere. Passages are cut
    from articles by the chunker, so a passage counts when it is the paragraph, a piece of it, or holds it
    whole. None when no passage qualifies or there is no context.
    """
    if not context:
        return None
    gold = match_form(context)
    for rank, passage in enumerate(passages, start=1):
        found = match_form(passage)
        if found and (found in gold or gold in found) and contains_answer(passage, answers):
            return rank
    return None


def hit_at(rank: int | None, k: int) -> bool:
    """True when a first-hit ``rank`` is within the top ``k``."""
    return rank is not None and rank <= k


def reciprocal_rank(rank: int | None, k: int = 10) -> float:
    """1/rank when the rank is within ``k``, else 0."""
    return 1.0 / rank if hit_at(rank, k) else 0.0


def strip_markers(text: str) -> str:
    """Answer text without its ``[n]`` citation markers."""
    return MARKER.sub(" ", text)


def answer_tokens(text: str) -> list[str]:
    """SQuAD-style tokens: normalised, punctuation dropped, articles (a/an/the, leading ال) dropped."""
    # Punctuation and symbols are deleted, not spaced, as SQuAD does: "8.8" -> "88", "الجزائر،" -> "الجزائر".
    text = "".join(ch for ch in normalise(text) if not unicodedata.category(ch).startswith(("P", "S")))
    tokens = []
    for token in text.split():
        if token in _ENGLISH_ARTICLES:
            continue
        if token.startswith(_ARABIC_ARTICLE) and len(token) - len(_ARABIC_ARTICLE) >= 2:
            token = token[len(_ARABIC_ARTICLE):]
        tokens.append(token)
    return tokens


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD token F1 of one prediction against one gold answer."""
    predicted, expected = answer_tokens(prediction), answer_tokens(gold)
    if not predicted or not expected:
        return float(predicted == expected)
    common = sum((Counter(predicted) & Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def best_f1(prediction: str, answers: Sequence[str]) -> float:
    """The best token F1 over the gold answers (0 with none)."""
    return max((token_f1(prediction, gold) for gold in answers), default=0.0)


def exact_match(prediction: str, answers: Sequence[str]) -> bool:
    """True when the prediction's tokens equal some gold answer's tokens."""
    predicted = answer_tokens(prediction)
    return any(predicted == answer_tokens(gold) for gold in answers)


def markers_resolve(answer_text: str, citation_numbers: Iterable[int]) -> bool:
    """True when every ``[n]`` marker in the answer refers to one of the citations."""
    return {int(n) for n in MARKER.findall(answer_text)} <= set(citation_numbers)


def citation_ok(answer_text: str, cited_passages: Sequence[str], citation_numbers: Iterable[int],
                answers: Sequence[str]) -> bool:
    """Some cited passage contains a gold answer, and every marker in the answer refers to a citation."""
    supported = any(contains_answer(passage, answers) for passage in cited_passages)
    return supported and markers_resolve(answer_text, citation_numbers)


def abstention_scores(answerable: Sequence[bool], abstained: Sequence[bool]) -> dict[str, float | None]:
    """Abstention precision and recall (on unanswerable questions) and the false-abstention rate.

    A value whose denominator is empty is None; precision is None too when the set has no unanswerable
    question, since there is nothing to detect (the false-abstention rate then says it all).
    """
    pairs = list(zip(answerable, abstained, strict=True))
    right = sum(1 for can, did in pairs if did and not can)
    abstentions = sum(1 for _, did in pairs if did)
    unanswerable = sum(1 for can, _ in pairs if not can)
    answerable_count = len(pairs) - unanswerable
    wrong = sum(1 for can, did in pairs if did and can)
    return {
        "abstention_precision": right / abstentions if abstentions and unanswerable else None,
        "abstention_recall": right / unanswerable if unanswerable else None,
        "false_abstention_rate": wrong / answerable_count if answerable_count else None,
    }


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100), linear between closest ranks (numpy's default); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean(values: Sequence[float]) -> float | None:
    """The arithmetic mean, or None for no values."""
    return sum(values) / len(values) if values else None

