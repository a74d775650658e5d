"""Extractive answers: the one or two sentences of the top passages that best answer the question."""

import re
from dataclasses import dataclass, replace

import numpy as np

from assistant.question_type import carries_type, expected_type
from assistant.records import Citation, Hit
from assistant.retrieval import zscore
from index.deep import DeepLayer
from index.embedding import DalilEmbedding
from index.lexical import question_tokens, tokenise
from index.normalise import normalise
from index.records import Chunk
from index.sentence_layer import SentenceLayer

# Sentences are taken from this many top passages. 5 rather than 3: the answer is often in the 4th or 5th
# passage when retrieval misses, and the sentence score still favours the top passages (PASSAGE_WEIGHT).
ANSWER_PASSAGES = 5
CLOSEST_PASSAGES = 3  # passages cited when abstaining
# An abstention says so in the question's language (an Arabic question got the English sentence); the LLM is
# told the same words (assistant/prompts.py).
NOT_FOUND = {"en": "The articles do not answer this question.", "ar": "لا تجيب المقالات عن هذا السؤال."}
CLOSEST_LABEL = {"en": "The closest passages are", "ar": "أقرب المقاطع إليه"}
MAX_ANSWER_CHARS = 400
MIN_EXCERPT_CHARS = 40  # the least room worth quoting a runner-up cut short in (40, 80 or 120: the same figures)
MIN_SENTENCE_CHARS = 20  # shorter pieces (datelines, "back to top") are never an answer on their own
# A line of its own this short with no end punctuation, digit or colon is a page's button or label: the seed
# article ends with "زر الذهاب إلى الأعلى" ("back to top" button, 20 characters), which e5 found close to any
# question at all ("How do I bake bread?" was answered with it). No XQuAD or fixture sentence is one.
MIN_LINE_CHARS = 40
_END_PUNCTUATION = (".", "!", "?", "؟", "…", "؛")
# Weights of the sentence score parts (reference fusion: sentence 1, passage 0.5, lexical 0.5), tuned on
# XQuAD articles 00-23 only (docs/quality.md, "Answer step"): the idf-weighted word overlap earns a full
# weight, and a number/date the question asks for outweighs a small cosine lead.
PASSAGE_WEIGHT = 0.5
OVERLAP_WEIGHT = 1.0
TYPE_WEIGHT = 2.0  # a sentence holding a number/date, when the question asks for one
# With a deep layer, the sentence's deep cosine leads and the fast encoder's counts half (XQuAD 00-23,
# English answer_hit 0.743 with the deep cosine alone, 0.775 with both).
FAST_WEIGHT_BESIDE_DEEP = 0.5
# Reranking: a passage's place among the top ones is its fused score plus this times the score of its best
# sentence (without the passage part), so a passage holding one sentence that answers outranks a passage
# that is only about the topic (XQuAD 00-23 hit@1: Arabic 0.927 -> 0.935, English 0.815 -> 0.830; docs/quality.md).
RERANK_WEIGHT = 0.7


@dataclass(frozen=True)
class Candidate:
    """A sentence that could answer, with where it is and how well it scored."""

    hit: Hit
    span: tuple[int, int]
    score: float
    similarity: float  # cosine of question and sentence (the deep encoder's, when there is a deep layer)
    overlap: float  # share of the question's words found in the sentence
    # The highest cosine any sentence of the pool reaches (the same for every candidate of a question): the
    # abstention check's measure of how well the top passages match (assistant/evidence.py).
    pool_similarity: float = 0.0
    own_score: float = 0.0  # ``score`` without its passage's share: how well the sentence alone answers
    deep_scored: bool = False  # ``similarity`` is the deep encoder's cosine (else the fast encoder's)
    coverage: float = 1.0  # share of the question's words found in the corpus: low for a foreign question

    @property
    def text(self) -> str:
        return self.hit.chunk.text[self.span[0]:self.span[1]]


