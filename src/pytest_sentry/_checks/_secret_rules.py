"""The table of secret patterns: one entry per family, each with a stable id.

Each family has one or more regular expressions with a ``body`` group, the
random part of the secret. A match counts only when its body is not a
placeholder (``ghp_xxxx...``, ``AKIA...EXAMPLE``, ``${TOKEN}``) and, where the
family says so, passes a validator (a JWT's header and payload must decode
to JSON objects; a PEM block needs a body). The ids appear in evidence and
in the corpus measurements of the test suite.

Decisions, so that they are made once and written down:

- Stripe test-mode keys (``sk_test_``, ``rk_test_``) are findings: they give
  full access to the account's test data and its configuration, and Stripe
  asks that they be kept secret like live keys. Publishable keys (``pk_``)
  are public by design and are not.
- AWS documentation keys (ending in ``EXAMPLE``) are not findings; gitleaks
  agrees, detect-secrets does not.
- An AWS secret access key is 40 base64 characters, a shape that many
  harmless strings have; it counts only when the environment also holds an
  AWS access key id, the variable's name has the word AWS, or the value
  itself mentions aws (``aws_secret_access_key = ...``).
- Unsigned JWTs (``alg: none``, empty signature) and header-plus-payload
  JWTs still count: they carry the same claims.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from pytest_sentry._checks._placeholders import is_placeholder, is_trivial
from pytest_sentry._checks._secret_names import is_sensitive_name

KindOf = Callable[["re.Match[str]"], str]
Validator = Callable[["re.Match[str]"], bool]


@dataclass(frozen=True)
class Family:
    """One kind of secret: its id, its patterns and how to name a match."""

    id: str
    title: str
    patterns: tuple[re.Pattern[str], ...]
    kind: KindOf
    validate: Validator = field(default=lambda match: True)
    #: Only searched when something around the value says "AWS".
    needs_aws_context: bool = False


@dataclass(frozen=True)
class Hit:
    """Where a family matched in a text; ``start``/``end`` span the secret."""

    family: str
    kind: str
    start: int
    end: int


def _by_prefix(kinds: dict[str, str], default: str) -> KindOf:
    return lambda match: kinds.get(match.group("prefix") or "", default)


def _jwt_is_json(match: re.Match[str]) -> bool:
    header, _, payload = match.group("body").partition(".")
    return _b64_json_object(header) and _b64_json_object(payload)


def _b64_json_object(part: str) -> bool:
    try:
        decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        return isinstance(json.loads(decoded), dict)
    except (binascii.Error, ValueError, RecursionError):
        # RecursionError: a crafted payload nested thousands deep must not
        # crash the check; it is not a token anyone issued.
        return False


_PEM_HEADER_LINE = re.compile(r"^[A-Za-z-]+: .*$", re.MULTILINE)


def _pem_has_body(match: re.Match[str]) -> bool:
    # A header around "anything" is a doc snippet; a real key has hundreds of
    # base64 characters. Sixteen keeps doc snippets out and truncated keys in.
    # Env values often carry the newlines as a literal backslash-n.
    body = _PEM_HEADER_LINE.sub("", match.group("body").replace("\\n", "\n"))
    return len(re.sub(r"[^A-Za-z0-9+/=]", "", body)) >= 16


def _pem_kind(match: re.Match[str]) -> str:
    label = match.group("label").strip()
    encrypted = "ENCRYPTED" in match.group("body")
    names = {
        "RSA": "RSA private key",
        "EC": "EC private key",
        "DSA": "DSA private key",
        "OPENSSH": "OpenSSH private key",
        "ENCRYPTED": "encrypted private key",
        "PGP": "PGP private key block",
        "SSH2 ENCRYPTED": "encrypted SSH2 private key",
    }
    kind = names.get(label, "private key")
    return f"encrypted {kind}" if encrypted and "encrypted" not in kind else kind


def _aws_secret_shape(match: re.Match[str]) -> bool:
    body = match.group("body")
    return (
        any(c.isupper() for c in body)
        and any(c.islower() for c in body)
        and any(c.isdigit() for c in body)
    )


def _sensitive_key(match: re.Match[str]) -> bool:
    return is_sensitive_name(match.group("key")) and not is_trivial(match.group("body"))


def _assignment_kind(match: re.Match[str]) -> str:
    return f"credential assigned to {match.group('key')[:40]}"


_WORD_END = r"(?![A-Za-z0-9_-])"

FAMILIES: tuple[Family, ...] = (
    Family(
        "private-key",
        "Private keys (PEM, OpenSSH, PGP, encrypted)",
        (
            re.compile(
                r"-----BEGIN (?P<label>(?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP "
                r"|SSH2 ENCRYPTED )?)PRIVATE KEY(?: BLOCK)?-----"
                r"(?P<body>.*?)(?:-----END [A-Z0-9 ]*-----|$)",
                re.DOTALL,
            ),
        ),
        _pem_kind,
        _pem_has_body,
    ),
    Family(
        "aws-access-key",
        "AWS access key ids (AKIA, ASIA, ABIA, ACCA, A3T)",
        (
            re.compile(
                r"(?<![A-Za-z0-9])(?P<prefix>AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])"
                r"(?P<body>[A-Z0-9]{16})(?![A-Za-z0-9])"
            ),
        ),
        _by_prefix(
            {"AKIA": "AWS access key id", "ASIA": "AWS temporary access key id"},
            "AWS access key id",
        ),
    ),
    Family(
        "aws-secret-key",
        "AWS secret access keys (only next to an AWS key id or name)",
        (
            re.compile(
                r"(?<![A-Za-z0-9/+=])(?P<body>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
            ),
        ),
        lambda match: "AWS secret access key",
        _aws_secret_shape,
        needs_aws_context=True,
    ),
    Family(
        "github-token",
        "GitHub tokens (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_)",
        (
            re.compile(
                r"(?<![A-Za-z0-9_])(?P<prefix>gh[pousr])_(?P<body>[A-Za-z0-9]{36,251})"
                + _WORD_END
            ),
            re.compile(
                r"(?<![A-Za-z0-9_])(?P<prefix>github_pat)_"
                r"(?P<body>[A-Za-z0-9]{22}_[A-Za-z0-9]{59,})" + _WORD_END
            ),
        ),
        _by_prefix(
            {
                "ghp": "GitHub personal access token",
                "gho": "GitHub OAuth token",
                "ghu": "GitHub user-to-server token",
                "ghs": "GitHub app installation token",
                "ghr": "GitHub refresh token",
                "github_pat": "GitHub fine-grained personal access token",
            },
            "GitHub token",
        ),
    ),
    Family(
        "slack-token",
        "Slack tokens and webhook URLs",
        (
            re.compile(
                r"(?<![A-Za-z0-9-])(?P<prefix>xox[abposr])-"
                r"(?P<body>(?:[0-9]+-)+[A-Za-z0-9]{10,})(?![A-Za-z0-9-])"
            ),
            re.compile(
                r"(?<![A-Za-z0-9-])(?P<prefix>xoxe)(?:\.xox[bp])?-[0-9]-"
                r"(?P<body>[A-Za-z0-9]{60,})" + _WORD_END
            ),
            re.compile(
                r"(?<![A-Za-z0-9-])(?P<prefix>xapp)-[0-9]-"
                r"(?P<body>[A-Z0-9]+-[0-9]+-[A-Za-z0-9]{20,})" + _WORD_END
            ),
            re.compile(
                r"(?P<prefix>hooks)\.slack\.com/(?:services|workflows|triggers)/"
                r"(?P<body>[A-Za-z0-9_/]{20,})"
            ),
        ),
        _by_prefix(
            {
                "xoxb": "Slack bot token",
                "xoxp": "Slack user token",
                "xoxa": "Slack workspace access token",
                "xoxr": "Slack refresh token",
                "xoxs": "Slack legacy token",
                "xoxo": "Slack legacy token",
                "xoxe": "Slack configuration token",
                "xapp": "Slack app-level token",
                "hooks": "Slack webhook URL",
            },
            "Slack token",
        ),
    ),
    Family(
        "stripe-key",
        "Stripe secret and restricted keys, live and test mode",
        (
            re.compile(
                r"(?<![A-Za-z0-9_])(?P<prefix>[sr]k_(?:live|test|prod))_"
                r"(?P<body>[A-Za-z0-9]{20,247})" + _WORD_END
            ),
        ),
        lambda match: (
            "Stripe test-mode key"
            if match.group("prefix").endswith("test")
            else "Stripe live key"
        ),
    ),
    Family(
        "google-api-key",
        "Google API keys (AIza...)",
        (re.compile(r"(?<![A-Za-z0-9_-])AIza(?P<body>[0-9A-Za-z_-]{35})" + _WORD_END),),
        lambda match: "Google API key",
    ),
    Family(
        "jwt",
        "JSON Web Tokens whose header and payload decode to JSON",
        (
            re.compile(
                r"(?<![A-Za-z0-9_-])(?P<body>eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,})"
                r"(?:\.[A-Za-z0-9_-]*)?" + _WORD_END
            ),
        ),
        lambda match: "JSON Web Token",
        _jwt_is_json,
    ),
    Family(
        "gcp-service-account",
        "Google service account key files (JSON)",
        (re.compile(r"\"type\"\s*:\s*\"(?P<body>service_account)\""),),
        lambda match: "Google service account key",
    ),
    Family(
        "credentials-in-url",
        "URLs carrying a password (database, broker, HTTP basic auth)",
        (
            re.compile(
                r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]{1,20})://"
                r"[^\s:/?#@\"'<>]*:(?P<body>[^\s/?#@\"'<>]+)@[^\s/?#@\"'<>:]+"
            ),
        ),
        lambda match: f"password in a {match.group('scheme').lower()} URL",
        lambda match: not is_trivial(match.group("body")),
    ),
    Family(
        "credential-assignment",
        "Assignments to credential-named keys inside a value (password=...)",
        (
            re.compile(
                r"(?<![A-Za-z0-9_.])(?P<key>[A-Za-z_][A-Za-z0-9_.-]{0,63})[\"']?"
                r"[ \t]*(?::=|=>|=(?!=)|:(?![:=]))[ \t]*"
                r"(?P<body>\"[^\"\n]*\"|'[^'\n]*'|`[^`\n]*`|[^\s,;&\"'`]+)"
            ),
        ),
        _assignment_kind,
        _sensitive_key,
    ),
)

_AWS_MENTION = re.compile(r"(?<![A-Za-z])aws(?![A-Za-z])", re.IGNORECASE)


def mentions_aws(text: str) -> bool:
    return _AWS_MENTION.search(text) is not None


def find(text: str, *, aws_context: bool = False) -> Iterator[Hit]:
    """Every secret in ``text``, family by family in table order."""
    for family in FAMILIES:
        if family.needs_aws_context and not (aws_context or mentions_aws(text)):
            continue
        for pattern in family.patterns:
            for match in pattern.finditer(text):
                if is_placeholder(match.group("body")) or not family.validate(match):
                    continue
                yield Hit(family.id, family.kind(match), *match.span("body"))


def redact(text: str) -> str:
    """``text`` with every secret it holds replaced by ``***``."""
    spans = sorted({(hit.start, hit.end) for hit in find(text)})
    pieces, cursor = [], 0
    for start, end in spans:
        if start < cursor:
            continue
        pieces += [text[cursor:start], "***"]
        cursor = end
    return "".join([*pieces, text[cursor:]])
