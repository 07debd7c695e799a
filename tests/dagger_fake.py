"""A Dagger engine session stand-in: a GraphQL endpoint on 127.0.0.1.

The dagger-io SDK joins an existing session when ``DAGGER_SESSION_PORT`` and
``DAGGER_SESSION_TOKEN`` are set: it POSTs GraphQL to
``http://127.0.0.1:PORT/query`` with HTTP basic auth (the token as user name,
empty password), first an introspection query to learn the schema, then one
query per ``await``. This server answers from a schema covering the part of
the engine API that pytest_sentry uses, executed by graphql-core with real
resolvers, so the SDK's query builder, id resolution, secrets and error
handling all run for real. It records every query and what it did.

What it fakes: objects are kept in memory (tests/dagger_fake_api.py); ids
are counters, except a container's, which follows from its pipeline as in the
engine; ``export``
copies a real docker-archive to the requested path; an exec does not run,
it answers with a canned exit code, stdout, stderr and output files. Like
the engine, an exec is evaluated once per distinct pipeline (its cache), but
every evaluation is counted.
"""

from __future__ import annotations

import base64
import json
import posixpath
import shutil
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import graphql

from dagger_fake_api import SCHEMA_SDL, Container, Obj, Root, Secret


@dataclass(frozen=True)
class Canned:
    """What an exec of a given program answers."""

    exit_code: int = 0
    stdout: str = ""
    stderr: str = ""
    #: Output files by absolute path inside the container.
    files: dict[str, str] = field(default_factory=dict)


@dataclass
class ExecRecord:
    """One distinct exec as the engine would run it."""

    image: str
    argv: list[str]
    expect: str
    use_entrypoint: bool
    env: dict[str, str]
    secret_env: dict[str, str]  # variable -> secret name
    caches: dict[str, str]  # path -> cache volume key
    mounts: dict[str, dict[str, Any]]  # path -> what is mounted
    evaluations: int = 0


@dataclass
class ExportRecord:
    ops: tuple[tuple[Any, ...], ...]
    path: str
    forced_compression: str | None
    media_types: str | None