def rank_sentences(question: str, hits: list[Hit], embedder: DalilEmbedding, query_vector: np.ndarray,
                   coverage: float, deep: DeepLayer | None = None, deep_vector: np.ndarray | None = None,
                   sentences: SentenceLayer | None = None, matching: float | None = None) -> list[Candidate]:
    """Every sentence of the top passages, scored and sorted best first.

    ``coverage`` is the share of the question's words found in the corpus: word overlap only counts for
    a question in the corpus's language. ``matching``: the same share for the question's words with their
    Arabic translations (index/lexical.py ``question_tokens``), which weighs the overlap with those in the
    score (default ``coverage``); the candidates keep ``coverage`` and the overlap of the question's own
    words, which the abstention threshold was calibrated on. ``deep``/``deep_vector``: the index's deep
    layer and the question embedded by its encoder, used when every passage of the pool has its deep
    vectors. ``sentences``: the index's stored fast sentence vectors; sentences of passages it does not
    cover yet are embedded here.
    """
    pool = [(hit, number, span) for hit in hits[:ANSWER_PASSAGES] for number, span in enumerate(hit.chunk.sentences)
            if _can_answer(hit.chunk, span)]
    pool = pool or [(hit, number, span) for hit in hits[:1] for number, span in enumerate(hit.chunk.sentences)]
    if not pool:
        return []
    texts = [hit.chunk.text[s:e] for hit, _, (s, e) in pool]
    rows = _deep_rows(pool, deep, deep_vector)
    similarity = _fast_vectors(pool, texts, embedder, sentences) @ query_vector
    meaning = zscore(similarity)
    deep_similarity = None if rows is None else deep.sentences[rows] @ deep_vector
    if deep_similarity is not None:
        meaning = zscore(deep_similarity) + FAST_WEIGHT_BESIDE_DEEP * meaning
        similarity = deep_similarity
    own_words, matched = set(tokenise(question)), set(question_tokens(question))
    token_sets = [set(tokenise(text)) for text in texts]
    overlap = np.array([_overlap(own_words, tokens) for tokens in token_sets], dtype=np.float32)
    lexical = _weighted_overlap(matched, token_sets)
    own = meaning + OVERLAP_WEIGHT * (coverage if matching is None else matching) * zscore(lexical)
    kind = expected_type(question)
    if kind:
        own += TYPE_WEIGHT * np.array([carries_type(kind, text) for text in texts], dtype=np.float32)
    passage = np.array([hit.score for hit, _, _ in pool], dtype=np.float32)
    score = own + PASSAGE_WEIGHT * zscore(passage)
    best_similarity = float(similarity.max())
    deep_scored = deep_similarity is not None
    ranked = [Candidate(hit, span, float(sc), float(sim), float(ov), best_similarity, float(mine), deep_scored,
                        coverage)
              for (hit, _, span), sc, sim, ov, mine in zip(pool, score, similarity, overlap, own, strict=True)]
    return sorted(ranked, key=lambda c: -c.score)


def _fast_vectors(pool: list[tuple[Hit, int, tuple[int, int]]], texts: list[str], embedder: DalilEmbedding,
                  sentences: SentenceLayer | None) -> np.ndarray:
    """The fast encoder's vectors of the pool's sentences: stored where the sentence layer has them (a warm
    answer then embeds nothing), embedded here for the rest."""
    vectors, found = np.zeros((len(pool), embedder.dim), dtype=np.float32), np.zeros(len(pool), bool)
    if sentences is not None and all(hit.row >= 0 for hit, _, _ in pool):
        at = [int(sentences.offsets[hit.row]) + number for hit, number, _ in pool]
        vectors, found = sentences.matrix(embedder.dim, at)
    missing = np.flatnonzero(~found)
    if len(missing):
        vectors[missing] = embedder.embed_passages([texts[i] for i in missing])
    return vectors


def _deep_rows(pool: list[tuple[Hit, int, tuple[int, int]]], deep: DeepLayer | None,
               deep_vector: np.ndarray | None) -> list[int] | None:
    """The deep layer's sentence rows of the pool, or None when the layer does not cover the whole pool."""
    if deep is None or deep_vector is None or not all(hit.row >= 0 and deep.done[hit.row] for hit, _, _ in pool):
        return None
    return [int(deep.offsets[hit.row]) + number for hit, number, _ in pool]


def rerank(hits: list[Hit], ranked: list[Candidate]) -> list[Hit]:
    """The top passages reordered by their fused score plus their best sentence's own score.

    Only passages that gave sentences to ``ranked`` move; the rest keep their places after them.
    """
    best: dict[str, float] = {}
    for cand in ranked:
        best.setdefault(cand.hit.chunk.id, cand.own_score)
    pooled = [hit for hit in hits if hit.chunk.id in best]
    if len(pooled) < 2:
        return hits
    fused = zscore(np.array([hit.score for hit in pooled], dtype=np.float32))
    new_scores = fused + RERANK_WEIGHT * np.array([best[hit.chunk.id] for hit in pooled], dtype=np.float32)
    order = np.argsort(-new_scores, kind="stable")
    moved = [replace(pooled[i], score=float(new_scores[i])) for i in order]
    return moved + [hit for hit in hits if hit.chunk.id not in best]


def _can_answer(chunk: Chunk, span: tuple[int, int]) -> bool:
    """Headlines, fragments and page labels repeat the question's words or say nothing: leave them out."""
    text = chunk.text[span[0]:span[1]]
    return (len(text) >= MIN_SENTENCE_CHARS and text.lstrip("# ").strip() != chunk.title.strip()
            and not _is_label(chunk.text, span))


def _is_label(text: str, span: tuple[int, int]) -> bool:
    """A short line of its own without end punctuation, digits or a colon: a button or a caption. A line such
    as "Workers hired: 1,200 people" is a fact (a list-style article), and stays."""
    before, after = text[:span[0]].rstrip(" \t\r"), text[span[1]:].lstrip(" \t\r")  # \r: Windows line ends
    own_line = (not before or before.endswith("\n")) and (not after or after.startswith("\n"))
    sentence = text[span[0]:span[1]].rstrip("\"'”’»)] \r")
    return (own_line and len(sentence) < MIN_LINE_CHARS and not sentence.endswith(_END_PUNCTUATION)
            and not any(ch.isdigit() or ch in ":：" for ch in sentence))


