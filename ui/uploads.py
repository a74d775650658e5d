"""Accepting an uploaded article file: allowed type, size limit, a safe name inside the uploads folder.

Nothing here touches the index. ``check_upload`` either refuses the file with an ``ArticleError`` (the
uploads folder unchanged) or leaves it, checked readable, under a hidden name; ``place_upload`` (run by the
one index worker, so folder changes never interleave) gives it its safe name.
"""

import hashlib
import os
import re
import uuid
from pathlib import Path

from index.errors import ArticleError, IndexError_
from index.loading import SUPPORTED, load_file

MAX_NAME_CHARS = 80
INCOMING = ".incoming-"  # prefix of a checked upload waiting for the index worker
UNSAFE = re.compile(r"[^\w.\-]+")  # \w is Unicode: Arabic file names stay readable


class UploadTooLarge(ArticleError):
    """The file is over the configured size limit."""


class UnsupportedType(ArticleError):
    """The file is not one of the article formats Dalil reads."""


class UploadFolderError(IndexError_):
    """The server cannot store uploads in its uploads folder (a file of that name, a read-only disk)."""


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


def check_upload(folder: Path, filename: str, data: bytes, limit: int) -> tuple[Path, str]:
    """Check an upload and keep it in ``folder`` under a hidden name until the index worker places it.

    Returns:
        ``(incoming, name)``: the hidden file holding ``data``, and the safe name it is to be stored under.
    Raises:
        ArticleError: wrong type, too large, empty, binary or unreadable (nothing is stored).
    """
    name = check_type(filename)
    check_size(len(data), limit)
    # A hidden name: the indexer skips dot-files, so an upload is never read before it is placed.
    incoming = folder / f"{INCOMING}{uuid.uuid4().hex}{Path(name).suffix}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        incoming.write_bytes(data)
    except OSError as err:
        if folder.is_dir():  # a write cut short (a full disk): leave nothing behind
            incoming.unlink(missing_ok=True)
        reason = "it is a file" if folder.is_file() else err.strerror
        raise UploadFolderError(f"The server cannot store uploads in {folder}: {reason}.",
                                "Set DALIL_UPLOAD_DIR to a folder the server can write to, and restart it.") from None
    try:  # the same checks as `dalil index`: empty, binary, not UTF-8, bad JSONL
        load_file(incoming, name)
    except ArticleError as err:
        incoming.unlink(missing_ok=True)
        raise ArticleError(err.message.replace(str(incoming), f"'{name}'"),
                           "Upload a UTF-8 text file that holds the article's text.") from None
    return incoming, name


def place_upload(incoming: Path, name: str, parked: Path) -> tuple[Path, Path | None]:
    """Move a checked upload to ``name`` in its folder; a file already there is moved to ``parked``.

    An upload under the name of an earlier one replaces it (the portal's way to correct an article);
    the earlier file waits, hidden, at ``parked`` until the index is updated, so a failure can put it back.
    Returns:
        ``(path, parked or None)``.
    """
    folder = incoming.parent
    target = folder / name
    if target.resolve().parent != folder.resolve():  # belt and braces: safe_name already forbids this
        incoming.unlink(missing_ok=True)
        raise ArticleError(f"'{name}' cannot be stored safely.", "Rename the file and upload it again.")
    moved = None
    if target.exists():
        os.replace(target, parked)
        moved = parked
    os.replace(incoming, target)
    return target, moved


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
