"""Secrets in environment: each secret kind, the non-findings, and masking.

Planted secrets are generated here from a seeded RNG rather than written
out, so they belong to no real account and the repository holds no
credential-shaped literals for other scanners to trip over.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import string
from pathlib import Path

import pytest

from imagebuilder import build_docker_archive, load_image
from pytest_sentry._checks._secret_names import is_sensitive_name, words
from pytest_sentry._checks._secret_rules import FAMILIES, redact
from pytest_sentry._checks._secrets import (
    SecretsInEnvCheck,
    family_ids,
    scan_env,
    scan_variable,
    shown_prefix,
)
from pytest_sentry._image.interface import FileSystem, Image, ImageConfig
from pytest_sentry._models import CheckStatus, Severity

CHECK = SecretsInEnvCheck()
_RNG = random.Random(20240601)  # noqa: S311 - reproducible test data, not crypto
# Every random string handed out, so the leak test can look for pieces of it.
_GENERATED: list[str] = []
UPPER = string.ascii_uppercase + string.digits
ALNUM = string.ascii_letters + string.digits
B64 = ALNUM + "+/"


def rand(alphabet: str, length: int) -> str:
    value = "".join(_RNG.choice(alphabet) for _ in range(length))
    _GENERATED.append(value)
    return value


def b64url(document: dict[str, object]) -> str:
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def pem(label: str, extra: str = "") -> str:
    body = "\n".join(rand(B64, 64) for _ in range(5))
    return f"-----BEGIN {label}-----\n{extra}{body}\n-----END {label}-----\n"


def aws_secret() -> str:
    # Real secret access keys always mix cases and digits; force all three so
    # a seeded draw cannot produce an all-letter string by chance.
    return rand(B64, 37) + "aZ9"


AWS_SECRET = aws_secret()
JWT = ".".join(
    [
        b64url({"alg": "HS256", "typ": "JWT"}),
        b64url({"sub": "1234567890", "name": "Test", "iat": 1516239022}),
        rand(ALNUM + "-_", 43),
    ]
)

# (variable, value, family, kind): every one must be found.
POSITIVES: list[tuple[str, str, str, str]] = [
    ("S3_ID", "AKIA" + rand(UPPER, 16), "aws-access-key", "AWS access key id"),
    ("STS_ID", "ASIA" + rand(UPPER, 16), "aws-access-key", "AWS temporary access"),
    ("AWS_SECRET_ACCESS_KEY", AWS_SECRET, "aws-secret-key", "AWS secret access"),
    ("CFG", "ghp_" + rand(ALNUM, 36), "github-token", "personal access token"),
    ("CFG", "gho_" + rand(ALNUM, 36), "github-token", "OAuth token"),
    ("CFG", "ghu_" + rand(ALNUM, 36), "github-token", "user-to-server"),
    ("CFG", "ghs_" + rand(ALNUM, 36), "github-token", "app installation token"),
    ("CFG", "ghr_" + rand(ALNUM, 36), "github-token", "refresh token"),
    (
        "CFG",
        f"github_pat_{rand(ALNUM, 22)}_{rand(ALNUM, 59)}",
        "github-token",
        "fine-grained",
    ),
    ("SESSION", JWT, "jwt", "JSON Web Token"),
    ("AUTHZ_HEADER", f"Bearer {JWT}", "jwt", "JSON Web Token"),
    ("TLS", pem("RSA PRIVATE KEY"), "private-key", "RSA private key"),
    ("TLS", pem("EC PRIVATE KEY"), "private-key", "EC private key"),
    ("TLS", pem("DSA PRIVATE KEY"), "private-key", "DSA private key"),
    ("TLS", pem("PRIVATE KEY"), "private-key", "private key"),
    ("SSH", pem("OPENSSH PRIVATE KEY"), "private-key", "OpenSSH private key"),
    ("TLS", pem("ENCRYPTED PRIVATE KEY"), "private-key", "encrypted private key"),
    (
        "TLS",
        pem("RSA PRIVATE KEY", "Proc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n"),
        "private-key",
        "encrypted RSA private key",
    ),
    ("GPG", pem("PGP PRIVATE KEY BLOCK"), "private-key", "PGP private key block"),
    # Env values often carry a PEM with literal backslash-n separators.
    ("TLS", pem("RSA PRIVATE KEY").replace("\n", "\\n"), "private-key", "RSA"),
    (
        "DB",
        f"postgres://app:{rand(ALNUM, 16)}@db:5432/app",
        "credentials-in-url",
        "postgres",
    ),
    (
        "DB",
        f"postgresql://app:{rand(ALNUM, 12)}@db/app",
        "credentials-in-url",
        "postgresql",
    ),
    (
        "DB",
        f"mysql://root:{rand(ALNUM, 10)}@mysql:3306/x",
        "credentials-in-url",
        "mysql",
    ),
    (
        "DB",
        f"mongodb+srv://svc:{rand(ALNUM, 20)}@cluster0.mongodb.net/db",
        "credentials-in-url",
        "mongodb+srv",
    ),
    (
        "CACHE",
        f"redis://:{rand(ALNUM, 24)}@redis:6379/0",
        "credentials-in-url",
        "redis",
    ),
    ("MQ", f"amqp://guest:{rand(ALNUM, 8)}@rabbit:5672/", "credentials-in-url", "amqp"),
    (
        "PROXY",
        f"https://bob:{rand(ALNUM, 14)}@proxy.corp",
        "credentials-in-url",
        "https",
    ),
    (
        "CHAT",
        "xoxb-" + "1234567890-" + "2345678901-" + rand(ALNUM, 24),
        "slack-token",
        "bot",
    ),
    ("CHAT", "xoxp-" + "123456789012-" + rand(ALNUM, 32), "slack-token", "user token"),
    ("CHAT", "xoxa-2-" + "511111111-" + rand(ALNUM, 18), "slack-token", "workspace"),
    ("CHAT", "xoxr-" + "523423-" + rand(ALNUM, 18), "slack-token", "refresh token"),
    ("CHAT", "xoxs-" + "416843729158-" + rand(ALNUM, 12), "slack-token", "legacy"),
    (
        "CHAT",
        f"xapp-1-A0{rand(UPPER, 9)}-5171572773297-{rand(ALNUM, 64)}",
        "slack-token",
        "app-level",
    ),
    (
        "HOOK",
        "https://hooks.slack.com/services/"
        f"T{rand(UPPER, 8)}/B{rand(UPPER, 8)}/{rand(ALNUM, 24)}",
        "slack-token",
        "webhook",
    ),
    ("PAY", "sk_live_" + rand(ALNUM, 24), "stripe-key", "Stripe live key"),
    ("PAY", "rk_live_" + rand(ALNUM, 24), "stripe-key", "Stripe live key"),
    ("PAY", "sk_test_" + rand(ALNUM, 24), "stripe-key", "Stripe test-mode key"),
    ("MAPS", "AIza" + rand(ALNUM + "-_", 35), "google-api-key", "Google API key"),
    (
        "GOOGLE_APPLICATION_CREDENTIALS_JSON",
        '{"type": "service_account", "project_id": "demo"}',
        "gcp-service-account",
        "service account",
    ),
    (
        "JAVA_OPTS",
        f"-Xmx1g -Dspring.datasource.password={rand(ALNUM, 14)} -Dx=y",
        "credential-assignment",
        "spring.datasource.password",
    ),
    (
        "SPRING_APPLICATION_JSON",
        json.dumps({"db": {"password": rand(ALNUM, 14)}}),
        "credential-assignment",
        "password",
    ),
    ("DB_PASSWORD", rand(ALNUM, 12), "sensitive-name", "credential-named"),
    ("BASIC_AUTH", "admin:" + rand(ALNUM, 10), "sensitive-name", "credential-named"),
    ("NPM_TOKEN", rand(ALNUM, 30), "sensitive-name", "credential-named"),
    ("API_KEY", rand(ALNUM, 32), "sensitive-name", "credential-named"),
    ("APIKEY", rand(ALNUM, 32), "sensitive-name", "credential-named"),
    ("serviceApiKey", rand(ALNUM, 32), "sensitive-name", "credential-named"),
    ("PRIVATE_KEY", rand(ALNUM, 48), "sensitive-name", "credential-named"),
    ("CLIENT_CREDENTIALS", rand(ALNUM, 20), "sensitive-name", "credential-named"),
    ("PGPASSWORD", rand(ALNUM, 9), "sensitive-name", "credential-named"),
    ("MYSQL_ROOT_PASSWORD", "Tr0ub4dor&3", "sensitive-name", "credential-named"),
    ("SECRET_KEY_BASE", rand("abcdef0123456789", 64), "sensitive-name", "credential"),
]

# (variable, value): none of these is a finding.
NEGATIVES: list[tuple[str, str]] = [
    ("AUTHOR", "Jane Doe <jane@example.org>"),
    ("TOKENIZERS_PARALLELISM", "false"),
    ("DB_PASSWORD", ""),
    ("DB_PASSWORD", "   "),
    ("DB_PASSWORD_FILE", "/run/secrets/db_password"),
    ("MYSQL_PASSWORD_FILE", "/run/secrets/mysql"),
    ("GPG_KEY", "A035C8C19219BA821ECEA86B64E628F8D684696D"),
    ("GPG_KEYS", "B9E2F5981AA6E0CD28160D9FF13993A75599653C 8B8A4A2C1C4B3E3A"),
    ("PYTHON_VERSION", "3.12.1"),
    (
        "PYTHON_SHA256",
        "d01ec6a33bc10009b09c17da95cc2759af5a580a7316b3a446eb4190e13f97b2",
    ),
    ("KEY_ID", "0x8B48AD6246925553"),
    ("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
    ("PWD", "/app"),
    ("SECRET_KEY", "${SECRET_KEY}"),
    ("API_TOKEN", "<your-api-token>"),
    ("API_TOKEN", "your_api_token_here"),
    ("ADMIN_PASSWORD", "changeme"),
    ("ADMIN_PASSWORD", "********"),
    ("AUTH_TYPE", "basic"),
    ("AUTH_ENABLED", "true"),
    ("PASSWORD_MIN_LENGTH", "12"),
    ("TOKEN_URL", "https://auth.internal/oauth/token"),
    ("OAUTH_TOKEN_TTL", "3600"),
    ("VAULT_SECRET_PATH", "secret/data/app"),
    ("DATABASE_URL", "postgres://app@db:5432/app"),
    ("DATABASE_URL", "postgres://app:${DB_PASSWORD}@db:5432/app"),
    ("DATABASE_URL", "postgres://app:****@db:5432/app"),
    ("REDIS_URL", "redis://redis:6379/0"),
    ("DOCS", "https://example.com/path?user=a"),
    ("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE"),
    ("AWS_ACCESS_KEY_ID", "AKIAXXXXXXXXXXXXXXXX"),
    ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ("BUILD_CHECKSUM", rand(B64, 37) + "aZ9"),
    ("CFG", "ghp_" + "x" * 36),
    ("CFG", "github_pat_" + "x" * 22 + "_" + "x" * 59),
    ("CFG", "foo_" + rand(ALNUM, 36)),
    ("STRIPE_PUBLISHABLE_KEY", "pk_live_" + rand(ALNUM, 24)),
    ("PUBLIC_KEY", rand(ALNUM, 44)),
    (
        "CERT",
        "-----BEGIN CERTIFICATE-----\nMIIB"
        + rand(B64, 60)
        + "\n-----END CERTIFICATE-----",
    ),
    (
        "SSH_PUB",
        "-----BEGIN PUBLIC KEY-----\nMIIB"
        + rand(B64, 60)
        + "\n-----END PUBLIC KEY-----",
    ),
    ("SNIPPET", "-----BEGIN PRIVATE KEY-----\nanything\n-----END PRIVATE KEY-----"),
    ("NOT_A_JWT", "eyJhbGciOi.eyJzdWIiOi.abc"),
    ("HEADER_ONLY", b64url({"alg": "HS256"})),
    ("CHAT", "xoxb-xxxxxxxxx-xxxxxxxxxx-xxxxxxxxxxxx"),
    ("HOOK", "https://hooks.slack.com/services/Txxxxxxxx/Bxxxxxxxx/xxxxxxxxxxxxxxxx"),
    ("PAY", "sk_live_"),
    ("JAVA_OPTS", "-Xmx1g -Dspring.datasource.username=app"),
    ("JAVA_OPTS", "-Dspring.datasource.password=${DB_PASSWORD}"),
    ("LANG", "C.UTF-8"),
    ("TZ", "Europe/Berlin"),
]


@pytest.mark.parametrize(
    ("name", "value", "family", "kind"),
    POSITIVES,
    ids=[f"{p[2]}-{i}" for i, p in enumerate(POSITIVES)],
)
def test_each_secret_kind_is_found(
    name: str, value: str, family: str, kind: str
) -> None:
    finding = scan_variable(name, value)

    assert finding is not None
    assert finding.family == family
    assert kind in finding.kind
    assert finding.name == name


@pytest.mark.parametrize(
    ("name", "value"), NEGATIVES, ids=[f"{n[0]}-{i}" for i, n in enumerate(NEGATIVES)]
)
def test_non_secrets_are_not_findings(name: str, value: str) -> None:
    assert scan_variable(name, value) is None


def test_aws_secret_key_counts_next_to_an_access_key_id() -> None:
    env = {"S3_ID": "AKIA" + rand(UPPER, 16), "S3_SECRET": aws_secret()}

    families = {f.name: f.family for f in scan_env(env)}

    assert families == {"S3_ID": "aws-access-key", "S3_SECRET": "aws-secret-key"}


def test_aws_secret_shape_alone_is_not_a_finding() -> None:
    assert scan_env({"BUILD_DIGEST": aws_secret()}) == ()


def test_aws_secret_of_wrong_length_is_not_a_finding() -> None:
    assert scan_variable("AWS_CONFIG", "x=" + aws_secret() + "a") is None
    assert scan_variable("AWS_CONFIG", "x=" + aws_secret()[:-1]) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("AUTH", True),
        ("BASIC_AUTH", True),
        ("AUTHOR", False),
        ("AUTHORS_FILE", False),
        ("X-Auth-Token", True),
        ("app.db.password", True),
        ("dbPassword", True),
        ("APIKey", True),
        ("SERVICE_API_KEY", True),
        ("CACHE_KEY", False),
        ("KEY", False),
        ("PASSWORD_FILE", False),
        ("TOKEN_URL", False),
        ("SECRET_NAME", False),
        ("NODE_VERSION", False),
        ("PYTHON_SHA256", False),
        ("GPG_KEY", False),
        ("NGINX_GPG_KEYS", False),
        ("PASSENGER_APP_ENV", False),
        ("BYPASS_PROXY", False),
        ("PGPASSWORD", True),
        ("SECRETARY", False),
    ],
)
def test_names_match_whole_words(name: str, expected: bool) -> None:
    assert is_sensitive_name(name) is expected, words(name)


def test_word_split_handles_camel_case_and_separators() -> None:
    assert words("myAPIKey.v2-basic_AUTH") == (
        "MY",
        "API",
        "KEY",
        "V",
        "2",
        "BASIC",
        "AUTH",
    )


@pytest.mark.parametrize(
    ("value", "secret", "shown"),
    [
        ("AKIA" + "Q" * 16, "Q" * 16, "AKIA"),
        ("hunt3r", "hunt3r", "h"),
        ("abc", "abc", ""),
        ("postgres://u:pw@h/db", "pw", ""),
        ("postgres://u:" + "p" * 20 + "@h/db", "p" * 20, "post"),
    ],
)
def test_shown_prefix_never_exceeds_a_quarter(
    value: str, secret: str, shown: str
) -> None:
    assert shown_prefix(value, secret) == shown


def test_evidence_line_format() -> None:
    finding = scan_variable("DB_PASSWORD", "hunt3r")

    assert finding is not None
    assert finding.evidence == (
        "DB_PASSWORD: value of a credential-named variable [sensitive-name] (h…)"
    )


def test_every_family_has_a_unique_id_and_a_title() -> None:
    ids = list(family_ids())

    assert len(ids) == len(set(ids)) == len(FAMILIES) + 1
    assert all(family.title for family in FAMILIES)


def test_redact_masks_every_secret_in_a_text() -> None:
    token = "ghp_" + rand(ALNUM, 36)
    text = f"curl -H 'Authorization: {token}' https://u:{rand(ALNUM, 12)}@h/"

    redacted = redact(text)

    assert token[4:] not in redacted
    assert redacted.startswith("curl -H 'Authorization: ghp_***'")
    assert "https://u:***@h/" in redacted


def _image_with_env(tmp_path: Path, env: list[str]) -> Image:
    path = build_docker_archive(tmp_path / "env.tar", [[("/app", "dir")]], {"Env": env})
    return load_image(path)


def test_check_fails_with_one_evidence_line_per_variable(tmp_path: Path) -> None:
    env = [f"V{i}_{name}={value}" for i, (name, value, _, _) in enumerate(POSITIVES)]
    # BUILD_CHECKSUM has the shape of an AWS secret key; next to the AWS key
    # ids above it would rightly become one, which its own test covers.
    env += [f"{n}={v}" for n, v in NEGATIVES if n not in ("PATH", "BUILD_CHECKSUM")]

    result = CHECK.run(_image_with_env(tmp_path, env))

    assert result.status is CheckStatus.FAIL
    assert result.severity is Severity.HIGH
    assert result.id == "secrets-in-env"
    assert result.name == "Secrets in Environment"
    assert len(result.evidence) == len(POSITIVES)
    for line, (index, (name, _, family, _)) in zip(
        result.evidence, enumerate(POSITIVES), strict=True
    ):
        assert line.startswith(f"V{index}_{name}: ")
        assert f"[{family}]" in line
        assert line.endswith("…)")
    assert "Dagger secret" in result.remediation
    assert "rotate" in result.remediation


def test_check_passes_on_a_clean_environment(tmp_path: Path) -> None:
    env = [f"{name}={value}" for name, value in NEGATIVES]

    result = CHECK.run(_image_with_env(tmp_path, env))

    assert result.status is CheckStatus.PASS
    assert result.evidence == ()
    assert "environment variables" in result.details


def test_later_duplicate_variable_wins_like_a_runtime(tmp_path: Path) -> None:
    env = [f"DB_PASSWORD={rand(ALNUM, 12)}", "DB_PASSWORD="]

    assert CHECK.run(_image_with_env(tmp_path, env)).status is CheckStatus.PASS


def test_no_config_is_a_skip() -> None:
    image = Image(reference="dir:rootfs", config=None, filesystem=FileSystem())

    result = CHECK.run(image)

    assert result.status is CheckStatus.SKIP
    assert "no config" in result.details


def test_no_planted_secret_leaks_into_result_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env = [f"V{i}_{name}={value}" for i, (name, value, _, _) in enumerate(POSITIVES)]

    with caplog.at_level(logging.DEBUG):
        image = _image_with_env(tmp_path, env)
        result = CHECK.run(image)

    outputs = {
        "json": result.model_dump_json(),
        "str": str(result),
        "repr": repr(result),
        "logs": caplog.text,
    }
    assert result.status is CheckStatus.FAIL
    for _, value, family, _ in POSITIVES:
        for where, text in outputs.items():
            assert value not in text, f"{family} secret in full in {where}"
    # Nor any eight consecutive characters of a random part: the shown prefix
    # is at most four characters.
    for secret in (g for g in _GENERATED if len(g) >= 8):
        for start in range(len(secret) - 7):
            piece = secret[start : start + 8]
            for where, text in outputs.items():
                assert piece not in text, f"{piece!r} in {where}"


def test_config_env_map_is_what_the_check_reads() -> None:
    config = ImageConfig(env=("A=1", "NO_EQUALS", "B=x=y"))

    assert config.env_map == {"A": "1", "NO_EQUALS": "", "B": "x=y"}


@pytest.mark.parametrize("value", ["password", "admin", "postgres", "s3cr3t"])
def test_weak_real_words_are_findings(value: str) -> None:
    # Services accept these; only sample markers such as changeme are skipped.
    assert scan_variable("DB_PASSWORD", value) is not None


@pytest.mark.parametrize(
    ("env", "status", "details"),
    [
        ([], CheckStatus.PASS, "The image config sets no environment variables."),
        (["LANG=C"], CheckStatus.PASS, "The image's one environment variable holds"),
        (["A=1", "B=2"], CheckStatus.PASS, "None of the image's 2 environment"),
        (
            ["LANG=C", "DB_PASSWORD=hunt3r"],
            CheckStatus.FAIL,
            "1 of 2 environment variables holds a credential: DB_PASSWORD.",
        ),
        (
            ["API_KEY=k3y-k3y-k3y", "DB_PASSWORD=hunt3r"],
            CheckStatus.FAIL,
            "2 of 2 environment variables hold credentials: API_KEY, DB_PASSWORD.",
        ),
    ],
)
def test_details_sentence(
    tmp_path: Path, env: list[str], status: CheckStatus, details: str
) -> None:
    result = CHECK.run(_image_with_env(tmp_path, env))

    assert result.status is status
    assert result.details.startswith(details)


def test_deeply_nested_jwt_header_does_not_crash_the_check() -> None:
    header = b64url({"a": 1}).encode()
    nested = base64.urlsafe_b64encode(b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    value = f"{nested.decode().rstrip('=')}.{b64url({'sub': 1})}.sig"

    assert header.startswith(b"eyJ")
    assert scan_variable("SESSION", value) is None


def test_long_repetitive_values_are_not_findings() -> None:
    # Shapes that make careless patterns backtrack; none holds a secret.
    for value in ("a-" * 50_000, "k=v " * 25_000, "x://" + ":" * 100_000):
        assert scan_variable("APP_SETTING", value) is None
