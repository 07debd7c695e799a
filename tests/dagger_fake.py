"""A Dagger engine session stand-in: a GraphQL endpoint on 127.0.0.1.

The dagger-io SDK joins an existing session when ``DAGGER_SESSION_PORT`` and
``DAGGER_SESSION_TOKEN`` are set: it POSTs GraphQL to
``http://127.0.0.1:PORT/query`` with HTTP basic auth (the token as user name,
empty password), first an introspection query to learn the schema, then one
query per ``await``. This server answers from a schema covering the part of
the engine API that pytest_sentry uses, executed by graphql-core with real
resolvers, so the SDK's query builder, id resolution, secrets and error
handling all run for real. It records every query and what it did.

What it fakes: objects are kept in memory and ids are counters; ``export``
copies a real docker-archive to the requested path; an exec does not run,
it answers with a canned exit code, stdout, stderr and output files. Like
the engine, an exec is evaluated once per distinct pipeline (its cache), but
every evaluation is counted.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
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

SCHEMA_SDL = """
scalar ContainerID
scalar DirectoryID
scalar FileID
scalar SecretID
scalar CacheVolumeID
scalar ServiceID
scalar Platform

enum ReturnType { ANY FAILURE SUCCESS }
enum ImageLayerCompression {
  EStarGZ ESTARGZ Gzip GZIP Uncompressed UNCOMPRESSED Zstd ZSTD
}
enum ImageMediaTypes { DockerMediaTypes DOCKER OCIMediaTypes OCI }
enum CacheSharingMode { LOCKED PRIVATE SHARED }

interface Node { id: ID! }

type Query {
  version: String!
  container(platform: Platform): Container!
  directory: Directory!
  host: Host!
  setSecret(name: String!, plaintext: String!): Secret!
  cacheVolume(key: String!, source: DirectoryID, sharing: CacheSharingMode,
              owner: String): CacheVolume!
  loadContainerFromID(id: ContainerID!): Container!
  node(id: ID!): Node
}

type Container implements Node {
  id: ID!
  from(address: String!, registryService: ServiceID): Container!
  withRegistryAuth(address: String!, username: String!,
                   secret: SecretID!): Container!
  export(path: String!, platformVariants: [ContainerID!],
         forcedCompression: ImageLayerCompression,
         mediaTypes: ImageMediaTypes, expand: Boolean): String!
  imageRef: String!
  withEnvVariable(name: String!, value: String!, expand: Boolean): Container!
  withSecretVariable(name: String!, secret: SecretID!): Container!
  withMountedCache(path: String!, cache: CacheVolumeID!, source: DirectoryID,
                   sharing: CacheSharingMode, owner: String,
                   expand: Boolean): Container!
  withMountedFile(path: String!, source: FileID!, owner: String,
                  expand: Boolean): Container!
  withMountedDirectory(path: String!, source: DirectoryID!, owner: String,
                       readOnly: Boolean, expand: Boolean): Container!
  withDirectory(path: String!, source: DirectoryID!, exclude: [String!],
                include: [String!], gitignore: Boolean, owner: String,
                expand: Boolean, permissions: Int): Container!
  withExec(args: [String!]!, useEntrypoint: Boolean, stdin: String,
           redirectStdin: String, redirectStdout: String,
           redirectStderr: String, expect: ReturnType,
           experimentalPrivilegedNesting: Boolean,
           insecureRootCapabilities: Boolean, expand: Boolean,
           noInit: Boolean): Container!
  sync: ContainerID!
  exitCode: Int!
  stdout: String!
  stderr: String!
  file(path: String!, expand: Boolean): File!
  directory(path: String!, expand: Boolean): Directory!
}

type Directory implements Node {
  id: ID!
  glob(pattern: String!): [String!]!
  file(path: String!): File!
}

type File implements Node {
  id: ID!
  contents(offsetLines: Int, limitLines: Int): String!
}

type Host implements Node {
  id: ID!
  file(path: String!, noCache: Boolean): File!
  directory(path: String!, exclude: [String!], include: [String!],
            noCache: Boolean, gitignore: Boolean): Directory!
}

