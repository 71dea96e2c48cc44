"""What build this is: version, git revision and branch, Python version. The revision and
branch are written into `_build.json` when a wheel is built from a git checkout (setup.py);
a checkout run in place asks git; anything else says "unknown"."""

from __future__ import annotations

import json
import platform
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from exporter import __version__

UNKNOWN = "unknown"
_HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class BuildInfo:
    version: str
    revision: str
    branch: str
    pythonversion: str

    def line(self) -> str:
        return (f"bybit-exporter {self.version} (branch: {self.branch}, revision: "
                f"{self.revision})\n  python version: {self.pythonversion}")


def git_facts(folder: Path) -> tuple[str, str]:
    """(revision, branch) of the git checkout holding `folder`, or unknown."""
    def git(*args: str) -> str:
        try:
            result = subprocess.run(["git", "-C", str(folder), *args], capture_output=True,
                                    text=True, timeout=5)
        except (OSError, subprocess.SubprocessError):
            return UNKNOWN
        return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() \
            else UNKNOWN

    return git("rev-parse", "HEAD"), git("rev-parse", "--abbrev-ref", "HEAD")


@cache
def build_info() -> BuildInfo:
    recorded = _HERE / "_build.json"
    if recorded.exists():
        facts = json.loads(recorded.read_text())
        revision, branch = facts.get("revision", UNKNOWN), facts.get("branch", UNKNOWN)
    elif (_HERE.parent / ".git").exists():
        revision, branch = git_facts(_HERE.parent)
    else:
        revision = branch = UNKNOWN
    return BuildInfo(__version__, revision, branch, platform.python_version())
