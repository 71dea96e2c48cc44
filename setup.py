"""Records the git revision and branch in the wheel (exporter/_build.json) when built from a
git checkout; everything else about the package is in pyproject.toml."""

import json
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithRevision(build_py):
    def run(self) -> None:
        super().run()
        here = Path(__file__).resolve().parent
        if not (here / ".git").exists():
            return  # an sdist: the revision is not known
        sys.path.insert(0, str(here))
        from exporter.build import git_facts  # noqa: PLC0415 - only at build time

        revision, branch = git_facts(here)
        target = Path(self.build_lib) / "exporter" / "_build.json"
        target.write_text(json.dumps({"revision": revision, "branch": branch}) + "\n")


setup(cmdclass={"build_py": BuildWithRevision})
