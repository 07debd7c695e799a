"""Exporting an image from the engine as a docker-archive tar.

The engine writes a single-platform container with Docker's exporter, i.e.
a ``docker save`` archive (``manifest.json``), which both the archive reader
and every scanner read; layers are forced to gzip so that neither needs zstd.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_sentry._dagger._logfilter import SECRETS
from pytest_sentry._dagger._reference import registry_of
from pytest_sentry._dagger.interface import EngineError, ExportedImage, RegistryAuth

if TYPE_CHECKING:
    import dagger

logger = logging.getLogger(__name__)


async def export_reference(
    client: dagger.Client, reference: str, auth: RegistryAuth | None, dest: Path
) -> ExportedImage:
    """Pull ``reference`` (with credentials if they apply) and export it."""
    container = client.container()
    registry = registry_of(reference)
    if auth is not None and auth.applies_to(registry):
        SECRETS.add(auth.password)
        name = f"sentry-registry-password-{registry}"
        secret = client.set_secret(name, auth.password)
        container = container.with_registry_auth(reference, auth.username, secret)
        logger.debug("%s: pulling as %s", reference, auth.username)

    await _export(container.from_(reference), dest, reference)
    return ExportedImage(reference, dest)


async def export_container(
    client: dagger.Client, container_id: str, dest: Path
) -> ExportedImage:
    """Export a container the caller built; name it as precisely as we can."""
    import dagger  # noqa: PLC0415

    container = client.load_container_from_id(dagger.ContainerID(container_id))
    await _export(container, dest, "dagger.Container")
    return ExportedImage(await _container_reference(container, dest), dest)


async def _export(container: dagger.Container, dest: Path, subject: str) -> None:
    import dagger  # noqa: PLC0415

    logger.debug("%s: exporting to %s", subject, dest)
    try:
        await container.export(
            str(dest),
            forced_compression=dagger.ImageLayerCompression.GZIP,
            media_types=dagger.ImageMediaTypes.DOCKER,
        )
    except dagger.QueryError as error:
        raise EngineError(
            f"{subject}: the Dagger engine could not pull or export it: "
            f"{SECRETS.mask(str(error))}"
        ) from error
    except dagger.DaggerError as error:
        raise EngineError(
            f"{subject}: lost the Dagger engine while exporting: "
            f"{SECRETS.mask(str(error))}"
        ) from error

    if not _is_docker_archive(dest):
        raise EngineError(
            f"{subject}: the Dagger engine reported an export, but {dest} is not a "
            "docker-archive (no manifest.json)"
        )


def _is_docker_archive(path: Path) -> bool:
    try:
        with tarfile.open(path) as archive:
            return any(m.name.lstrip("./") == "manifest.json" for m in archive)
    except (OSError, tarfile.TarError):
        return False


async def _container_reference(container: dagger.Container, archive: Path) -> str:
    """The pulled address for a plain ``from_``; else the image's config digest.

    The engine answers ``imageRef`` only for a container that is exactly an
    image it pulled; anything built on top is named by its config digest, the
    id ``docker images`` would show after ``docker load``.
    """
    import dagger  # noqa: PLC0415

    try:
        return await container.image_ref()
    except dagger.QueryError:
        logger.debug("dagger.Container: no imageRef, naming it by config digest")
    try:
        digest = config_digest(archive)
    except (OSError, tarfile.TarError, ValueError, LookupError, TypeError) as error:
        raise EngineError(
            f"dagger.Container: cannot read the exported archive {archive}: {error}"
        ) from error
    return f"dagger-container@{digest[:19]}"


def config_digest(archive: Path) -> str:
    """``sha256:<hex>`` of the config of the only image in a docker-archive."""
    with tarfile.open(archive) as tar:
        manifest = _read(tar, "manifest.json")
        entries = json.loads(manifest)
        config_name = str(entries[0]["Config"])
        return "sha256:" + hashlib.sha256(_read(tar, config_name)).hexdigest()


def _read(tar: tarfile.TarFile, name: str) -> bytes:
    for member in tar:
        if member.name.lstrip("./") == name.lstrip("./") and member.isfile():
            stream = tar.extractfile(member)
            if stream is not None:
                return stream.read()
    raise KeyError(f"no {name} in it")
