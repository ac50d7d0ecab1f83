"""Write docs/benchmarks.md, the index of the benchmark pages in docs/benchmarks/.

Each page under docs/benchmarks/ is written by its benchmark script and names the command that
made its numbers; this index links them and does not copy their text, so a page has one copy.

Steps:

1. list docs/benchmarks/*.md; known pages come first in a fixed order (robustness, quality, effort,
   growth, neo4j, then the component benchmarks quality_core, index, stores), any other file after
   them alphabetically, so a new page is never left out;
2. write one table row per page: its title (its first heading) linking the page, and the script
   that writes it.

Usage::

    .venv/bin/python benchmarks/make_report.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ROOT / "docs" / "benchmarks"
OUT = ROOT / "docs" / "benchmarks.md"
ORDER = ["robustness", "quality", "photos", "effort", "growth", "bootstrap", "neo4j", "neo4j_review", "review_latency", "quality_core", "index", "annoy_scan", "stores",
         "faults"]
SCRIPTS = {"robustness": "benchmarks/robustness.py", "calibration_questions": "benchmarks/calibration_questions.py",
           "quality": "benchmarks/quality.py", "effort": "benchmarks/effort.py", "growth": "benchmarks/growth.py",
           "bootstrap": "benchmarks/bootstrap.py",
           "neo4j": "benchmarks/neo4j_throughput.py", "neo4j_review": "benchmarks/neo4j_throughput.py",
           "review_latency": "benchmarks/review_latency.py",
           "quality_core": "benchmarks/quality_core.py",
           "index": "benchmarks/index_bench.py", "annoy_scan": "benchmarks/annoy_scan.py",
           "stores": "benchmarks/store_bench.py", "photos": "benchmarks/photos.py", "faults": "benchmarks/faults.py"}


def sections() -> list[Path]:
    files = {p.stem: p for p in SECTIONS.glob("*.md")}
    known = [files[k] for k in ORDER if k in files]
    return known + sorted(p for k, p in files.items() if k not in ORDER)


def title(text: str, fallback: str) -> str:
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return fallback


def build() -> str:
    lines = [
        "# Benchmarks",
        "",
        "One page per benchmark, each written by its script (`.venv/bin/python benchmarks/<script> ...`)",
        "with the command that produced its numbers and the machine it ran on (2 shared, noisy cores:",
        "compare rows within one table, not across runs). None of this is a timed test.",
        "This index is written by `.venv/bin/python benchmarks/make_report.py`.",
        "",
        "| Page | Written by |",
        "|---|---|",
    ]
    for p in sections():
        head = title(p.read_text(encoding="utf-8"), p.stem).replace("|", "\\|")
        script = SCRIPTS.get(p.stem)
        lines.append(f"| [{head}](benchmarks/{p.name}) | {f'`{script}`' if script else 'named on the page'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if docs/benchmarks.md is out of date")
    args = ap.parse_args()
    text = build()
    if args.check:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        sys.exit(0 if current == text else 1)
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT} ({len(sections())} sections)")


if __name__ == "__main__":
    main()
