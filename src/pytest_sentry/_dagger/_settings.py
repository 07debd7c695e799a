"""Engine settings and registry credentials, read from the environment.

Every knob has a default that suits a laptop with Docker; the variables are
for CI machines that pull big images or cannot wait long for an engine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from pytest_sentry._dagger.interface import (
    REGISTRY_ADDRESS_ENV,
    REGISTRY_PASSWORD_ENV,
    REGISTRY_USER_ENV,
    EngineError,
    RegistryAuth,
)

PROVISION_TIMEOUT_ENV = "SENTRY_DAGGER_PROVISION_TIMEOUT"
EXPORT_TIMEOUT_ENV = "SENTRY_DAGGER_EXPORT_TIMEOUT"
RUN_TIMEOUT_ENV = "SENTRY_DAGGER_RUN_TIMEOUT"
PARALLEL_ENV = "SENTRY_DAGGER_PARALLEL"


@dataclass(frozen=True)
class EngineSettings:
    """How long to wait and how much to run at once.

    ``provision_timeout`` bounds starting or reaching the engine. It is
    generous because a first start pulls the engine image; when there is no
    engine to be had (no runtime, no CLI, no network) the attempt fails on
    its own within seconds, long before this bound. ``run_timeout`` bounds
    one scanner container (pulling its image, updating its database, the
    scan); the scanner's own ``--timeout`` is normally shorter.
    """

    provision_timeout: float = 120.0
    export_timeout: float = 1800.0
    run_timeout: float = 2400.0
    parallel: int = 4

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EngineSettings:
        env = os.environ if environ is None else environ
        return cls(
            provision_timeout=_positive(env, PROVISION_TIMEOUT_ENV, 120.0),
            export_timeout=_positive(env, EXPORT_TIMEOUT_ENV, 1800.0),
            run_timeout=_positive(env, RUN_TIMEOUT_ENV, 2400.0),
            parallel=int(_positive(env, PARALLEL_ENV, 4)),
        )


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise EngineError(f"{name}: {raw!r} is not a number") from None
    if value <= 0:
        raise EngineError(f"{name}: must be greater than 0, got {raw}")
    return value


def registry_auth_from_env(
    environ: Mapping[str, str] | None = None,
) -> RegistryAuth | None:
    """Credentials from ``SENTRY_REGISTRY_USER``/``SENTRY_REGISTRY_PASSWORD``.

    ``SENTRY_REGISTRY`` optionally limits them to one registry host. Half a
    pair is a mistake worth an error, not a silent anonymous pull.
    """
    env = os.environ if environ is None else environ
    user = env.get(REGISTRY_USER_ENV, "")
    password = env.get(REGISTRY_PASSWORD_ENV, "")
    if not user and not password:
        return None
    if not user or not password:
        missing = REGISTRY_USER_ENV if not user else REGISTRY_PASSWORD_ENV
        present = REGISTRY_PASSWORD_ENV if not user else REGISTRY_USER_ENV
        raise EngineError(f"{missing}: not set, but {present} is; set both or neither")
    return RegistryAuth(user, password, env.get(REGISTRY_ADDRESS_ENV, "").strip())
