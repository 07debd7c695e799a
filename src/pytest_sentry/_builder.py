"""The builder API: ``pytest_sentry.scan(image).with_grype().fail_on("CRITICAL")``.

It mirrors the original Dagger module's chain, so its users can move over by
changing little more than the syntax. Each ``with_*`` call returns a new
builder; the first result method runs the audit once and keeps its result.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from pytest_sentry import _dagger
from pytest_sentry._audit import ImageLoader, default_loader, run_audit
from pytest_sentry._checks import all_checks
from pytest_sentry._image.interface import (
    DEFAULT_LIMITS,
    Image,
    Limits,
    override_limit,
)
from pytest_sentry._models import AuditResult, Severity, Vulnerability
from pytest_sentry._policy import DEFAULT_POLICY, Policy
from pytest_sentry._scanners.interface import (
    ScanError,
    ScannerUnavailableError,
    VulnerabilityScan,
)

if TYPE_CHECKING:
    import dagger

_DEFAULT_SCANNER = "trivy"


@dataclass(frozen=True)
class ScannerChoice:
    """Which scanner and how to reach it; credentials never shown in repr."""

    name: str
    runner: str = "auto"
    #: False only for the default scanner the user did not ask for: if it
    #: cannot run, the audit says no scan ran instead of erroring.
    explicit: bool = True
    report_path: str = ""
    options: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class Scan:
    """One image and how to audit it. Create with :func:`scan`."""

    image: str
    scanner: ScannerChoice | None = ScannerChoice(_DEFAULT_SCANNER, explicit=False)
    policy: Policy = DEFAULT_POLICY
    limits: Limits = DEFAULT_LIMITS
    #: Set for a ``dagger.Container`` or registry credentials: how the image
    #: is reached through the Dagger engine.
    target: _dagger.ImageTarget | None = field(default=None, compare=False, repr=False)
    # Not an __init__ argument: every copy, dataclasses.replace() included,
    # starts with an empty cache, so no builder returns another's audit.
    _cache: dict[str, AuditResult] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    # Scanners -------------------------------------------------------------

    def with_trivy(self) -> Scan:
        return self._scanner(ScannerChoice("trivy"))

    def with_grype(self) -> Scan:
        return self._scanner(ScannerChoice("grype"))

    def with_snyk(self, token: str) -> Scan:
        return self._scanner(ScannerChoice("snyk", options={"token": token}))

    def with_wiz(self, client_id: str, client_secret: str) -> Scan:
        options = {"client_id": client_id, "client_secret": client_secret}
        return self._scanner(ScannerChoice("wiz", options=options))

    def with_black_duck(self, url: str, token: str) -> Scan:
        return self._scanner(
            ScannerChoice("blackduck", options={"url": url, "token": token})
        )

    def with_custom_scanner(
        self,
        image: str,
        args: list[str],
        output_format: str,
        success_codes: tuple[int, ...] = (0,),
    ) -> Scan:
        options = {
            "image": image,
            "args": list(args),
            "output_format": output_format,
            "success_codes": tuple(success_codes),
        }
        return self._scanner(ScannerChoice("custom", options=options))

    def with_scanner_report(self, spec: str) -> Scan:
        """Use a report already on disk: ``"grype:reports/app.json"``."""
        name, _, path = spec.partition(":")
        if not path:
            raise ValueError(f"scanner report {spec!r}: expected FORMAT:PATH")
        return self._scanner(ScannerChoice(name, runner="report", report_path=path))

    def with_runner(self, runner: str) -> Scan:
        """Where the scanner runs: ``auto``, ``local``, ``dagger`` or ``report``."""
        if self.scanner is None:
            raise ValueError("with_runner: no scanner is selected")
        return self._scanner(dataclasses.replace(self.scanner, runner=runner))

    def with_scanner(
        self, name: str, *, runner: str = "auto", required: bool = True, **options: Any
    ) -> Scan:
        """Any scanner by name (``trivy``, ``grype``...), with its options.

        With ``required=False``, a scanner that cannot run on this machine
        (not installed, no engine) leaves the audit without a scan and a note
        saying so, instead of making it an ERROR.
        """
        return self._scanner(
            ScannerChoice(name, runner=runner, explicit=required, options=options)
        )

    def without_scanner(self) -> Scan:
        return self._scanner(None)

    # Image ----------------------------------------------------------------

    def with_registry_auth(
        self, username: str, password: str, *, registry: str = ""
    ) -> Scan:
        """Pull a registry image with credentials (sent as a Dagger secret).

        ``registry`` (``ghcr.io``) limits them to that host. Without this,
        ``SENTRY_REGISTRY_USER``/``SENTRY_REGISTRY_PASSWORD`` apply.
        """
        if isinstance(self.target, _dagger.ContainerTarget):
            raise ValueError("with_registry_auth: a dagger.Container is not pulled")
        auth = _dagger.RegistryAuth(username, password, registry)
        target = _dagger.registry_target(self.image, auth)
        return dataclasses.replace(self, target=target)

    # Policy ---------------------------------------------------------------

    def fail_on(self, severity: Severity | str) -> Scan:
        return self._policy(fail_on=Severity.parse(severity))

    def min_score(self, value: int | None) -> Scan:
        return self._policy(min_score=value)

    def with_secret_check(self, enable: bool = True) -> Scan:
        return self.with_check("secrets-in-env", enable)

    def with_non_root_check(self, enable: bool = True) -> Scan:
        return self.with_check("non-root-user", enable)

    def with_health_check(self, enable: bool = True) -> Scan:
        return self.with_check("health-check", enable)

    def with_check(self, check_id: str, enable: bool = True) -> Scan:
        """Enable or disable a check by id."""
        disabled = set(self.policy.disabled_checks)
        if enable:
            disabled.discard(check_id)
        else:
            disabled.add(check_id)
        return self._policy(disabled_checks=frozenset(disabled))

    def with_ignore(
        self,
        vuln_id: str,
        *,
        reason: str,
        package: str = "",
        expires: date | None = None,
    ) -> Scan:
        """Suppress one finding, with a reason and an optional expiry date."""
        from pytest_sentry._ignores import Ignore  # noqa: PLC0415

        entry = Ignore(id=vuln_id, package=package, reason=reason, expires=expires)
        return self._policy(ignores=(*self.policy.ignores, entry))

    def only_fixed(self, enable: bool = True) -> Scan:
        return self._policy(only_fixed=enable)

    def with_limit(self, spec: str) -> Scan:
        """Change one safety bound of the image reader: ``"max_members=100000"``.

        Values take an optional binary unit (``"max_layer_bytes=4GiB"``); ``0``
        turns a bound off. See :class:`pytest_sentry.Limits` for the names.
        """
        return dataclasses.replace(self, limits=override_limit(self.limits, spec))

    def with_policy(self, policy: Policy) -> Scan:
        return dataclasses.replace(self, policy=policy)

    # Results --------------------------------------------------------------

    def audit(self) -> AuditResult:
        """Run the audit (once per builder) and return its full result."""
        if "result" not in self._cache:
            self._cache["result"] = self._run()
        return self._cache["result"]

    def _run(self) -> AuditResult:
        notes: tuple[str, ...] = ()
        try:
            vuln_scan = self._make_scan()
        except ScannerUnavailableError as error:
            if self.scanner is not None and not self.scanner.explicit:
                vuln_scan = None
                notes = (f"The scanner could not run here, so no scan ran: {error}",)
            else:
                vuln_scan = _Failed(self._scanner_name, error)
        except ScanError as error:
            # A bad report path or scanner setting: the audit reports it as an
            # ERROR like any scanner failure, rather than raising from audit().
            vuln_scan = _Failed(self._scanner_name, error)

        reference: str = self.image
        loader: ImageLoader = default_loader
        if self.target is not None:
            reference, loader = self.target.prepare()
        result = run_audit(
            reference,
            loader=loader,
            checks=all_checks(),
            scan=vuln_scan,
            policy=self.policy,
            limits=self.limits,
        )
        if notes:
            result = result.model_copy(update={"notes": notes + result.notes})
        return result

    def report(self) -> str:
        """The Markdown report."""
        from pytest_sentry._report import render_markdown  # noqa: PLC0415

        return render_markdown(self.audit())

    def json(self) -> str:
        """The JSON report, with the documented camelCase keys."""
        from pytest_sentry._report import render_json  # noqa: PLC0415

        return render_json(self.audit())

    def passed(self) -> bool:
        return self.audit().passed

    def exit_code(self) -> int:
        """0 passed, 1 failed, 2 error."""
        return self.audit().exit_code

    # Internals ------------------------------------------------------------

    def _scanner(self, choice: ScannerChoice | None) -> Scan:
        return dataclasses.replace(self, scanner=choice)

    def _policy(self, **changes: Any) -> Scan:
        policy = dataclasses.replace(self.policy, **changes)
        return dataclasses.replace(self, policy=policy)

    @property
    def _scanner_name(self) -> str:
        return self.scanner.name if self.scanner is not None else "none"

    def _make_scan(self) -> VulnerabilityScan | None:
        if self.scanner is None:
            return None
        from pytest_sentry._scanners import make_scan  # noqa: PLC0415

        choice = self.scanner
        return make_scan(
            choice.name,
            runner=choice.runner,
            report_path=choice.report_path or None,
            **choice.options,
        )


class _Failed(VulnerabilityScan):
    """A scan that could not even be set up: the audit becomes ERROR."""

    def __init__(self, name: str, error: ScanError) -> None:
        self.name = name
        self._error = error

    def run(self, image: Image) -> tuple[Vulnerability, ...]:
        raise self._error


def scan(image: str | dagger.Container) -> Scan:
    """Start auditing ``image``: an archive path, ``docker-archive:...``, a
    registry reference, or a ``dagger.Container`` from your own pipeline."""
    if isinstance(image, str):
        return Scan(image)
    target = _dagger.container_target(image)
    return Scan(target.label, target=target)
