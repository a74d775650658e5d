"""The benchmark's inputs: corpus subsets written outside the repo, questions from titles, one new article."""

import json
import random
from pathlib import Path

# The 20,000 real articles (timing only; read in place, never copied into the repo).
NEWS = Path(__file__).resolve().parents[3] / "shared" / "data" / "news_ar" / "articles.jsonl"


def read_articles(path: Path, limit: int) -> list[dict]:
    """The first ``limit`` articles of a JSONL file."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if len(rows) == limit:
                break
            if line.strip():
                rows.append(json.loads(line))
    return rows


def write_subset(rows: list[dict], folder: Path) -> Path:
    """The articles as one JSONL file in ``folder`` (a temp folder: the corpus never enters the repo)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "articles.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps({"title": row["title"], "text": row["text"]}, ensure_ascii=False) + "\n")
    return path


def questions_from_titles(rows: list[dict], count: int, seed: int = 6) -> list[str]:
    """``count`` questions made from the titles of articles spread over the corpus (fixed seed)."""
    rng = random.Random(seed)
    titles = [r["title"].strip() for r in rows if r.get("title", "").strip()]
    picked = [titles[rng.randrange(len(titles))] for _ in range(count)]
    # Alternate forms, so questions are not all the bare headline.
    forms = ["{}", "ما الذي حدث بشأن {}؟", "ماذا قيل عن {}؟", "{}؟"]
    return [forms[i % len(forms)].format(title.rstrip("؟?.")) for i, title in enumerate(picked)]


def new_article(folder: Path, number: int = 1) -> Path:
    """One short article of our own, in its own file: what an upload adds to the archive."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"new-{number}.jsonl"
    text = (f"افتتحت البلدية اليوم الجسر الجديد رقم {number} فوق نهر الملح بعد عامين من الأشغال.\n\n"
            "وقال رئيس البلدية إن الجسر سيخفف الازدحام في وسط المدينة ويختصر الطريق إلى الميناء.\n\n"
            "The new bridge cost 12 million and carries two lanes in each direction.")
    row = {"title": f"افتتاح الجسر الجديد {number}", "text": text}
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
