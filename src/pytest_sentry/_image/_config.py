"""Read image config JSON (Docker and OCI spell it the same) into ImageConfig."""

from __future__ import annotations

import json
from typing import Any

from pytest_sentry._image.interface import ImageConfig, ImageError


def load_json(data: bytes, subject: str) -> Any:
    """Parse JSON from an archive, naming the file on failure."""
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise ImageError(f"{subject}: not valid JSON ({error})") from error


def parse_config(data: bytes, subject: str) -> ImageConfig:
    """An :class:`ImageConfig` from an image config blob.

    Windows images are refused here: their filesystem and user model are not
    what the checks understand, and a silent pass would be a lie.
    """
    document = load_json(data, subject)
    if not isinstance(document, dict):
        raise ImageError(f"{subject}: image config is not a JSON object")

    os_name = str(document.get("os") or "linux")
    if os_name.lower() == "windows":
        raise ImageError(
            f"{subject}: Windows images are not supported (os=windows); "
            "only Linux images can be audited"
        )

    # container_config describes the container that built the last layer,
    # not the one a runtime starts; it stands in only when config is absent.
    config = document.get("config")
    if config is None:
        config = document.get("container_config") or {}
    if not isinstance(config, dict):
        raise ImageError(f"{subject}: 'config' is not a JSON object")

    health = config.get("Healthcheck")
    health_test = None
    if isinstance(health, dict) and health.get("Test"):
        health_test = _strings(health["Test"]) or None
    labels = config.get("Labels")

    return ImageConfig(
        user=str(config.get("User") or ""),
        env=_strings(config.get("Env")),
        healthcheck=health_test,
        entrypoint=_strings(config.get("Entrypoint")),
        cmd=_strings(config.get("Cmd")),
        os=os_name,
        architecture=str(document.get("architecture") or ""),
        labels=(
            {str(k): str(v) for k, v in labels.items()}
            if isinstance(labels, dict)
            else {}
        ),
    )


def _strings(value: object) -> tuple[str, ...]:
    """A JSON list of strings as a tuple; a lone string as a 1-tuple."""
    if isinstance(value, list):
        return tuple(str(item) for item in value if item is not None)
    if isinstance(value, str):
        return (value,)
    return ()
