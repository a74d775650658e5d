"""The benchmark's outputs: JSON, a Markdown table and a PNG growth curve."""

import json
from pathlib import Path

COLUMNS = [  # (header, how to read the figure from one size's result)
    ("articles", lambda r: f"{r['articles']:,}"),
    ("passages", lambda r: f"{r['passages']:,}"),
    ("build s (answers after s)",
     lambda r: f"{r['build']['seconds']:.1f} ({r['build'].get('answers_after_s') or 0:.1f})"),
    ("passages/s", lambda r: f"{r['build']['passages_per_s']:.0f}"),
    ("build peak RSS MB (all processes)", lambda r: f"{r['build']['peak_rss_mb']:.0f}"),
    ("index MB", lambda r: f"{r['index_mb']:.0f}"),
    ("re-index unchanged s", lambda r: f"{r['reindex_unchanged_s']:.2f}"),
    ("add one article s", lambda r: f"{r['add_one_s']:.2f}"),
    ("retrieval p50/p95/p99 ms", lambda r: _p(r["warm"]["retrieval_ms"])),
    ("cited answer p50/p95/p99 ms", lambda r: _p(r["warm"]["answer_ms"])),
    ("/api/ask p50/p95/p99 ms", lambda r: _p(r["api"]["api_ask_ms"])),
    ("cold ask s", lambda r: f"{r['cold_ask']['median_s']:.2f}"),
    ("cold serve s", lambda r: f"{r['api']['cold_serve_s']:.2f}"),
]


def _p(figures: dict) -> str:
    return f"{figures['p50']:.1f} / {figures['p95']:.1f} / {figures['p99']:.1f}"


def markdown(result: dict) -> str:
    """One row per corpus size, then the conditions the figures were taken under."""
    lines = ["| " + " | ".join(h for h, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(r) for _, cell in COLUMNS) + " |" for r in result["sizes"]]
    env = result["environment"]
    lines += ["", f"{env['cores']} cores; load average before/after: {env['load_before']} / {env['load_after']}; "
              f"{result['questions']} questions from titles; embedder {env['embedder']}, deep layer "
              f"{env.get('deep_model', 'none')}; {env['started']}."]
    return "\n".join(lines) + "\n"


def write(result: dict, out: Path) -> None:
    """scale.json, scale.md and scale.png in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "scale.json").write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    (out / "scale.md").write_text(markdown(result), encoding="utf-8")
    plot(result, out / "scale.png")


def plot(result: dict, path: Path) -> None:
    """Growth with corpus size: build time, peak memory and answer latency."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a server
    import matplotlib.pyplot as plt

    sizes = [r["articles"] for r in result["sizes"]]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    axes[0].plot(sizes, [r["build"]["seconds"] for r in result["sizes"]], "o-", label="full build")
    axes[0].plot(sizes, [r["reindex_unchanged_s"] for r in result["sizes"]], "s-", label="re-index unchanged")
    axes[0].plot(sizes, [r["add_one_s"] for r in result["sizes"]], "^-", label="add one article")
    axes[0].set(title="index (s)", xlabel="articles")
    axes[1].plot(sizes, [r["build"]["peak_rss_mb"] for r in result["sizes"]], "o-", label="build peak RSS")
    axes[1].plot(sizes, [r["index_mb"] for r in result["sizes"]], "s-", label="index on disk")
    axes[1].set(title="memory and disk (MB)", xlabel="articles")
    for key, label in (("retrieval_ms", "retrieval"), ("answer_ms", "cited answer")):
        axes[2].plot(sizes, [r["warm"][key]["p50"] for r in result["sizes"]], "o-", label=f"{label} p50")
        axes[2].plot(sizes, [r["warm"][key]["p95"] for r in result["sizes"]], "o--", label=f"{label} p95")
    axes[2].plot(sizes, [r["api"]["api_ask_ms"]["p50"] for r in result["sizes"]], "s-", label="/api/ask p50")
    axes[2].set(title="query latency, warm (ms)", xlabel="articles")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
