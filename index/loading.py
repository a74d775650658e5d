"""Loading article files (.txt, .md, .html, .jsonl, folders) into Articles, with clear refusals."""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from index.errors import ArticleError
from index.html_text import html_title_and_text
from index.records import Article

SUPPORTED = (".txt", ".md", ".html", ".htm", ".jsonl")
# A title is the first line of a text file when it is this short and more text follows.
MAX_TITLE_CHARS = 200


@dataclass
class LoadedFile:
    """One source file: its articles, its content hash, and any note for the person indexing."""

    path: Path
    source: str
    sha256: str
    articles: list[Article] = field(default_factory=list)
    note: str = ""
    unchanged: bool = False  # same hash as in the index: not parsed, its passages are reused


def load_if_changed(path: Path, source: str, indexed_sha256: str | None) -> LoadedFile:
    """``load_file``, unless the file's hash is ``indexed_sha256``: then only hashed, not decoded or parsed
    (the 20,000-article JSONL takes ~1.5 s to parse and ~0.15 s to hash)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest == indexed_sha256:
        return LoadedFile(path=path, source=source, sha256=digest, unchanged=True)
    return load_file(path, source)


def find_files(paths: list[Path]) -> list[tuple[Path, str]]:
    """Expand files and folders (recursively) into ``(path, source)`` pairs, in a stable order.

    ``source`` is the name shown in citations: the path relative to the folder given, or the file
    name for a file given directly. Each file comes once, however often it is reached, and each source
    name once (see ``_distinct``).
    """
    found: list[tuple[Path, str, Path]] = []  # (file, source, the path given that reached it)
    for given in paths:
        if not given.exists():
            raise ArticleError(f"{given}: no such file or folder.", "Check the path and try again.")
        if given.is_file():
            if given.suffix.lower() not in SUPPORTED:
                raise ArticleError(f"{given}: Dalil reads {', '.join(SUPPORTED)} files, not '{given.suffix}'.",
                                   "Convert it to one of those, or leave it out.")
            found.append((given, given.name, given))
            continue
        inside = sorted(p for p in given.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED
                        and not any(part.startswith(".") for part in p.relative_to(given).parts))
        if not inside:
            raise ArticleError(f"{given}: the folder holds no {', '.join(SUPPORTED)} files.",
                               "Give a folder with articles in it.")
        found.extend((p, p.relative_to(given).as_posix(), given) for p in inside)
    return _distinct(found)


def _distinct(found: list[tuple[Path, str, Path]]) -> list[tuple[Path, str]]:
    """Each file once, and no two files under one source name.

    A file reached twice (a path given twice, a file inside a folder also given, a symlink to another file
    of the corpus) was indexed twice under the resolved path that keys the manifest, and the next update
    matched passages to the wrong files: articles lost, old versions kept. The real file is kept rather
    than a symlink to it. Two different files with the same source name ("news.txt" in two folders given)
    would share an article id and a citation name: the later one is named with its folder too, or with as
    much of its path as tells it apart.
    """
    by_file: dict[Path, tuple[Path, str, Path]] = {}  # resolved path -> the entry kept, in first-seen order
    for entry in found:
        key = entry[0].resolve()
        if key not in by_file:
            by_file[key] = entry
        elif by_file[key][0].is_symlink() and not entry[0].is_symlink():
            by_file[key] = entry  # keeps the first-seen place in the order
    named: list[tuple[Path, str]] = []
    taken: set[str] = set()
    for key, (path, source, given) in by_file.items():
        source = next(name for name in _names(source, given, key) if name not in taken)
        taken.add(source)
        named.append((path, source))
    return named


def _names(source: str, given: Path, key: Path) -> Iterator[str]:
    """Names for a file, shortest first: its own, with its folder's name, then ever more of its real path."""
    yield source
    yield f"{(given if given.is_dir() else given.parent).resolve().name}/{source}"
    yield from ("/".join(key.parts[-n:]) for n in range(2, len(key.parts) + 1))


