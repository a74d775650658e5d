"""Where the fault benchmarks write their figures: benchmarks/results/<name>.json (not committed)."""

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results"


def save(name: str, figures: dict, summary: dict) -> Path:
    """Write ``figures`` to benchmarks/results/``name``.json and print ``summary``; returns the file."""
    out = RESULTS / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=1, ensure_ascii=False))
    print(json.dumps(summary, indent=1, ensure_ascii=False))
    return out
