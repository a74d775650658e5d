"""Damaged index files: each file of the index truncated, zeroed or deleted in turn, seen by `dalil ask` and the server.

Run:  .venv/bin/python -m benchmarks.faults.damage
Builds an index of 40 generated articles in a temp folder. For every file of the index and every kind of
damage: `dalil ask` (a new process) must exit non-zero with one line naming the file and `--rebuild`; a
running server (started on the whole index) must keep answering from the copy it verified at load, report
the damage in GET /api/health, refuse an upload with a JSON 4xx naming the file, and never reply 5xx.
Writes benchmarks/results/faults_damage.json.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from benchmarks.faults.results import save
from index.store import current_generation

DAMAGES = ("truncate", "zero", "delete")
UPLOAD = ("lanterns.txt", b"Lantern festival\n\nThe lantern festival opens on Thursday at the old fish market.\n")


def index_files(index_dir: Path) -> list[str]:
    """Every file of the current generation, relative to it (manifest, passages, vectors, BM25 parts)."""
    folder = current_generation(index_dir)
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def damage(path: Path, how: str) -> None:
    if how == "delete":
        path.unlink()
    elif how == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_bytes(b"\x00" * path.stat().st_size)


def names_the_problem(message: str, name: str) -> bool:
    """The message names the damaged file (or the manifest that vouches for it) and says to rebuild."""
    return (name in message or "manifest.json" in message) and "--rebuild" in message


def check_cli(index_dir: Path, name: str) -> dict:
    """`dalil ask` on the damaged index: exit status and whether its one line names the file."""
    dalil = Path(sys.executable).parent / "dalil"
    result = subprocess.run([str(dalil), "ask", "When does the festival open?", "--index-dir", str(index_dir)],
                            capture_output=True, text=True, timeout=300, env={"HF_HUB_OFFLINE": "1", "PATH": ""})
    lines = result.stderr.strip().splitlines()
    return {"exit": result.returncode, "answered": bool(result.stdout.strip()), "lines": len(lines),
            "named": names_the_problem(result.stderr, name)}


def check_server(http: httpx.Client, name: str, expected: dict) -> dict:
    """The running server: health reports the damage, an upload is refused naming it, answers are unchanged."""
    health = http.get("/api/health")
    upload = http.post("/api/articles", params={"wait": True}, files={"file": UPLOAD})
    asked = http.post("/api/ask", json={"question": expected["question"]})
    answer = {k: v for k, v in asked.json().items() if k != "timings_ms"} if asked.status_code == 200 else None
    return {"health": health.status_code, "health_named": names_the_problem(health.json().get("problem", ""), name),
            "upload": upload.status_code, "upload_named": names_the_problem(upload.json().get("error", ""), name),
            "answer_unchanged": answer == expected,
            "statuses_5xx": sum(r.status_code >= 500 for r in (health, upload, asked))}


def trial_ok(result: dict) -> bool:
    cli, server = result["cli"], result["server"]
    cli_ok = cli is None or (cli["exit"] != 0 and cli["named"] and not cli["answered"] and cli["lines"] == 1)
    return cli_ok and server["health_named"] and server["upload"] == 422 and server["upload_named"] \
        and server["answer_unchanged"] and server["statuses_5xx"] == 0


def run_all(index_dir: Path, http: httpx.Client, expected: dict, with_cli: bool = True) -> list[dict]:
    """Damage each file in each way in turn (restoring it after), checking the CLI and the server."""
    results = []
    for name in index_files(index_dir):
        path = current_generation(index_dir) / name
        pristine = path.read_bytes()
        for how in DAMAGES:
            damage(path, how)
            cli = check_cli(index_dir, name) if with_cli else None
            result = {"file": name, "damage": how, "cli": cli, "server": check_server(http, name, expected)}
            results.append(result | {"ok": trial_ok(result)})
            path.write_bytes(pristine)
    return results


def main() -> None:
    from assistant.qa import Assistant
    from assistant.settings import Settings
    from benchmarks.faults.corpus import write_corpus
    from benchmarks.faults.live import serving
    from index.build import build_index
    from index.embedding import load_embedder
    from index.store import load_index
    from ui.server import create_app

    embedder = load_embedder("use")
    with tempfile.TemporaryDirectory(prefix="dalil-damage-") as tmp:
        index_dir = Path(tmp) / "index"
        build_index([write_corpus(Path(tmp) / "corpus", 40)], index_dir, embedder)
        config = Settings(index_dir=index_dir)
        assistant = Assistant(load_index(index_dir), embedder, config)
        expected = {k: v for k, v in assistant.answer("When does the festival open?").to_json().items()
                    if k != "timings_ms"}
        with serving(create_app(assistant, config)) as url, httpx.Client(base_url=url, timeout=300) as http:
            results = run_all(index_dir, http, expected)
    figures = {"files": len({r["file"] for r in results}), "trials": len(results),
               "failures": sum(not r["ok"] for r in results), "results": results}
    out = save("faults_damage", figures, {k: v for k, v in figures.items() if k != "results"})
    bad = [r for r in results if not r["ok"]]
    print(json.dumps(bad[:5], indent=1))
    if bad:
        raise SystemExit(f"{len(bad)} failed trials: see {out}")


if __name__ == "__main__":
    main()
