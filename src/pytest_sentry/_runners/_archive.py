"""Which image archive a scanner can be handed.

Scanners read ``docker save`` archives; Trivy cannot read OCI archives, and a
root filesystem directory is not an image at all for them. The check reads
tar headers only, so it costs a walk over member names, never their data.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from pytest_sentry._image.interface import Image
from pytest_sentry._runners.interface import RunnerError


def docker_archive_path(image: Image, tool: str) -> Path:
    """The image's docker-archive on disk, or :class:`RunnerError` saying why not."""
    if not image.archive_path:
        raise RunnerError(
            f"{tool}: {image.reference} has no archive on disk to hand to the "
            "scanner; save it with `docker save -o app.tar` and audit "
            "docker-archive:app.tar"
        )

    path = Path(image.archive_path)
    if path.is_dir():
        raise RunnerError(
            f"{tool}: {path} is a directory; scanners need an image archive "
            "(docker save format)"
        )

    try:
        with tarfile.open(path) as archive:
            names = {member.name.lstrip("./") for member in archive}
    except (OSError, tarfile.TarError) as error:
        raise RunnerError(
            f"{tool}: {path}: cannot read the archive: {error}"
        ) from error

    if "manifest.json" in names:
        return path
    if "index.json" in names or "oci-layout" in names:
        raise RunnerError(
            f"{tool}: {path} is an OCI archive; the scanner needs a docker-archive "
            f"(convert it: skopeo copy oci-archive:{path} docker-archive:app.tar)"
        )
    raise RunnerError(f"{tool}: {path}: not a docker-archive (no manifest.json)")