class FakeEngine:
    """The engine's state, shared by all request threads."""

    def __init__(self, token: str, archive: Path) -> None:
        self.token = token
        self.archive = archive
        self.lock = threading.RLock()
        self.objects: dict[str, Any] = {}
        self.queries: list[str] = []
        self.unauthorized = 0
        self.exports: list[ExportRecord] = []
        self.execs: dict[tuple[tuple[Any, ...], ...], ExecRecord] = {}
        self.canned: dict[str, Canned] = {}
        self.pull_errors: dict[str, str] = {}
        #: Seconds an export takes, to see several run at once.
        self.export_delay = 0.0
        self.exports_in_flight = 0
        self.max_exports_in_flight = 0
        self.schema = graphql.build_schema(SCHEMA_SDL)
        node = self.schema.get_type("Node")
        assert isinstance(node, graphql.GraphQLInterfaceType)
        node.resolve_type = lambda obj, *_: obj.typename
        self.root = Root(self)

    def register(self, obj: Obj, key: str = "") -> str:
        with self.lock:
            oid = f"{obj.typename.lower()}-{key or len(self.objects) + 1}"
            self.objects.setdefault(oid, obj)
            return oid

    # What a test asserts on ------------------------------------------------

    @property
    def api_queries(self) -> list[str]:
        """Every query but the SDK's schema introspection."""
        return [q for q in self.queries if "__schema" not in q]

    def secret(self, secret_id: str) -> Secret:
        found = self.objects[secret_id]
        assert isinstance(found, Secret)
        return found

    # Engine behaviour ------------------------------------------------------

    def export(
        self,
        container: Container,
        path: str,
        compression: str | None,
        media: str | None,
    ) -> str:
        image = next((op[1] for op in container.ops if op[0] == "from"), "")
        if image in self.pull_errors:
            raise graphql.GraphQLError(self.pull_errors[image])
        with self.lock:
            self.exports.append(ExportRecord(container.ops, path, compression, media))
            self.exports_in_flight += 1
            self.max_exports_in_flight = max(
                self.max_exports_in_flight, self.exports_in_flight
            )
        try:
            time.sleep(self.export_delay)
            shutil.copyfile(self.archive, path)
        finally:
            with self.lock:
                self.exports_in_flight -= 1
        return path

    def evaluate(self, container: Container) -> Canned:
        execs = [op for op in container.ops if op[0] == "withExec"]
        if not execs:
            raise graphql.GraphQLError("no command has been set")
        argv = list(execs[-1][1])
        canned = self.canned.get(argv[0], Canned())

        with self.lock:
            record = self.execs.get(container.ops)
            if record is None:
                record = self._record(container.ops, argv)
                self.execs[container.ops] = record
            record.evaluations += 1

        if 128 <= canned.exit_code <= 191:
            raise graphql.GraphQLError(
                f"process {argv[0]!r} did not complete successfully",
                extensions={
                    "_type": "EXEC_ERROR",
                    "cmd": argv,
                    "exitCode": canned.exit_code,
                    "stdout": canned.stdout,
                    "stderr": canned.stderr,
                },
            )
        return canned

    def _record(self, ops: tuple[tuple[Any, ...], ...], argv: list[str]) -> ExecRecord:
        record = ExecRecord(
            image="",
            argv=argv,
            expect="",
            use_entrypoint=False,
            env={},
            secret_env={},
            caches={},
            mounts={},
        )
        for op in ops:
            kind = op[0]
            if kind == "from":
                record.image = op[1]
            elif kind == "withEnvVariable":
                record.env[op[1]] = op[2]
            elif kind == "withSecretVariable":
                record.secret_env[op[1]] = self.secret(op[2]).name
            elif kind == "withMountedCache":
                record.caches[op[1]] = self.objects[op[2]].key
            elif kind in ("withMountedFile", "withMountedDirectory", "withDirectory"):
                source = self.objects[op[2]]
                read_only = bool(op[3]) if kind == "withMountedDirectory" else False
                record.mounts[posixpath.normpath(op[1])] = {
                    "kind": kind,
                    "source": source.describe,
                    "read_only": read_only,
                }
            elif kind == "withExec":
                record.expect, record.use_entrypoint = op[2], op[3]
        return record


def _resolve(parent: Any, info: graphql.GraphQLResolveInfo, /, **args: Any) -> Any:
    return getattr(parent, "f_" + info.field_name)(**args)


class _Handler(BaseHTTPRequestHandler):
    engine: FakeEngine

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is not the place for access logs."""

    def do_POST(self) -> None:
        engine = self.server.engine  # type: ignore[attr-defined]
        expected = "Basic " + base64.b64encode(f"{engine.token}:".encode()).decode()
        if self.headers.get("Authorization") != expected:
            with engine.lock:
                engine.unauthorized += 1
            self._send(401, {"message": "unauthorized"})
            return

        length = int(self.headers.get("Content-Length", "0"))
        payload = json.loads(self.rfile.read(length))
        query = payload["query"]
        with engine.lock:
            engine.queries.append(query)
        result = graphql.graphql_sync(
            engine.schema,
            query,
            root_value=engine.root,
            variable_values=payload.get("variables"),
            field_resolver=_resolve,
        )
        self._send(200, result.formatted)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeSession:
    """The server and its engine; ``port`` and ``token`` go into the env."""

    def __init__(
        self,
        archive: Path,
        token: str = "fake-session-token-5f1c",  # noqa: S107
    ) -> None:
        self.engine = FakeEngine(token, archive)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.engine = self.engine  # type: ignore[attr-defined]
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def token(self) -> str:
        return self.engine.token

    def __enter__(self) -> FakeSession:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