def load_file(path: Path, source: str) -> LoadedFile:
    """Read one file into articles. Raises ``ArticleError`` naming the file and what to do."""
    data = path.read_bytes()
    text, note = decode(data, path)
    loaded = LoadedFile(path=path, source=source, sha256=hashlib.sha256(data).hexdigest(), note=note)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        loaded.articles = _jsonl_articles(text, path, source)
    elif suffix in (".html", ".htm"):
        title, body = html_title_and_text(text)
        loaded.articles = [_article(source, 0, title or _first_line_title(body, path), body)]
    else:
        loaded.articles = [_article(source, 0, _first_line_title(text, path), text)]
    for article in loaded.articles:
        if not article.text.strip():
            raise ArticleError(f"{path}: no readable text in it.", "Remove the file or add the article's text.")
    return loaded


def decode(data: bytes, path: Path) -> tuple[str, str]:
    """Bytes to text: UTF-8 first, then Windows-1256 (common for Arabic) when it reads as text.

    Binary files are detected before decoding, because cp1256 decodes any byte sequence.
    """
    if not data.strip():
        raise ArticleError(f"{path}: the file is empty.", "Remove it or add the article's text.")
    if b"\x00" in data[:8192] or _control_share(data[:8192]) > 0.05:
        raise ArticleError(f"{path}: this looks like a binary file, not text.",
                           "Index .txt, .md, .html or .jsonl files only.")
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError:
        pass
    text = data.decode("cp1256", errors="replace")
    if _plausible_text_share(text) >= 0.9:
        return text, f"{path}: not UTF-8; read as Windows-1256 (Arabic). Save it as UTF-8 to silence this."
    raise ArticleError(f"{path}: not UTF-8 and not readable as Windows-1256 Arabic.",
                       "Save the file as UTF-8 and index it again.")


def _control_share(data: bytes) -> float:
    controls = sum(1 for b in data if b < 32 and b not in (9, 10, 12, 13))
    return controls / max(len(data), 1)


def _plausible_text_share(text: str) -> float:
    """Share of characters that are Arabic letters, ASCII printables or white space."""
    good = sum(1 for ch in text if ch.isspace() or (" " <= ch <= "~") or "\u0600" <= ch <= "\u06ff")
    return good / max(len(text), 1)


def _first_line_title(text: str, path: Path) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) > 1 and len(lines[0]) <= MAX_TITLE_CHARS:
        return lines[0].lstrip("#").strip()
    return path.stem


def _article(source: str, number: int, title: str, text: str, metadata: dict | None = None) -> Article:
    digest = hashlib.sha1(f"{source}#{number}".encode()).hexdigest()[:16]
    return Article(id=digest, source=source, title=title, text=text, metadata=metadata or {})


def _jsonl_articles(text: str, path: Path, source: str) -> list[Article]:
    articles = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ArticleError(f"{path}:{number}: not valid JSON ({err.msg}).",
                               'Each line must be one object like {"title": ..., "text": ...}.') from err
        if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not row["text"].strip():
            raise ArticleError(f"{path}:{number}: the line has no \"text\" string.",
                               'Each line must be one object like {"title": ..., "text": ...}.')
        if _has_lone_surrogate(line, row):
            raise ArticleError(f"{path}:{number}: the line escapes a lone surrogate (\\ud800 to \\udfff), "
                               "which is not text.", "Fix that escape, or remove the line.")
        metadata = {k: v for k, v in row.items() if k not in ("title", "text") and _json_scalar(v)}
        title = str(row.get("title") or f"{path.stem} #{number}")
        articles.append(_article(source, number, title, row["text"], metadata))
    if not articles:
        raise ArticleError(f"{path}: the file holds no articles.", "Add one JSON object per line.")
    return articles


def _has_lone_surrogate(line: str, row: dict) -> bool:
    """Whether a JSON escape in ``line`` decoded to a lone surrogate, which no UTF-8 file can hold."""
    if "\\u" not in line:  # only an escape can make one: the line itself was decoded from UTF-8
        return False
    try:
        json.dumps(row, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _json_scalar(value: object) -> bool:
    return isinstance(value, str | int | float | bool) or value is None
