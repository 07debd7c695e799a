"""A scanner the user describes: image, argv, success codes, output format.

The argv starts with the program and must say where the archive goes with
``{archive}``; ``{output}``, if present, is a file the scanner writes its
report to (otherwise the report is read from stdout). The report is parsed
as one of the known formats, so a wrapper script or a newer scanner version
that prints Trivy or Grype JSON works without code here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from pytest_sentry._models import Vulnerability
from pytest_sentry._runners.interface import (
    STDOUT,
    ExecSpec,
    OutputKind,
    OutputLocation,
)
from pytest_sentry._scanners.interface import (
    DEFAULT_TIMEOUT,
    OutputFormat,
    Scanner,
    ScannerName,
)

Parser = Callable[[bytes], list[Vulnerability]]


class CustomScanner(Scanner):
    name = ScannerName.CUSTOM
    output_format = OutputFormat.TRIVY
    default_image = ""
    program = ""
    container_entry = ()
    args = ()

    def __init__(
        self,
        *,
        image: str,
        argv: Sequence[str],
        output_format: OutputFormat,
        parser: Parser,
        success_codes: Sequence[int] = (0,),
        credentials: Mapping[str, str] | None = None,
        runs: bool = True,
    ) -> None:
        argv = [str(a) for a in argv]
        # A scanner only read from a report file never runs: no argv needed.
        if runs:
            _check_argv(argv)
        if not success_codes:
            raise ValueError("custom scanner: success_codes must not be empty")

        self.image = image
        self.argv = tuple(argv)
        self.format = output_format
        self._parser = parser
        self.codes = frozenset(int(c) for c in success_codes)
        self.secret_env = dict(credentials or {})

    def parse(self, data: bytes) -> list[Vulnerability]:
        return self._parser(data)

    def exec_spec(
        self,
        *,
        image: str | None = None,
        extra_args: tuple[str, ...] = (),
        credentials: dict[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> ExecSpec:
        to_file = any("{output}" in a for a in self.argv)
        secrets = {**self.secret_env, **(credentials or {})}
        return ExecSpec(
            tool=f"custom ({self.format.value} format)",
            program=self.argv[0] if self.argv else "",
            args=(*self.argv[1:], *extra_args),
            container_image=image or self.image,
            container_entry=self.argv[:1],
            success_codes=self.codes,
            output=OutputLocation(OutputKind.FILE, "report") if to_file else STDOUT,
            credentials=secrets,
            secret_names=frozenset(secrets),
            timeout=timeout,
        )


def _check_argv(argv: list[str]) -> None:
    if not argv:
        raise ValueError("custom scanner: args must start with the program to run")
    if not any("{archive}" in a for a in argv):
        raise ValueError(
            "custom scanner: args must contain {archive} where the image "
            "archive's path goes"
        )
