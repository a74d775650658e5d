"""Loading every supported format, and the clear refusals for files that cannot be articles."""

from pathlib import Path

import pytest

from index.errors import ArticleError
from index.loading import find_files, load_file
from tests.conftest import ARTICLES


def load(path: Path):
    return load_file(path, path.name)


def test_folder_is_read_recursively_with_relative_sources() -> None:
    sources = [source for _, source in find_files([ARTICLES])]
    assert sources == ["library_fire.md", "port_expansion.txt", "world/briefs.jsonl", "world/olive_harvest.html"]


def test_txt_title_is_first_line_and_text_is_original() -> None:
    loaded = load(ARTICLES / "port_expansion.txt")
    (article,) = loaded.articles
    assert article.title == "توسعة ميناء الواحة الجديد"
    assert article.text == (ARTICLES / "port_expansion.txt").read_text(encoding="utf-8")
    assert len(loaded.sha256) == 64


def test_markdown_title_drops_the_hash() -> None:
    (article,) = load(ARTICLES / "library_fire.md").articles
    assert article.title == "Fire damages the old library in Karam"


def test_html_keeps_visible_text_only() -> None:
    (article,) = load(ARTICLES / "world" / "olive_harvest.html").articles
    assert article.title == "موسم الزيتون في قرية السنابل"
    assert "250 طنا" in article.text
    assert "tracking" not in article.text and "لا يجب" not in article.text and "color" not in article.text
    assert "\n\n" in article.text  # paragraphs survive


def test_html_leaves_out_what_the_page_hides() -> None:
    from index.html_text import html_title_and_text

    page = ("<html><body><div hidden>Accept cookies <div>to go on</div> reading</div><p>The mill reopened.</p>"
            "<span style='DISPLAY: none'>Menu</span><textarea>Your comment</textarea>"
            "<section style='visibility:hidden'><section>Share</section> this</section>"
            "<p style='display:none'>A paragraph's end tag may be left out, so it is kept.</p>"
            "Farmers came.</body></html>")
    assert html_title_and_text(page)[1] == ("The mill reopened.\n\nA paragraph's end tag may be left out, so it is "
                                            "kept.\n\nFarmers came.")
    # A hidden element left unclosed ends with the element around it, not with the page.
    unclosed = "<nav>Home<span style='display:none'>Menu</nav><article><p>The mill reopened.</p></article>"
    assert html_title_and_text(unclosed)[1] == "Home\n\nThe mill reopened."


def test_jsonl_one_article_per_line_with_metadata() -> None:
    first, second = load(ARTICLES / "world" / "briefs.jsonl").articles
    assert first.title == "Train line to Nour Valley opens"
    assert first.metadata == {"date": "2025-03-14", "url": "https://example.org/briefs/train",
                              "source": "Example Wire"}
    assert second.metadata["date"] == "2025-05-02"
    assert first.id != second.id


def test_cp1256_file_is_read_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "old.txt"
    path.write_bytes("عنوان قديم\n\nخبر مكتوب بترميز ويندوز العربي.".encode("cp1256"))
    loaded = load(path)
    assert loaded.articles[0].title == "عنوان قديم"
    assert "Windows-1256" in loaded.note


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"  \n\t \n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
        (bytes([0x81, 0x8d, 0x8f, 0x90, 0x9d]) * 50, "not UTF-8"),
    ],
)
def test_bad_files_are_refused_naming_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(ArticleError) as caught:
        load(path)
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_malformed_jsonl_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"title": "a", "text": "fine"}\n{"title": "b"\n', encoding="utf-8")
    with pytest.raises(ArticleError, match=r"bad.jsonl:2: not valid JSON"):
        load(path)


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ArticleError, match="no such file or folder"):
        find_files([tmp_path / "nowhere"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArticleError, match="holds no"):
        find_files([tmp_path / "empty"])


def test_unsupported_extension_given_directly(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    path.write_bytes(b"x")
    with pytest.raises(ArticleError, match="not '.png'"):
        find_files([path])
