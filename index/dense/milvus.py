"""Milvus as the dense store (through llama-index's MilvusVectorStore): Milvus Lite in a local file, or a
cluster at an http(s):// address, holding each passage as a llama-index node with its vector.

Rows are found by passage id, so a new index generation only upserts its new passages and deletes the
ones it dropped (a collection serves every generation of one index folder). With a deep layer, a second
collection holds the deep encoder's passage vectors, for the passages it has reached so far.
"""

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from index.deep import DeepLayer
from index.errors import ConfigError, IndexDamaged
from index.records import Chunk

INSTALL_HINT = "Install the Milvus extra: pip install 'dalil[milvus]' (pymilvus, milvus-lite, " \
               "llama-index-vector-stores-milvus)."


def _vector_store(uri: str, collection: str, dim: int) -> Any:
    try:
        from llama_index.vector_stores.milvus import MilvusVectorStore
    except ImportError as err:
        raise ConfigError(f"--store milvus needs the Milvus client, which is not installed ({err.name}).",
                          INSTALL_HINT) from err
    try:
        # FLAT: exact search, so Milvus returns what FAISS's flat index does; a cluster can be given
        # an HNSW or IVF index_config instead and is then approximate.
        return MilvusVectorStore(uri=uri, collection_name=collection, dim=dim, similarity_metric="IP",
                                 index_config={"index_type": "FLAT", "metric_type": "IP"}, batch_size=1000)
    except Exception as err:  # pymilvus raises its own exception types for every connection problem
        raise IndexDamaged(f"Cannot open the Milvus collection '{collection}' at {uri} "
                           f"({type(err).__name__}: {err}).", "Check --milvus-uri and that Milvus is running.") from err


class MilvusIndex:
    """The dense side of an index in a Milvus collection; passages map back to rows by id."""

    exact = True  # FLAT; see _vector_store

    def __init__(self, uri: str, collection: str, dim: int, ids: list[str]) -> None:
        self.uri, self.collection, self.dim = uri, collection, dim
        self.store = _vector_store(uri, collection, dim)
        self._rows = {chunk_id: row for row, chunk_id in enumerate(ids)}
        self._ids = list(ids)

    def sync(self, chunks: list[Chunk], vectors: np.ndarray, keep: np.ndarray | None = None) -> int:
        """Make the collection hold ``chunks``: insert the missing (only those where ``keep`` holds, if
        given), delete those no longer among them. Returns how many were inserted."""
        rows = range(len(chunks)) if keep is None else np.flatnonzero(keep).tolist()
        current = {chunk.id for chunk in chunks}
        stored = set(self._stored_ids())
        stale = [chunk_id for chunk_id in stored if chunk_id not in current]
        if stale:
            self.store.client.delete(self.collection, ids=stale)
        nodes = []
        for row in (row for row in rows if chunks[row].id not in stored):
            node = chunks[row].to_node()
            node.embedding = vectors[row].tolist()
            nodes.append(node)
        if nodes:
            self.store.add(nodes)
        self.store.client.flush(self.collection)
        self._ids = [chunk.id for chunk in chunks]
        self._rows = {chunk_id: row for row, chunk_id in enumerate(self._ids)}
        return len(nodes)

    def _stored_ids(self) -> list[str]:
        iterator = self.store.client.query_iterator(self.collection, batch_size=10_000, output_fields=["id"])
        ids: list[str] = []
        while batch := iterator.next():
            ids.extend(row["id"] for row in batch)
        iterator.close()
        return ids

    def search(self, query: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        from llama_index.core.vector_stores.types import VectorStoreQuery

        result = self.store.query(VectorStoreQuery(query_embedding=query.astype(np.float32).tolist(),
                                                   similarity_top_k=n))
        # A passage of a newer generation than this reader's is skipped.
        pairs = [(self._rows[i], s) for i, s in zip(result.ids, result.similarities, strict=True) if i in self._rows]
        rows = np.array([r for r, _ in pairs], dtype=np.int64)
        return rows, np.array([s for _, s in pairs], dtype=np.float32)

    def count(self) -> int:
        return len(self._ids)

    def describe(self) -> dict:
        """What the manifest records to find the collection again."""
        return {"kind": "milvus", "uri": self.uri, "collection": self.collection}


def publish(index_dir: Path, chunks: list[Chunk], vectors: np.ndarray, uri: str) -> dict:
    """Sync the index folder's collection to ``chunks``; the manifest entry that finds it again.

    Done before the new generation is published: until it is, readers of the previous one skip passages
    they do not know, and miss the ones this build removed.
    """
    index = MilvusIndex(resolved_uri(uri), collection_name(index_dir), vectors.shape[1], [])
    index.sync(chunks, vectors)
    return index.describe()


def resolved_uri(uri: str) -> str:
    """``uri`` as a manifest records it: a Milvus Lite file by its absolute path (found again from any
    working directory), a server's address as given."""
    if "://" in uri:
        return uri
    if not uri.endswith(".db"):
        raise ConfigError(f"The Milvus Lite file '{uri}' must end in .db.",
                          "Use --milvus-uri ./milvus.db, or http://host:19530 for a Milvus server.")
    return str(Path(uri).resolve())


def publish_deep(dense: dict, chunks: list[Chunk], deep: DeepLayer) -> dict:
    """Add the deep layer's done passages to its collection beside the collection ``dense`` (a manifest's
    entry); the entry with the deep collection's name added.

    Each step of the deep fill calls this before its generation is published. Passages not done are not
    deleted (a layer filled again from the start, after --rebuild, would otherwise empty the collection the
    current generation reads, for as long as its fill takes); only passages the corpus lost are. A reader
    may find a passage it has no deep vector for yet: it scores it as not done. Each deep model has its own
    collection, so changing models never touches the one the current generation reads.
    """
    model = hashlib.sha1(f"{deep.model_id}:{deep.dim}".encode()).hexdigest()[:8]
    collection = f"{dense['collection']}_deep_{model}"
    MilvusIndex(dense["uri"], collection, deep.dim, []).sync(chunks, deep.passages, deep.done)
    return dict(dense, deep_collection=collection)


def collection_name(index_dir: Path) -> str:
    """One collection per index folder, named from its absolute path (Milvus names: letters, digits, _)."""
    return "dalil_" + hashlib.sha1(str(index_dir.resolve()).encode()).hexdigest()[:16]


def store_moved(manifest: dict, milvus_uri: str | None) -> bool:
    """The index is asked to be in another Milvus than it is in, or in one when it is not, or the reverse."""
    if milvus_uri is None:
        return "dense" in manifest
    return (manifest.get("dense") or {}).get("uri") != resolved_uri(milvus_uri)


def name_store(index_dir: Path, manifest: dict, chunks: list[Chunk], vectors: np.ndarray,
               milvus_uri: str | None) -> None:
    """Sync the Milvus collection with ``chunks`` and name it in ``manifest`` (nothing for FAISS alone)."""
    if milvus_uri is None:
        manifest.pop("dense", None)
    else:
        manifest["dense"] = publish(index_dir, chunks, vectors, milvus_uri)


def deep_collection_missing(manifest: dict, deep_id: str | None) -> bool:
    """The index is in Milvus and has a deep layer, but not yet the deep layer's collection there."""
    dense = manifest.get("dense") or {}
    return deep_id is not None and dense.get("kind") == "milvus" and "deep_collection" not in dense