def _overlap(question_tokens: set[str], tokens: set[str]) -> float:
    if not question_tokens:
        return 0.0
    return len(question_tokens & tokens) / len(question_tokens)


def _weighted_overlap(question_tokens: set[str], token_sets: list[set[str]]) -> np.ndarray:
    """Share of the question's words in each sentence, each word weighted by its idf over the pool.

    The topic's name recurs in most sentences of the top passages and tells them apart poorly; a rarer
    question word (the one a paraphrased answer sentence repeats) counts for more. Idf is taken over the
    pool's sentences, so no corpus statistic is needed.
    """
    if not question_tokens or not token_sets:
        return np.zeros(len(token_sets), dtype=np.float32)
    idf = {t: float(np.log(1 + len(token_sets) / (1 + sum(t in ts for ts in token_sets)))) for t in question_tokens}
    total = sum(idf.values())
    return np.array([sum(idf[t] for t in question_tokens & ts) / total for ts in token_sets], dtype=np.float32)


def choose_sentences(ranked: list[Candidate]) -> list[Candidate]:
    """The best sentence, and the runner-up when it says something else (the same article indexed twice, from
    two folders, once gave one sentence as [1] and [2]).

    A runner-up too long to fit beside the best in ``MAX_ANSWER_CHARS`` is quoted cut short (``compose``) when at
    least ``MIN_EXCERPT_CHARS`` are left for it; else the next sentence that fits whole takes its place. The best
    two sentences were over 400 characters for a fifth of XQuAD's questions, and the runner-up that fitted was
    often a weaker sentence (answer_hit with the excerpt: Arabic tune +1.0, held-out +0.3, English +0.8 / 0.0;
    docs/quality.md).
    """
    if not ranked:
        return []
    best = normalise(ranked[0].text).split()
    others = [other for other in ranked[1:] if normalise(other.text).split() != best]
    room = MAX_ANSWER_CHARS - len(ranked[0].text) - 8  # 8: the two markers and the space between
    if others and (len(others[0].text) <= room or room >= MIN_EXCERPT_CHARS):
        return [ranked[0], others[0]]
    return [ranked[0]] + [other for other in others if len(other.text) <= room][:1]


def compose(chosen: list[Candidate]) -> tuple[str, list[Citation]]:
    """Answer text with a ``[n]`` after each sentence, and the citations those markers point at."""
    citations = [Citation.from_chunk(n, c.hit.chunk, c.span, c.score) for n, c in enumerate(chosen, start=1)]
    parts, room = [], MAX_ANSWER_CHARS
    for n, candidate in enumerate(chosen, start=1):
        quoted = _clip(candidate.text, room)
        parts.append(f"{quoted} [{n}]")
        room -= len(quoted) + 8
    return " ".join(parts), citations


def not_found_answer(arabic: bool, numbers: list[int]) -> str:
    """An abstention's text in the question's language, pointing at the closest passages by number."""
    language = "ar" if arabic else "en"
    markers = " ".join(f"[{n}]" for n in numbers)
    return f"{NOT_FOUND[language]} {CLOSEST_LABEL[language]} {markers}." if numbers else NOT_FOUND[language]


def closest_passages(hits: list[Hit], ranked: list[Candidate], count: int = CLOSEST_PASSAGES) -> list[Citation]:
    """Citations for the closest passages, each pointing at its best sentence (for abstained answers)."""
    best_span: dict[str, tuple[tuple[int, int], float]] = {}
    for cand in ranked:
        best_span.setdefault(cand.hit.chunk.id, (cand.span, cand.score))
    citations = []
    for n, hit in enumerate(hits[:count], start=1):
        span, _ = best_span.get(hit.chunk.id, (hit.chunk.sentences[0], 0.0))
        citations.append(Citation.from_chunk(n, hit.chunk, span, hit.score))
    return citations


# A bracketed number inside an article ("[12]", a footnote or "the [21]st century") would read as one of
# Dalil's citation markers; in the answer's quotation it is written with parentheses instead.
_BRACKETED_NUMBER = re.compile(r"\[(\d+)\]")


def _clip(text: str, limit: int = MAX_ANSWER_CHARS) -> str:
    """A sentence for the answer text: "[12]" written "(12)", cut at a word boundary to ``limit`` characters
    (the " …" that marks the cut included) when longer.

    The citation keeps the sentence exactly as in the article; only the answer's quotation changes.
    """
    text = _BRACKETED_NUMBER.sub(r"(\1)", text)
    if len(text) <= limit:
        return text
    return re.sub(r"\s+\S*$", "", text[:limit - 2]) + " …"
