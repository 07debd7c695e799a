"""Build small container images for tests, written directly with :mod:`tarfile`.

An image is a list of layers plus a config. A layer is a list of members; a
member is a tuple ``(path, type, data, mode, uid)`` where only ``path`` is
required::

    ("/etc/passwd", "file", "root:x:0:0::/root:/bin/sh\\n")   # str or bytes
    ("/bin", "dir")
    ("/usr/bin/wget", "symlink", "/bin/busybox")               # data = target
    ("/bin/busybox", "file", b"\\x7fELF", 0o755)                 # mode
    ("/home/app", "dir", None, 0o700, 1000)                     # uid
    ("/bin/sh", "hardlink", "/bin/busybox")                     # data = target
    ("/etc/.wh.motd", "file")                                   # a whiteout

Types: ``file`` (default), ``dir``, ``symlink``, ``hardlink``. Mode defaults
to 0o755 for directories, 0o777 for symlinks and 0o644 otherwise; uid (and
gid, the same number) to 0. Whiteouts are ordinary empty files named
``.wh.<name>``, as in real layers.

``config`` is the image's container config (the ``config`` object of an image
config: ``User``, ``Env``, ``Healthcheck``, ``Cmd``...); ``document`` instead
gives a whole image config JSON (for example one copied from a real image),
whose ``rootfs`` is rewritten to match the layers.

    path = build_docker_archive(tmp_path / "app.tar", [[("/etc/passwd", "file",
        "app:x:1000:1000::/:/bin/sh\\n")]], config={"User": "app"})
    image = load_image(path)

:func:`build_oci_archive` writes the same image as an OCI image layout tar.

For hostile or hand-made archives, :func:`docker_files` and :func:`write_tar`
take layer blobs as bytes (corrupt, truncated, compressed at will) and write
them under a manifest without checking anything.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_sentry._image._resolve import resolve
from pytest_sentry._image.interface import DEFAULT_CONTENT_PATHS, Image

Member = tuple[Any, ...]
Layer = Sequence[Member]

_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
}
_DEFAULT_MODES = {"dir": 0o755, "symlink": 0o777}


def layer_tar(members: Layer) -> bytes:
    """One uncompressed layer tar holding ``members`` in the given order."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            _add(tar, *member)
    return buffer.getvalue()


def _add(
    tar: tarfile.TarFile,
    path: str,
    kind: str = "file",
    data: str | bytes | None = None,
    mode: int | None = None,
    uid: int = 0,
) -> None:
    if kind not in _TYPES:
        raise ValueError(f"{path}: unknown member type {kind!r}; use {list(_TYPES)}")
    info = tarfile.TarInfo(path.lstrip("/") or ".")
    info.type = _TYPES[kind]
    info.mode = mode if mode is not None else _DEFAULT_MODES.get(kind, 0o644)
    info.uid = info.gid = uid
    info.mtime = 1_700_000_000

    if kind in ("symlink", "hardlink"):
        info.linkname = str(data or "")
        tar.addfile(info)
        return
    if kind == "dir":
        tar.addfile(info)
        return
    payload = data.encode() if isinstance(data, str) else (data or b"")
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def image_config(
    layers: Sequence[bytes],
    config: Mapping[str, Any] | None = None,
    document: Mapping[str, Any] | None = None,
) -> bytes:
    """The image config JSON for uncompressed ``layers``."""
    body: dict[str, Any] = (
        dict(document)
        if document is not None
        else {"architecture": "amd64", "os": "linux", "config": dict(config or {})}
    )
    body["rootfs"] = {
        "type": "layers",
        "diff_ids": ["sha256:" + hashlib.sha256(blob).hexdigest() for blob in layers],
    }
    return json.dumps(body, indent=2).encode()


def build_docker_archive(
    path: Path,
    layers: Sequence[Layer],
    config: Mapping[str, Any] | None = None,
    *,
    document: Mapping[str, Any] | None = None,
    tag: str = "test/image:latest",
    gzip_layers: bool = False,
) -> Path:
    """Write a ``docker save``-style archive to ``path`` and return ``path``."""
    blobs = [layer_tar(layer) for layer in layers]
    config_bytes = image_config(blobs, config, document)
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"

    files: dict[str, bytes] = {config_name: config_bytes}
    layer_names = []
    for blob in blobs:
        stored = gzip.compress(blob, mtime=0) if gzip_layers else blob
        name = hashlib.sha256(blob).hexdigest() + "/layer.tar"
        files[name] = stored
        layer_names.append(name)
    manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": layer_names}]
    files["manifest.json"] = json.dumps(manifest).encode()

    write_tar(path, files)
    return path


def build_oci_archive(
    path: Path,
    layers: Sequence[Layer],
    config: Mapping[str, Any] | None = None,
    *,
    document: Mapping[str, Any] | None = None,
    ref_name: str = "latest",
) -> Path:
    """Write an OCI image layout tar (gzip layers) to ``path``; return ``path``."""
    blobs = [layer_tar(layer) for layer in layers]
    config_bytes = image_config(blobs, config, document)

    files: dict[str, bytes] = {}

    def put(data: bytes, media_type: str) -> dict[str, Any]:
        digest = hashlib.sha256(data).hexdigest()
        files[f"blobs/sha256/{digest}"] = data
        return {
            "mediaType": media_type,
            "digest": f"sha256:{digest}",
            "size": len(data),
        }

    layer_descriptors = [
        put(gzip.compress(blob, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip")
        for blob in blobs
    ]
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": put(config_bytes, "application/vnd.oci.image.config.v1+json"),
        "layers": layer_descriptors,
    }
    manifest_descriptor = put(
        json.dumps(manifest).encode(), "application/vnd.oci.image.manifest.v1+json"
    )
    manifest_descriptor["annotations"] = {"org.opencontainers.image.ref.name": ref_name}
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [manifest_descriptor],
    }
    files["oci-layout"] = b'{"imageLayoutVersion": "1.0.0"}'
    files["index.json"] = json.dumps(index).encode()

    write_tar(path, files)
    return path


def write_tar(path: Path, files: Mapping[str, bytes], mode: str = "w") -> Path:
    """An outer archive holding ``files`` (name to bytes); ``mode`` may compress."""
    with tarfile.open(path, mode=mode) as tar:  # type: ignore[call-overload]
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return path


PLAIN_CONFIG = b'{"os": "linux", "config": {}}'


def docker_files(
    layers: Iterable[bytes],
    config: bytes = PLAIN_CONFIG,
    manifest: Any = None,
    extra: Mapping[str, bytes] | None = None,
) -> dict[str, bytes]:
    """The files of a docker-archive whose layers are raw blobs.

    Layers are stored as ``N/layer.tar`` and tagged ``x:1``; ``manifest``
    replaces the generated manifest (bytes are written as they are, anything
    else as JSON); ``extra`` adds files beside them.
    """
    files = {"config.json": config, **(extra or {})}
    names = []
    for number, blob in enumerate(layers):
        names.append(f"{number}/layer.tar")
        files[names[-1]] = blob
    if manifest is None:
        manifest = [{"Config": "config.json", "RepoTags": ["x:1"], "Layers": names}]
    raw = manifest if isinstance(manifest, bytes) else json.dumps(manifest).encode()
    files["manifest.json"] = raw
    return files


def load_image(
    path: Path, content_paths: frozenset[str] = DEFAULT_CONTENT_PATHS
) -> Image:
    """Read an archive back through the product's own resolver and reader."""
    return resolve(str(path)).load(content_paths=content_paths)
