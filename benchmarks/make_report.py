"""Assemble docs/benchmarks.md from the section files in docs/benchmarks/.

Steps:

1. list docs/benchmarks/*.md; known sections come first in a fixed order (robustness, quality, effort,
   growth, neo4j, then the component benchmarks quality_core, index, stores), any other file after
   them alphabetically, so a new section is never left out;
2. write a contents list linking every section file, then each section's text, with its heading
   levels pushed down one step and image links rewritten for the new location (docs/ instead of
   docs/benchmarks/);
3. name the script that wrote each section.

Usage::

    .venv/bin/python benchmarks/make_report.py [--check]
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ROOT / "docs" / "benchmarks"
OUT = ROOT / "docs" / "benchmarks.md"
ORDER = ["robustness", "quality", "photos", "effort", "growth", "neo4j", "neo4j_review", "quality_core", "index", "annoy_scan", "stores"]
SCRIPTS = {"robustness": "benchmarks/robustness.py", "calibration_questions": "benchmarks/calibration_questions.py",
           "quality": "benchmarks/quality.py", "effort": "benchmarks/effort.py", "growth": "benchmarks/growth.py",
           "neo4j": "benchmarks/neo4j_throughput.py", "neo4j_review": "benchmarks/neo4j_throughput.py",
           "quality_core": "benchmarks/quality_core.py",
           "index": "benchmarks/index_bench.py", "annoy_scan": "benchmarks/annoy_scan.py",
           "stores": "benchmarks/store_bench.py", "photos": "benchmarks/photos.py"}


def sections() -> list[Path]:
    files = {p.stem: p for p in SECTIONS.glob("*.md")}
    known = [files[k] for k in ORDER if k in files]
    return known + sorted(p for k, p in files.items() if k not in ORDER)


def title(text: str, fallback: str) -> str:
    for line in text.splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return fallback


def anchor(heading: str) -> str:
    """GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).strip().replace(" ", "-")


def adapt(text: str) -> str:
    """Push headings down one level and fix relative links (sections live one folder deeper)."""
    out = []
    fence = False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        if not fence and re.match(r"#{1,5} ", line):
            line = "#" + line
        if not fence:
            line = line.replace("](../", "](")
        out.append(line)
    return "\n".join(out).rstrip() + "\n"


def build() -> str:
    parts = sections()
    lines = [
        "# Benchmarks",
        "",
        "Assembled by `.venv/bin/python benchmarks/make_report.py` from the section files in",
        "[docs/benchmarks/](benchmarks/); each section names the command that produced its numbers and the",
        "machine it ran on (2 shared, noisy cores: compare rows within one table, not across runs).",
        "None of this is a timed test.",
        "",
        "## Contents",
        "",
    ]
    texts = []
    for p in parts:
        text = p.read_text(encoding="utf-8")
        head = title(text, p.stem)
        script = SCRIPTS.get(p.stem, "see the section")
        lines.append(f"- [{head}](#{anchor(head)}) — [`docs/benchmarks/{p.name}`](benchmarks/{p.name}), "
                     f"written by `{script}`")
        texts.append(adapt(text))
    lines.append("")
    return "\n".join(lines) + "\n" + "\n".join(texts)


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
