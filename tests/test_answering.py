"""The answer step's pure parts: idf-weighted word overlap, and the abstention strength."""

from assistant import evidence
from assistant.answering import Candidate, _can_answer, _weighted_overlap
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


def test_the_threshold_depends_on_the_encoder_and_the_questions_language() -> None:
    same, cross = evidence.MIN_STRENGTH["e5-small-q4"]
    assert evidence.threshold("e5-small-q4", False) == same
    assert evidence.threshold("e5-small-q4", True) == cross
    assert evidence.threshold("st:some-model", False) == float("-inf")  # uncalibrated: the type check alone
    # The language pairing is told by script: an Arabic question sharing no word with the articles is
    # still a same-language question.
    assert not evidence.is_cross_language("ما لون السماء؟", "قالت المهندسة إن الأمطار كانت غزيرة.")
    assert evidence.is_cross_language("What colour is the sky?", "قالت المهندسة إن الأمطار كانت غزيرة.")
    assert not evidence.is_cross_language("What colour is the sky?", "The engineer said the rain was heavy.")


def test_rerank_moves_a_passage_with_an_answering_sentence_up() -> None:
    from assistant.answering import rerank

    first = Chunk("a", "a", "a.txt", "T", "About the topic in general.", 0, 27, ((0, 27),))
    second = Chunk("b", "b", "b.txt", "T", "The sentence that answers.", 0, 26, ((0, 26),))
    hits = [Hit(first, 2.0, 0.5, 0.0, 0), Hit(second, 1.8, 0.5, 0.0, 1)]
    ranked = [Candidate(hits[1], (0, 26), 3.0, 0.8, 0.0, own_score=3.0),
              Candidate(hits[0], (0, 27), 0.5, 0.6, 0.0, own_score=0.0)]
    assert [h.chunk.id for h in rerank(hits, ranked)] == ["b", "a"]
    assert [h.chunk.id for h in rerank(hits, ranked[1:])] == ["a", "b"]  # one passage in the pool: unchanged


def test_the_second_sentence_is_not_the_first_again() -> None:
    """The same article indexed from two folders: its sentence is not cited twice, the next one is taken."""
    from assistant.answering import choose_sentences

    text = "The bridge opened on Monday. It cost 4 million dinars."
    copies = [Chunk(name, name, f"{name}/bridge.txt", "T", text, 0, len(text), ((0, 28), (29, len(text))))
              for name in ("a", "b")]
    ranked = [Candidate(Hit(copies[0], 2.0, 0.5, 0.0), (0, 28), 3.0, 0.8, 0.5),
              Candidate(Hit(copies[1], 2.0, 0.5, 0.0), (0, 28), 3.0, 0.8, 0.5),
              Candidate(Hit(copies[0], 2.0, 0.5, 0.0), (29, len(text)), 1.0, 0.5, 0.2)]
    assert [c.text for c in choose_sentences(ranked)] == ["The bridge opened on Monday.", "It cost 4 million dinars."]


def _ranked(*sentences: str) -> list[Candidate]:
    """Candidates for ``sentences`` of one passage, best first."""
    text, spans = "", []
    for sentence in sentences:
        spans.append((len(text), len(text) + len(sentence)))
        text += sentence + " "
    chunk = Chunk("c", "a", "a.txt", "T", text.strip(), 0, len(text.strip()), tuple(spans))
    return [Candidate(Hit(chunk, 1.0, 0.5, 0.0), span, 3.0 - i, 0.8, 0.5) for i, span in enumerate(spans)]


def test_a_runner_up_too_long_to_fit_is_quoted_cut_short() -> None:
    from assistant.answering import choose_sentences, compose

    best, runner_up, short = "A" * 299 + ".", "The port will cost " + "eight million dinars " * 12 + "in all.", "Short."
    chosen = choose_sentences(_ranked(best, runner_up, short))
    assert [c.text for c in chosen] == [best, runner_up]  # not the weaker sentence that would fit whole
    text, citations = compose(chosen)
    assert text.startswith(f"{best} [1] The port will cost eight million") and text.endswith(" … [2]")
    assert len(text.replace(" [1]", "").replace(" [2]", "")) <= 400
    assert citations[1].text[citations[1].start:citations[1].end] == runner_up  # the citation keeps it whole
    # With less than MIN_EXCERPT_CHARS left beside the best, the next sentence that fits whole is taken.
    longer = "B" * 370 + "."
    assert [c.text for c in choose_sentences(_ranked(longer, runner_up, short))] == [longer, short]


def test_a_short_line_without_end_punctuation_is_never_an_answer() -> None:
    text = "قال رئيس البلدية إن الأشغال ستبدأ في مارس.\nزر الذهاب إلى الأعلى\nوصل الوفد صباح اليوم."
    sentence, button, short = (0, 42), (43, 63), (64, len(text))
    assert text[button[0]:button[1]] == "زر الذهاب إلى الأعلى"
    chunk = Chunk("c", "a", "a.txt", "عنوان", text, 0, len(text), (sentence, button, short))
    assert _can_answer(chunk, sentence)
    assert not _can_answer(chunk, button)  # a page's "back to top" button, 20 characters
    assert _can_answer(chunk, short)  # as short, but a sentence: it ends with a full stop
    # The same with Windows line ends; and a short fact line of a list-style article is an answer.
    crlf = text.replace("\n", "\r\n")
    spans = (sentence, (button[0] + 1, button[1] + 1), (short[0] + 2, short[1] + 2))
    assert crlf[spans[1][0]:spans[1][1]] == "زر الذهاب إلى الأعلى"
    assert not _can_answer(Chunk("c", "a", "a.txt", "عنوان", crlf, 0, len(crlf), spans), spans[1])
    facts = "The ministry published the figures.\nWorkers hired: 1,200 people\nBudget: 4.5 billion dinars"
    lines = ((0, 35), (36, 63), (64, len(facts)))
    assert [facts[a:b] for a, b in lines][1] == "Workers hired: 1,200 people"
    assert all(_can_answer(Chunk("c", "a", "a.txt", "T", facts, 0, len(facts), lines), line) for line in lines)
