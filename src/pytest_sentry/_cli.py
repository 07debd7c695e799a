"""``python -m pytest_sentry scan IMAGE``: the audit outside pytest.

The process exit code is the verdict's (0 passed, 1 failed, 2 error); usage
errors exit 2 as well, because a CI gate must never read them as a pass.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_sentry._builder import Scan
from pytest_sentry._checks import check_ids
from pytest_sentry._errors import SentryError
from pytest_sentry._models import Severity
from pytest_sentry._report import ReportFormat, json_schema, render
from pytest_sentry._version import __version__

logger = logging.getLogger(__name__)

SCANNERS = ("trivy", "grype", "snyk", "wiz", "blackduck", "custom", "none")
EXIT_USAGE = 2


def _severity(value: str) -> Severity:
    try:
        return Severity.parse(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_sentry",
        description="Audit a container image for security.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", required=True)

    scan = commands.add_parser(
        "scan",
        help="audit one image",
        description="Audit one image and print a report. Exit 0 passed, 1 failed, "
        "2 error.",
    )
    scan.add_argument(
        "image",
        help="docker-archive:PATH[:TAG|:@N], oci-archive:PATH[:REF], oci:DIR[:REF], "
        "dir:ROOTFS, a plain path (detected), or a registry reference (Dagger)",
    )
    scan.add_argument(
        "--scanner",
        choices=SCANNERS,
        help="vulnerability scanner (default: trivy if it can run here, else none "
        "with a note in the report)",
    )
    scan.add_argument(
        "--scanner-report",
        metavar="FORMAT:PATH",
        help="read findings from an existing report, e.g. grype:grype.json",
    )
    scan.add_argument(
        "--runner",
        choices=("auto", "local", "dagger"),
        default="auto",
        help="where the scanner runs (default: auto)",
    )
    scan.add_argument(
        "--fail-on",
        type=_severity,
        metavar="SEVERITY",
        help="lowest severity that fails the audit (default: HIGH, or the policy "
        "file's)",
    )
    scan.add_argument(
        "--min-score", type=int, metavar="N", help="fail when the score is below N"
    )
    scan.add_argument(
        "--disable-check",
        action="append",
        default=[],
        choices=check_ids(),
        metavar="CHECK",
        help=f"skip a check (repeatable): {', '.join(check_ids())}",
    )
    scan.add_argument("--policy", type=Path, metavar="FILE", help="policy file (TOML)")
    scan.add_argument(
        "--only-fixed",
        action="store_true",
        help="suppress findings that have no fixed version",
    )
    scan.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change a safety bound of the image reader (repeatable), e.g. "
        "max_layer_bytes=4GiB or max_members=100000; 0 turns a bound off",
    )
    scan.add_argument(
        "--format",
        choices=[f.value for f in ReportFormat],
        default=ReportFormat.MARKDOWN.value,
        help="report format (default: markdown)",
    )
    scan.add_argument(
        "--output", "-o", type=Path, metavar="FILE", help="write the report to FILE"
    )
    scan.add_argument("--verbose", "-v", action="store_true", help="debug logging")

    commands.add_parser(
        "schema",
        help="print the JSON Schema of the JSON report",
        description="Print the JSON Schema that every JSON report validates against.",
    )
    return parser


def configure(args: argparse.Namespace) -> Scan:
    """The builder the arguments describe; policy file first, flags override."""
    builder = Scan(args.image)
    if args.policy is not None:
        from pytest_sentry._policy_file import load_policy_file  # noqa: PLC0415

        settings = load_policy_file(args.policy)
        builder = builder.with_policy(settings.policy)
        if settings.scanner:
            builder = _with_scanner(
                builder, settings.scanner, args.runner, settings.scanner_options
            )

    if args.scanner_report:
        builder = builder.with_scanner_report(args.scanner_report)
    elif args.scanner:
        builder = _with_scanner(builder, args.scanner, args.runner)
    elif args.runner != "auto" and builder.scanner is not None:
        builder = builder.with_runner(args.runner)

    if args.fail_on is not None:
        builder = builder.fail_on(args.fail_on)
    if args.min_score is not None:
        builder = builder.min_score(args.min_score)
    if args.only_fixed:
        builder = builder.only_fixed()
    for check_id in args.disable_check:
        builder = builder.with_check(check_id, enable=False)
    for spec in args.limit:
        builder = builder.with_limit(spec)
    return builder


def _with_scanner(
    builder: Scan, name: str, runner: str, options: Mapping[str, Any] | None = None
) -> Scan:
    if name == "none":
        return builder.without_scanner()
    if name == "custom" and not options:
        raise SentryError(
            "--scanner custom: describe the custom scanner's image, arguments and "
            "output format in a policy file's [scanner] table, or use the builder"
        )
    return builder.with_scanner(name, runner=runner, **dict(options or {}))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )

    if args.command == "schema":
        sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")
        return 0

    try:
        builder = configure(args)
        result = builder.audit()
        text = render(result, args.format)
        if args.output is not None:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(text, encoding="utf-8")
            print(f"{result.verdict.value}: report written to {args.output}")
        else:
            sys.stdout.write(text)
    except (SentryError, ValueError, OSError) as error:
        print(f"pytest_sentry: {error}", file=sys.stderr)
        return EXIT_USAGE
    return result.exit_code