type Secret implements Node { id: ID! }
type CacheVolume implements Node { id: ID! }
"""


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


class _Obj:
    typename = ""

    def __init__(self, engine: FakeEngine, key: str = "") -> None:
        self.engine = engine
        self.oid = engine.register(self, key)

    def f_id(self) -> str:
        return self.oid


class _Secret(_Obj):
    typename = "Secret"

    def __init__(self, engine: FakeEngine, name: str, plaintext: str) -> None:
        super().__init__(engine)
        self.name = name
        self.plaintext = plaintext


class _Cache(_Obj):
    typename = "CacheVolume"

    def __init__(self, engine: FakeEngine, key: str) -> None:
        super().__init__(engine)
        self.key = key


class _File(_Obj):
    typename = "File"

    def __init__(self, engine: FakeEngine, describe: dict[str, Any], text: str) -> None:
        super().__init__(engine)
        self.describe = describe
        self.text = text

    def f_contents(self, **_: Any) -> str:
        return self.text


class _Directory(_Obj):
    typename = "Directory"

    def __init__(
        self, engine: FakeEngine, describe: dict[str, Any], files: dict[str, str]
    ) -> None:
        super().__init__(engine)
        self.describe = describe
        self.files = files  # relative path -> text

    def f_glob(self, pattern: str) -> list[str]:
        return sorted(name for name in self.files if fnmatch.fnmatch(name, pattern))

    def f_file(self, path: str) -> _File:
        if path not in self.files:
            raise graphql.GraphQLError(f"{path}: no such file or directory")
        return _File(self.engine, {"in": self.describe, "path": path}, self.files[path])


class _Host(_Obj):
    typename = "Host"

    def f_file(self, path: str, **_: Any) -> _File:
        return _File(self.engine, {"host_file": path}, "")

    def f_directory(
        self, path: str, include: list[str] | None = None, **_: Any
    ) -> _Directory:
        return _Directory(self.engine, {"host_dir": path, "include": include}, {})


class _Container(_Obj):
    typename = "Container"

    def __init__(self, engine: FakeEngine, ops: tuple[tuple[Any, ...], ...]) -> None:
        # Like the engine's, a container's id follows from its pipeline.
        super().__init__(engine, hashlib.sha256(repr(ops).encode()).hexdigest()[:16])
        self.ops = ops

    def _with(self, *op: Any) -> _Container:
        return _Container(self.engine, (*self.ops, op))

    def f_from(self, address: str, **_: Any) -> _Container:
        return self._with("from", address)

    def f_withRegistryAuth(
        self, address: str, username: str, secret: str
    ) -> _Container:
        return self._with("withRegistryAuth", address, username, secret)

    def f_withEnvVariable(self, name: str, value: str, **_: Any) -> _Container:
        return self._with("withEnvVariable", name, value)

    def f_withSecretVariable(self, name: str, secret: str) -> _Container:
        return self._with("withSecretVariable", name, secret)

    def f_withMountedCache(self, path: str, cache: str, **_: Any) -> _Container:
        return self._with("withMountedCache", path, cache)

    def f_withMountedFile(self, path: str, source: str, **_: Any) -> _Container:
        return self._with("withMountedFile", path, source)

    def f_withMountedDirectory(
        self,
        path: str,
        source: str,
        readOnly: bool = False,
        **_: Any,
    ) -> _Container:
        return self._with("withMountedDirectory", path, source, readOnly)

    def f_withDirectory(self, path: str, source: str, **_: Any) -> _Container:
        return self._with("withDirectory", path, source)

    def f_withExec(
        self,
        args: list[str],
        expect: str = "SUCCESS",
        useEntrypoint: bool = False,
        **_: Any,
    ) -> _Container:
        return self._with("withExec", tuple(args), expect, useEntrypoint)

    def f_imageRef(self) -> str:
        if len(self.ops) == 1 and self.ops[0][0] == "from":
            address = self.ops[0][1]
            digest = hashlib.sha256(address.encode()).hexdigest()
            return f"docker.io/library/{address}@sha256:{digest}"
        raise graphql.GraphQLError("imageRef: the container is not a pulled image")

    def f_export(
        self,
        path: str,
        forcedCompression: str | None = None,
        mediaTypes: str | None = None,
        **_: Any,
    ) -> str:
        return self.engine.export(self, path, forcedCompression, mediaTypes)

    def f_sync(self) -> str:
        self.engine.evaluate(self)
        return self.oid

    def f_exitCode(self) -> int:
        return self.engine.evaluate(self).exit_code

    def f_stdout(self) -> str:
        return self.engine.evaluate(self).stdout

    def f_stderr(self) -> str:
        return self.engine.evaluate(self).stderr

    def f_file(self, path: str, **_: Any) -> _File:
        files = self.engine.evaluate(self).files
        if path not in files:
            raise graphql.GraphQLError(f"{path}: no such file or directory")
        return _File(self.engine, {"container_file": path}, files[path])

    def f_directory(self, path: str, **_: Any) -> _Directory:
        prefix = path.rstrip("/") + "/"
        files = {
            name[len(prefix) :]: text
            for name, text in self.engine.evaluate(self).files.items()
            if name.startswith(prefix)
        }
        return _Directory(self.engine, {"container_dir": path}, files)


class _Root:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine

    def f_version(self) -> str:
        return "v0.21.11"

    def f_container(self, **_: Any) -> _Container:
        return _Container(self.engine, ())

    def f_directory(self) -> _Directory:
        return _Directory(self.engine, {"empty": True}, {})

    def f_host(self) -> _Host:
        return _Host(self.engine)

    def f_setSecret(self, name: str, plaintext: str) -> _Secret:
        return _Secret(self.engine, name, plaintext)

    def f_cacheVolume(self, key: str, **_: Any) -> _Cache:
        return _Cache(self.engine, key)

    def f_loadContainerFromID(self, id: str) -> _Container:
        found = self.engine.objects.get(id)
        if not isinstance(found, _Container):
            raise graphql.GraphQLError(f"{id}: no such container")
        return found

    def f_node(self, id: str) -> _Obj:
        if id not in self.engine.objects:
            raise graphql.GraphQLError(f"{id}: no such object")
        return self.engine.objects[id]


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
        self.root = _Root(self)

    def register(self, obj: _Obj, key: str = "") -> str:
        with self.lock:
            oid = f"{obj.typename.lower()}-{key or len(self.objects) + 1}"
            self.objects.setdefault(oid, obj)
            return oid

    # What a test asserts on ------------------------------------------------

    @property
    def api_queries(self) -> list[str]:
        """Every query but the SDK's schema introspection."""
        return [q for q in self.queries if "__schema" not in q]

    def secret(self, secret_id: str) -> _Secret:
        found = self.objects[secret_id]
        assert isinstance(found, _Secret)
        return found

    # Engine behaviour ------------------------------------------------------

    def export(
        self,
        container: _Container,
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

    def evaluate(self, container: _Container) -> Canned:
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
