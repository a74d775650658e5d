"""Running an index build for a surface: which paths, which embedder, and a progress bar."""

from pathlib import Path

from assistant.settings import Settings
from index.build import BuildReport, Progress, build_index
from index.embedding import DEFAULT_EMBEDDER, load_embedder
from index.errors import ConfigError, IndexDamaged
from index.store import manifest_to_update


def run_index(settings: Settings, paths: list[Path], *, rebuild: bool = False,
              skip_bad: bool = False) -> BuildReport:
    """Build or update the index in ``settings.index_dir`` from ``paths`` (default: the index's own)."""
    manifest = _manifest(settings.index_dir, rebuild, paths)
    if not paths:
        paths = [Path(p) for p in manifest["paths"]] if manifest else [settings.seeds_dir]
    name = settings.embed_model
    if name is None and manifest:
        from assistant.qa import model_name_for

        name = model_name_for(manifest["embedder"]["id"])
    from assistant.qa import deep_model_for, load_deep_embedder

    embedder = load_embedder(name or DEFAULT_EMBEDDER)
    deep_model = deep_model_for(settings, manifest)
    return build_index(paths, settings.index_dir, embedder, rebuild=rebuild, skip_bad=skip_bad,
                       progress=progress_bar("Embedding (fast layer)", unit="text"),
                       sentence_progress=progress_bar("Sentence vectors"),
                       deep_embedder=load_deep_embedder(deep_model),
                       deep_progress=progress_bar(f"Deep layer ({deep_model})"),
                       milvus_uri=milvus_uri(settings, manifest))


def _manifest(index_dir: Path, rebuild: bool, paths: list[Path]) -> dict | None:
    """The current index's manifest (its paths and models are the defaults), or None when there is none, or
    when it is damaged and a rebuild from the paths given replaces it (what the damage message tells to run)."""
    try:
        return manifest_to_update(index_dir)
    except IndexDamaged as err:
        if not rebuild:
            raise
        if not paths:
            raise IndexDamaged(f"{err.message} The paths it was built from are lost with it.",
                               f"Give them: `dalil index --rebuild --index-dir {index_dir} PATH...`.") from err
        return None


def milvus_uri(settings: Settings, manifest: dict | None) -> str | None:
    """The Milvus to write to: as asked, else as the index was built; None for FAISS alone."""
    built = (manifest or {}).get("dense") or {}
    store = settings.store or built.get("kind", "faiss")
    if store != "milvus":
        return None
    uri = settings.milvus_uri or built.get("uri")
    if not uri:
        raise ConfigError("--store milvus needs --milvus-uri.",
                          "Give a Milvus Lite file (--milvus-uri ./milvus.db) or a server (http://host:19530).")
    return uri


def progress_bar(label: str, unit: str = "passage") -> Progress:
    """A progress callback drawing a tqdm bar on stderr (only once there is work to show)."""
    state: dict = {}

    def update(done: int, total: int) -> None:
        from tqdm import tqdm

        if "bar" not in state:
            state["bar"] = tqdm(total=total, desc=label, unit=unit, leave=False, dynamic_ncols=True)
        bar = state["bar"]
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update
