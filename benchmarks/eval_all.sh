#!/usr/bin/env bash
# The figures of docs/quality.md: `dalil eval` on the seed gold set, the fixture questions, and XQuAD (Arabic
# and English questions over the Arabic articles), with the tuning (00-23) and held-out (24-47) articles apart.
# Reports go to benchmarks/results/ (gitignored: they quote XQuAD text), with the indexes they were measured on:
# a second run reuses them (only changed settings are rebuilt). Run from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DALIL_DATA:-../shared/data}
OUT=${DALIL_RESULTS:-benchmarks/results}  # one folder per variant, e.g. DALIL_RESULTS=benchmarks/results/no-deep
EXTRA=("$@")  # e.g. --deep-model none
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1
SPLITS=(--group "tune=xquad_ar_[01]?.txt,xquad_ar_2[0-3].txt" --group "heldout=xquad_ar_2[4-9].txt,xquad_ar_[34]?.txt")
start=$SECONDS
.venv/bin/dalil eval --gold "$DATA/seed/gold.jsonl" --corpus seeds --corpus "$DATA/xquad/corpus_ar" \
    --index-dir "$OUT/index-seed" --out "$OUT/seed.json" --md "$OUT/seed.md" --plot "$OUT/seed.png" "${EXTRA[@]}"
.venv/bin/dalil eval --gold tests/data/questions.jsonl --corpus tests/data/articles \
    --out "$OUT/fixtures.json" --md "$OUT/fixtures.md" "${EXTRA[@]}"
seed=$SECONDS
for lang in ar en; do
    .venv/bin/dalil eval --gold "$DATA/xquad/gold_$lang.jsonl" --corpus "$DATA/xquad/corpus_ar" "${SPLITS[@]}" \
        --index-dir "$OUT/index-xquad" \
        --out "$OUT/xquad_$lang.json" --md "$OUT/xquad_$lang.md" --plot "$OUT/xquad_$lang.png" "${EXTRA[@]}"
done
echo "seed + fixtures: $((seed - start)) s; XQuAD ar+en (index builds included): $((SECONDS - seed)) s" >&2
