"""`evaluate` on the real fixture assistant, gold-file checks, and `dalil eval` end to end."""

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.evaluation import GoldError, evaluate, load_gold
from tests.conftest import ARTICLES, DATA, SEEDS

GOLD = DATA / "questions.jsonl"
QUESTION_KEYS = {"id", "question", "answer", "abstained", "citations", "first_hit_rank", "answer_hit",
                 "answer_f1", "latency_ms"}


def write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "gold.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = '{"id": "a", "question": "Who?", "answers": ["x"]}'


def test_load_gold_defaults_and_ignored_fields(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD, "",
                 '{"id": 7, "question": " لماذا؟ ", "answers": [], "source": null, "context": "ignored"}')
    first, second = load_gold(path)
    assert (first.id, first.answers, first.answerable, first.source, first.line) == ("a", ("x",), True, None, 1)
    assert (second.id, second.question, second.answerable, second.line) == ("7", "لماذا؟", False, 3)


def test_a_gold_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # as some Windows editors save UTF-8
    assert [q.id for q in load_gold(path)] == ["a"]


@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ('{"id": "b", "question": "Who?", "answers": ["x"]', "line 2: not valid JSON"),
        ('["b", "Who?"]', "line 2: not a JSON object"),
        ('{"id": "b", "answers": ["x"]}', "line 2: 'question' is missing"),
        ('{"id": "b", "question": "Who?", "answers": "x"}', "line 2: 'answers' must be a list"),
        ('{"id": "b", "question": "Who?", "answers": [""]}', "line 2: 'answers' must be a list"),
        ('{"question": "Who?", "answers": ["x"]}', "line 2: 'id' is missing"),
        ('{"id": "b", "question": "Who?", "answers": [], "answerable": true}', "line 2: 'answerable' is true"),
        ('{"id": "b", "question": "Who?", "answers": ["x"], "answerable": "yes"}', "line 2: 'answerable' must be"),
        ('{"id": "b", "question": "Who?", "answers": ["x"], "source": 3}', "line 2: 'source' must be"),
        ('{"id": "b", "question": "Who?", "answers": ["x"], "context": 3}', "line 2: 'context' must be"),
        ('{"id": "a", "question": "Who?", "answers": ["x"]}', "line 2: id 'a' repeats line 1"),
        ('{"id": "b", "question": "' + "x" * 2001 + '", "answers": ["x"]}', "line 2: the question is 2,001"),
    ],
)
def test_malformed_gold_names_its_line(tmp_path: Path, bad_line: str, message: str) -> None:
    with pytest.raises(GoldError, match=message):
        load_gold(write(tmp_path, GOOD, bad_line), max_question_chars=2000)


def test_empty_or_missing_gold_file(tmp_path: Path) -> None:
    with pytest.raises(GoldError, match="holds no questions"):
        load_gold(write(tmp_path, "", "  "))
    with pytest.raises(GoldError, match="Cannot read the gold file"):
        load_gold(tmp_path / "nope.jsonl")


@pytest.mark.slow
def test_evaluate_the_fixture_assistant(fixture_assistant) -> None:
    gold = load_gold(GOLD)
    report = evaluate(gold, fixture_assistant, ks=(1, 3), groups={"port": ["port_*"]})
    m = report.metrics
    assert (m["questions"], m["answerable"], m["unanswerable"]) == (16, 11, 5)
    assert m["hit@1"] <= m["hit@3"] <= 1.0 and m["hit@1"] <= m["mrr@10"] <= m["hit@3"] + 1e-9
    assert m["markers_ok"] == 1.0  # every marker the assistant writes points at a citation
    assert m["answer_hit"] >= 0.8 and m["citation_ok"] >= m["answer_hit"] - 1e-9
    # 2 of the 5 unanswerable abstain (the 3 known misses are strict xfails in test_qa.py), no answerable one
    assert m["abstention_recall"] >= 0.4 and m["abstention_precision"] == 1.0 and m["false_abstention_rate"] == 0.0
    counts = {lang: v["questions"] for lang, v in report.by_language.items()}
    assert counts == {"arabic": 7, "other": 9}
    assert report.by_group["port"]["questions"] == 5
    assert report.config["embedder"]["id"] == "use-m3" and report.config["k"] == [1, 3]
    assert len(report.config["corpus"]["fingerprint"]) == 16 and report.notes == []
    assert {row["id"] for row in report.questions} == {g.id for g in gold}
    for row in report.questions:
        assert QUESTION_KEYS <= row.keys() and row["latency_ms"] > 0
        assert not (row["abstained"] and row["answer_hit"])  # an abstained answer never counts


