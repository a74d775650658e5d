#!/usr/bin/env bash
# Time adding one article, as benchmarks/scale/run.py does: `dalil index CORPUS new-1.jsonl ... new-N.jsonl
# --deep-model none` (run N adds the N-th file; each is corpus.new_article's). CODE (default: this checkout)
# is the code run, always with this checkout's .venv: two checkouts, before and after a change, can then be
# compared in one session on two copies of the same index, run after run.
# Usage: benchmarks/scale/add_one.sh CORPUS INDEX_DIR N [CODE]     Prints: code, N, wall s, load, the change.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
corpus=$1 index_dir=$2 n=$3 code=${4:-$here}
new=${DALIL_ADD_ONE_DIR:-/tmp/dalil-add-one}
"$here/.venv/bin/python" -c "
import sys; sys.path.insert(0, '$here/benchmarks/scale')
from pathlib import Path
import corpus
for number in range(1, $n + 1):
    corpus.new_article(Path('$new'), number)"
files=()
for i in $(seq 1 "$n"); do files+=("$new/new-$i.jsonl"); done
load=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date +%s.%N)
out=$(cd "$code" && HF_HUB_OFFLINE=1 "$here/.venv/bin/python" -c \
      'import sys; sys.path.insert(0, "."); sys.argv[0] = "dalil"; from assistant.cli import main; sys.exit(main())' \
      index "$corpus" "${files[@]}" --index-dir "$index_dir" --deep-model none 2>&1) || { echo "$out" >&2; exit 1; }
end=$(date +%s.%N)
printf '%s N=%s %.2f s load %s %s\n' "$(basename "$code")" "$n" "$(echo "$end - $start" | bc)" "$load" \
       "$(echo "$out" | grep -o '([0-9]* added[^)]*)' | tail -1)"
