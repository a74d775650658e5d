"""Chunking: passages follow paragraphs and keep exact sentence spans into the article."""

from index.chunking import ArabicPassageParser, article_document, chunk_article
from index.loading import load_file
from index.records import Article, Chunk
from tests.conftest import ARTICLES, SEEDS


def test_every_sentence_span_points_at_the_article_text() -> None:
    for path in [*ARTICLES.rglob("*.*"), *SEEDS.glob("*.txt")]:
        if path.suffix not in (".txt", ".md", ".html", ".jsonl"):
            continue
        for article in load_file(path, path.name).articles:
            for chunk in chunk_article(article):
                assert chunk.text == article.text[chunk.start:chunk.end]
                for s, e in chunk.sentences:
                    assert chunk.text[s:e].strip() == chunk.text[s:e] != ""


def test_paragraphs_are_passages_and_short_title_joins_the_next() -> None:
    first = "جملة أولى في الفقرة الأولى وهي طويلة بما يكفي لتكون فقرة. " * 3
    second = "فقرة ثانية منفصلة عن الأولى تماما وهي كذلك طويلة بما يكفي لتقف وحدها هنا. " * 2
    text = "عنوان قصير\n\n" + first + "\n\n" + second
    chunks = chunk_article(Article(id="a", source="a.txt", title="t", text=text))
    assert len(chunks) == 2
    assert chunks[0].text.startswith("عنوان قصير")
    assert chunks[1].text.startswith("فقرة ثانية")


def test_long_paragraph_is_cut_between_sentences() -> None:
    sentence = "هذه جملة متوسطة الطول عن موضوع محلي في المدينة. "
    text = sentence * 60
    chunks = chunk_article(Article(id="a", source="a.txt", title="t", text=text), max_chars=300)
    assert len(chunks) > 5
    assert all(len(c.text) <= 300 for c in chunks)
    assert "".join(c.text for c in chunks).replace(" ", "") == text.replace(" ", "")


def test_chunk_round_trips_through_a_llama_index_node() -> None:
    (article,) = load_file(ARTICLES / "library_fire.md", "library_fire.md").articles
    chunk = chunk_article(article)[0]
    assert Chunk.from_node(chunk.to_node()) == chunk


def test_llama_index_parser_gives_the_same_passages() -> None:
    (article,) = load_file(ARTICLES / "port_expansion.txt", "port_expansion.txt").articles
    nodes = ArabicPassageParser().get_nodes_from_documents([article_document(article)])
    assert [n.text for n in nodes] == [c.text for c in chunk_article(article)]
    assert nodes[0].metadata["source"] == "port_expansion.txt"
