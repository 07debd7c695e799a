"""Which variable names say "this holds a credential", matched as whole words.

A name is split into words on ``_``, ``-``, ``.``, spaces, digits and
camelCase humps (``dbPassword`` -> DB PASSWORD, ``APIKey`` -> API KEY), and
only whole words count: ``AUTH`` matches ``BASIC_AUTH`` but not ``AUTHOR``,
``TOKEN`` matches ``NPM_TOKEN`` but not ``TOKENIZERS_PARALLELISM``.

Three lists keep the rule honest:

- a bare ``KEY`` is not enough (``GPG_KEY``, ``CACHE_KEY``, ``KEY_ID`` are
  not secrets); it takes a qualifier such as ``API``, ``ACCESS`` or
  ``PRIVATE`` before it;
- a name whose last word says the value is *about* a credential rather than
  the credential (``PASSWORD_FILE``, ``TOKEN_URL``, ``SECRET_NAME``,
  ``AUTH_TYPE``, ``*_VERSION``, ``*_SHA256``) is not sensitive; ``*_FILE`` in
  particular is the Docker-secrets indirection the check recommends;
- names with ``PUBLIC``/``PUBLISHABLE``/``GPG`` describe public material.
"""

from __future__ import annotations

import re

_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")

# Words that alone mark a credential.
_SENSITIVE = frozenset(
    {
        "PASSWORD",
        "PASSWORDS",
        "PASSWD",
        "PASS",
        "PWD",
        "PASSPHRASE",
        "SECRET",
        "SECRETS",
        "TOKEN",
        "TOKENS",
        "APIKEY",
        "APIKEYS",
        "AUTH",
        "AUTHTOKEN",
        "ACCESSTOKEN",
        "ACCESSKEY",
        "SECRETKEY",
        "PRIVATEKEY",
        "CREDENTIAL",
        "CREDENTIALS",
        "CREDS",
        "BEARER",
        "PSK",
        "CONNECTIONSTRING",
    }
)

# One word made of a prefix and these (PGPASSWORD, MYSQLPWD is not one:
# PWD is too short to match inside a word safely).
_SENSITIVE_SUFFIXES = ("PASSWORD", "PASSWD", "SECRET", "APIKEY", "TOKEN")

# Words that make a following KEY a credential: API_KEY, PRIVATE_KEY...
_KEY_QUALIFIERS = frozenset(
    {
        "API",
        "ACCESS",
        "SECRET",
        "PRIVATE",
        "SIGNING",
        "ENCRYPTION",
        "MASTER",
        "ACCOUNT",
        "LICENSE",
        "SESSION",
        "HMAC",
        "JWT",
        "SHARED",
        "STORAGE",
        "APP",
        "CLIENT",
        "SERVICE",
        "ADMIN",
        "AUTH",
    }
)

# A last word that makes the value metadata about a credential.
_QUALIFIER_LAST = frozenset(
    {
        "FILE", "FILES", "FILENAME", "PATH", "DIR", "DIRECTORY", "LOCATION",
        "VERSION", "VER", "SHA", "SHA1", "SHA256", "SHA512", "MD5", "CHECKSUM",
        "FINGERPRINT", "ID", "IDS", "NAME", "NAMES", "USER", "USERNAME", "LOGIN",
        "TYPE", "KIND", "MODE", "METHOD", "PROVIDER", "BACKEND", "STRATEGY",
        "ENABLED", "DISABLED", "REQUIRED", "ENABLE", "DISABLE",
        "LENGTH", "LEN", "SIZE", "MIN", "MAX", "COUNT", "LIMIT",
        "TTL", "TIMEOUT", "EXPIRY", "EXPIRES", "EXPIRATION", "LIFETIME", "AGE",
        "INTERVAL", "RETRIES", "HEADER", "PREFIX", "FORMAT", "PATTERN", "REGEX",
        "ALGORITHM", "ALG", "ISSUER", "AUDIENCE", "SCOPE", "SCOPES", "REALM",
        "URL", "URI", "ENDPOINT", "HOST", "HOSTNAME", "PORT", "SERVER", "DOMAIN",
        "ADDR", "ADDRESS", "REGION", "ARN", "REF",
        "COMMAND", "CMD", "HELPER", "POLICY", "VAR", "VARIABLE", "ENV", "KEYRING",
    }
)  # fmt: skip

# Any of these words: the material is public by design.
_PUBLIC = frozenset({"PUBLIC", "PUB", "PUBLISHABLE", "GPG", "GPGKEY", "GPGKEYS"})

# Exact names whose sensitive-looking word means something else.
_BENIGN_NAMES = frozenset({"PWD", "OLDPWD", "GPG_KEY", "GPG_KEYS", "KEY_ID"})


def words(name: str) -> tuple[str, ...]:
    """The upper-cased words of an identifier: ``dbPassword`` -> DB, PASSWORD."""
    return tuple(word.upper() for word in _WORDS.findall(name))


def is_sensitive_name(name: str) -> bool:
    """True when ``name`` says its value is a credential (see module doc)."""
    if name.upper() in _BENIGN_NAMES:
        return False
    parts = words(name)
    if not parts or parts[-1] in _QUALIFIER_LAST:
        return False
    if any(part in _PUBLIC for part in parts):
        return False

    for index, part in enumerate(parts):
        if part in _SENSITIVE or part.endswith(_SENSITIVE_SUFFIXES):
            return True
        if part in ("KEY", "KEYS") and index and parts[index - 1] in _KEY_QUALIFIERS:
            return True
    return False


def is_aws_name(name: str) -> bool:
    """True when ``name`` has the word AWS (``AWS_SECRET_ACCESS_KEY``)."""
    return "AWS" in words(name)
