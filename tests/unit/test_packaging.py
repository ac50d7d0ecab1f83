"""The built wheel holds every file of the source tree that the installed package reads.

`graphcluster.cypher` (the repository's top-level cypher/ folder), the review page's
templates/ and static/ folders and py.typed are package data: a folder or a file pattern
missing from pyproject.toml's [tool.setuptools] tables leaves it out of a non-editable install,
which an editable install (the one the tests run on) does not show. This test builds a wheel
from a copy of the source tree and compares its file list with that tree, and checks that the
build prints no warning.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
# folder in the repository -> where its files land in the wheel
SOURCES = {"graphcluster": "graphcluster", "cypher": "graphcluster/cypher"}


def _source_files() -> set[str]:
    files = set()
    for folder, target in SOURCES.items():
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.add(f"{target}/{path.relative_to(ROOT / folder).as_posix()}")
    return files


def test_the_wheel_holds_every_module_query_template_and_static_file(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for folder in SOURCES:
        shutil.copytree(ROOT / folder, src / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # --no-build-isolation: the build uses the setuptools the test extra installs, so the
    # test needs no package index
    run = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v",
         "-w", str(tmp_path / "dist"), str(src)],
        capture_output=True, text=True, env=env, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("graphcluster-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        shipped = {n for n in zf.namelist() if not n.startswith("graphcluster-")}

    missing = sorted(_source_files() - shipped)
    assert not missing, f"not in the wheel (add to [tool.setuptools] in pyproject.toml): {missing}"
    assert sorted(shipped - _source_files()) == []
    warnings = [line for line in (run.stdout + run.stderr).splitlines()
                if "warning" in line.lower() and "pip" not in line.lower().split(":")[0]]
    assert warnings == [], "\n".join(warnings)
