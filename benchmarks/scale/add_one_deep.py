"""Adding one article to an index with a deep layer: the time until its generation is published, and the
bytes written by then. The deep fill that follows (hours at 20,000 articles) is stopped with SIGINT.

Run:  .venv/bin/python benchmarks/scale/add_one_deep.py CORPUS INDEX_DIR N [CODE]
`dalil index CORPUS new-1.jsonl ... new-N.jsonl` (corpus.new_article's files; the index's deep layer kept),
run from CODE's checkout (default: this one) with this checkout's Python, as add_one.sh does.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import corpus

HERE = Path(__file__).resolve().parents[2]
CHILD = 'import sys; sys.path.insert(0, "."); sys.argv[0] = "dalil"; from assistant.cli import main; sys.exit(main())'


def written(pid: int) -> int:
    """Bytes the process has passed to write() so far."""
    return int(dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())["wchar"])


def main() -> None:
    corpus_path, index_dir, n = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    code = sys.argv[4] if len(sys.argv) > 4 else str(HERE)
    new = Path(os.environ.get("DALIL_ADD_ONE_DIR", "/tmp/dalil-add-one"))
    files = [str(corpus.new_article(new, number)) for number in range(1, n + 1)]
    before, load = os.readlink(index_dir / "current"), open("/proc/loadavg").read().split()[:3]
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, "index", corpus_path, *files, "--index-dir", str(index_dir)],
                            cwd=code, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=dict(os.environ, HF_HUB_OFFLINE="1"),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # not ignored
    while os.readlink(index_dir / "current") == before and proc.poll() is None:
        time.sleep(0.01)
    published, bytes_written = time.monotonic() - start, written(proc.pid)
    proc.send_signal(signal.SIGINT)
    proc.communicate()
    print(f"{Path(code).name} N={n} published after {published:.2f} s, {bytes_written / 1e6:.0f} MB written, "
          f"load {' '.join(load)}")


if __name__ == "__main__":
    main()