@pytest.mark.slow
def test_cli_end_to_end(tmp_path: Path, fixture_index: Path) -> None:
    runner = CliRunner()
    out, md, png = tmp_path / "r" / "report.json", tmp_path / "report.md", tmp_path / "curve.png"
    # --deep-model none: the fixture index compared with below has no deep layer either.
    first = runner.invoke(main, ["eval", "--gold", str(GOLD), "--corpus", str(ARTICLES), "-k", "1,5",
                                 "--deep-model", "none",
                                 "--out", str(out), "--md", str(md), "--plot", str(png)])
    assert first.exit_code == 0, first.output
    assert "hit@5" in first.output and "16 questions in" in first.output
    report = json.loads(out.read_text(encoding="utf-8"))
    assert list(report) == ["metrics", "by_language", "config", "questions"]
    assert {"embedder", "k", "fusion", "answer", "corpus", "dalil_version", "git_commit"} <= report["config"].keys()
    assert report["config"]["gold"]["questions"] == 16 and report["config"]["seconds"]["index"] > 0
    assert QUESTION_KEYS <= report["questions"][0].keys()
    assert "## Metrics" in md.read_text(encoding="utf-8")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The existing index this time (same articles, same embedder), compared with the first run.
    again = runner.invoke(main, ["eval", "--gold", str(GOLD), "--index-dir", str(fixture_index), "-k", "1,5",
                                 "--compare", str(out)])
    assert again.exit_code == 0, again.output
    assert "Change against" in again.output
    assert any(line.split()[:4] == ["hit@1", f"{report['metrics']['hit@1']:.3f}",
                                    f"{report['metrics']['hit@1']:.3f}", "+0.000"]
               for line in again.output.splitlines())
    assert "arabic/hit@5" in again.output and "differs" not in again.output


def test_eval_corpus_leaves_the_dalil_index_dir_index_alone(tmp_path: Path, fixture_index: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """DALIL_INDEX_DIR names the user's own index: an evaluation of another corpus builds in a temp folder."""
    own = tmp_path / "own-index"
    shutil.copytree(fixture_index, own, symlinks=True)
    generation = (own / "current").resolve().name
    monkeypatch.setenv("DALIL_INDEX_DIR", str(own))
    seeds_gold = write(tmp_path, json.dumps({"id": "q1", "question": "What guarantees did Washington offer Algeria?",
                                            "answers": ["ضمانات جادة"]}, ensure_ascii=False))
    result = CliRunner().invoke(main, ["eval", "--gold", str(seeds_gold), "--corpus", str(SEEDS),
                                       "--deep-model", "none", "-k", "1"])
    assert result.exit_code == 0, result.output
    assert (own / "current").resolve().name == generation and sorted(p.name for p in own.glob("gen-*")) == [generation]


def test_cli_bad_gold_stops_before_any_work(tmp_path: Path) -> None:
    gold = write(tmp_path, GOOD, '{"id": "b", "question": "Who?"}')
    index_dir = tmp_path / "index"
    result = CliRunner().invoke(main, ["eval", "--gold", str(gold), "--corpus", str(ARTICLES),
                                       "--index-dir", str(index_dir)])
    assert result.exit_code == 1
    assert "gold.jsonl line 2: 'answers' must be a list" in result.output
    assert not index_dir.exists()  # nothing was indexed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-k", "0,5"], "-k '0,5' is not a list of numbers"),
        (["--group", "nameonly"], "is not NAME=GLOB"),
        (["--compare", "/no/such/report.json"], "Cannot read the report to compare with"),
        ([], "No index at"),
        (["--out", "/tmp"], "/tmp is a folder"),  # refused before any question is asked, not after
    ],
)
def test_cli_bad_options_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["eval", "--gold", str(GOLD), "--index-dir", str(tmp_path / "none"), *args])
    assert result.exit_code == 1 and message in result.output
