"""Shared fixtures: the repository root and throwaway copies of it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "data", "mlflow.db", "mlruns", "mlartifacts", "__pycache__", "*.egg-info", ".pytest_cache",
    "tmp", "cache",
)


def tool_env(**extra: str) -> dict[str, str]:
    """The environment for running the project's tools (this interpreter's bin first on PATH)."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **extra)
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def run(args: list[str], cwd: Path, **extra_env: str) -> subprocess.CompletedProcess:
    """Run a command, failing the test with its output when it fails."""
    result = subprocess.run(args, cwd=cwd, env=tool_env(**extra_env), capture_output=True, text=True)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A copy of the project (without rebuilt outputs) as a fresh git + DVC repository."""
    copy = tmp_path / "repo"
    shutil.copytree(REPO, copy, ignore=IGNORED)
    for generated in (copy / "models").iterdir():
        if generated.is_dir():
            shutil.rmtree(generated)
    (copy / "dvc.lock").unlink(missing_ok=True)
    run(["git", "init", "-q"], copy)
    return copy
