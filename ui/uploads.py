"""Accepting an uploaded article file: allowed type, size limit, a safe name inside the uploads folder.

Nothing here touches the index. ``accept_upload`` either refuses the file with an ``ArticleError`` (the
uploads folder unchanged) or leaves it, checked readable, under a new safe name in the folder.
"""

import hashlib
import os
import re
import uuid
from pathlib import Path

from index.errors import ArticleError
from index.loading import SUPPORTED, load_file

MAX_NAME_CHARS = 80
UNSAFE = re.compile(r"[^\w.\-]+")  # \w is Unicode: Arabic file names stay readable


class UploadTooLarge(ArticleError):
    """The file is over the configured size limit."""


class UnsupportedType(ArticleError):
    """The file is not one of the article formats Dalil reads."""


def safe_name(filename: str) -> str:
    """A plain file name for ``filename``: no folders, no leading dots, only word characters, ``.``, ``-``.

    ``../../etc/passwd.txt`` becomes ``passwd.txt`` and ``..\\\\x.txt`` becomes ``x.txt``.
    """
    base = re.split(r"[\\/]", filename or "")[-1]
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = UNSAFE.sub("_", stem).strip("._-")[:MAX_NAME_CHARS] or "article"
    ext = UNSAFE.sub("", ext).lower()
    return f"{stem}.{ext}" if ext else stem


def check_type(filename: str) -> str:
    """The safe name of an upload, or ``UnsupportedType`` when its extension is not an article format."""
    name = safe_name(filename)
    if Path(name).suffix.lower() not in SUPPORTED:
        raise UnsupportedType(f"'{filename}' is not an article file: Dalil reads {', '.join(SUPPORTED)} files.",
                              "Convert it to one of those and upload it again.")
    return name


def check_size(size: int, limit: int) -> None:
    if size > limit:
        raise UploadTooLarge(f"The file is {size:,} bytes; the upload limit is {limit:,} bytes.",
                             "Split it into smaller files, or raise DALIL_MAX_UPLOAD_BYTES.")


def accept_upload(folder: Path, filename: str, data: bytes, limit: int) -> tuple[Path, bool]:
    """Check the upload and store it in ``folder`` under a safe, unused name.

    Returns:
        ``(path, new)``: where the file is, and False when an identical file was already there.
    Raises:
        ArticleError: wrong type, too large, empty, binary or unreadable (nothing is stored).
    """
    name = check_type(filename)
    check_size(len(data), limit)
    folder.mkdir(parents=True, exist_ok=True)
    same = _identical(folder, name, data)
    if same is not None:
        return same, False
    # Written under a hidden name first: the indexer skips dot-files, so a half-written upload is never read.
    incoming = folder / f".incoming-{uuid.uuid4().hex}{Path(name).suffix}"
    incoming.write_bytes(data)
    try:
        try:  # the same checks as `dalil index`: empty, binary, not UTF-8, bad JSONL
            load_file(incoming, name)
        except ArticleError as err:
            raise ArticleError(err.message.replace(str(incoming), f"'{name}'"),
                               "Upload a UTF-8 text file that holds the article's text.") from None
        target = _unused(folder, name)
        os.replace(incoming, target)
    finally:
        incoming.unlink(missing_ok=True)
    if target.resolve().parent != folder.resolve():  # belt and braces: safe_name already forbids this
        target.unlink(missing_ok=True)
        raise ArticleError(f"'{filename}' cannot be stored safely.", "Rename the file and upload it again.")
    return target, True


def _identical(folder: Path, name: str, data: bytes) -> Path | None:
    """The file in ``folder`` named like ``name`` (or ``name-2`` ...) holding exactly ``data``, if any."""
    digest = hashlib.sha256(data).hexdigest()
    stem, suffix = Path(name).stem, Path(name).suffix
    for path in [folder / name, *sorted(folder.glob(f"{stem}-*{suffix}"))]:
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == digest:
            return path
    return None


def _unused(folder: Path, name: str) -> Path:
    stem, suffix = Path(name).stem, Path(name).suffix
    target, n = folder / name, 1
    while target.exists():
        n += 1
        target = folder / f"{stem}-{n}{suffix}"
    return target
