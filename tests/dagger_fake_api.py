"""The engine API objects behind the stand-in session (tests/dagger_fake.py).

The schema covers the part of the Dagger API that pytest_sentry and its
Dagger runner use, with the SDK's names and argument types; each object
type is a class whose ``f_<field>`` methods resolve its fields.
"""

from __future__ import annotations

import fnmatch
import hashlib
from typing import TYPE_CHECKING, Any

import graphql

if TYPE_CHECKING:
    from dagger_fake import FakeEngine

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


class Obj:
    typename = ""

    def __init__(self, engine: FakeEngine, key: str = "") -> None:
        self.engine = engine
        self.oid = engine.register(self, key)

    def f_id(self) -> str:
        return self.oid


class Secret(Obj):
    typename = "Secret"

    def __init__(self, engine: FakeEngine, name: str, plaintext: str) -> None:
        super().__init__(engine)
        self.name = name
        self.plaintext = plaintext


class Cache(Obj):
    typename = "CacheVolume"

    def __init__(self, engine: FakeEngine, key: str) -> None:
        super().__init__(engine)
        self.key = key


class File(Obj):
    typename = "File"

    def __init__(self, engine: FakeEngine, describe: dict[str, Any], text: str) -> None:
        super().__init__(engine)
        self.describe = describe
        self.text = text

    def f_contents(self, **_: Any) -> str:
        return self.text


class Directory(Obj):
    typename = "Directory"

    def __init__(
        self, engine: FakeEngine, describe: dict[str, Any], files: dict[str, str]
    ) -> None:
        super().__init__(engine)
        self.describe = describe
        self.files = files  # relative path -> text

    def f_glob(self, pattern: str) -> list[str]:
        return sorted(name for name in self.files if fnmatch.fnmatch(name, pattern))

    def f_file(self, path: str) -> File:
        if path not in self.files:
            raise graphql.GraphQLError(f"{path}: no such file or directory")
        return File(self.engine, {"in": self.describe, "path": path}, self.files[path])


class Host(Obj):
    typename = "Host"

    def f_file(self, path: str, **_: Any) -> File:
        return File(self.engine, {"host_file": path}, "")

    def f_directory(
        self, path: str, include: list[str] | None = None, **_: Any
    ) -> Directory:
        return Directory(self.engine, {"host_dir": path, "include": include}, {})


class Container(Obj):
    typename = "Container"

    def __init__(self, engine: FakeEngine, ops: tuple[tuple[Any, ...], ...]) -> None:
        # Like the engine's, a container's id follows from its pipeline.
        super().__init__(engine, hashlib.sha256(repr(ops).encode()).hexdigest()[:16])
        self.ops = ops

    def _with(self, *op: Any) -> Container:
        return Container(self.engine, (*self.ops, op))

    def f_from(self, address: str, **_: Any) -> Container:
        return self._with("from", address)

    def f_withRegistryAuth(self, address: str, username: str, secret: str) -> Container:
        return self._with("withRegistryAuth", address, username, secret)

    def f_withEnvVariable(self, name: str, value: str, **_: Any) -> Container:
        return self._with("withEnvVariable", name, value)

    def f_withSecretVariable(self, name: str, secret: str) -> Container:
        return self._with("withSecretVariable", name, secret)

    def f_withMountedCache(self, path: str, cache: str, **_: Any) -> Container:
        return self._with("withMountedCache", path, cache)

    def f_withMountedFile(self, path: str, source: str, **_: Any) -> Container:
        return self._with("withMountedFile", path, source)

    def f_withMountedDirectory(
        self,
        path: str,
        source: str,
        readOnly: bool = False,
        **_: Any,
    ) -> Container:
        return self._with("withMountedDirectory", path, source, readOnly)

    def f_withDirectory(self, path: str, source: str, **_: Any) -> Container:
        return self._with("withDirectory", path, source)

    def f_withExec(
        self,
        args: list[str],
        expect: str = "SUCCESS",
        useEntrypoint: bool = False,
        **_: Any,
    ) -> Container:
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

    def f_file(self, path: str, **_: Any) -> File:
        files = self.engine.evaluate(self).files
        if path not in files:
            raise graphql.GraphQLError(f"{path}: no such file or directory")
        return File(self.engine, {"container_file": path}, files[path])

    def f_directory(self, path: str, **_: Any) -> Directory:
        prefix = path.rstrip("/") + "/"
        files = {
            name[len(prefix) :]: text
            for name, text in self.engine.evaluate(self).files.items()
            if name.startswith(prefix)
        }
        return Directory(self.engine, {"container_dir": path}, files)


class Root:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine

    def f_version(self) -> str:
        return "v0.21.11"

    def f_container(self, **_: Any) -> Container:
        return Container(self.engine, ())

    def f_directory(self) -> Directory:
        return Directory(self.engine, {"empty": True}, {})

    def f_host(self) -> Host:
        return Host(self.engine)

    def f_setSecret(self, name: str, plaintext: str) -> Secret:
        return Secret(self.engine, name, plaintext)

    def f_cacheVolume(self, key: str, **_: Any) -> Cache:
        return Cache(self.engine, key)

    def f_loadContainerFromID(self, id: str) -> Container:
        found = self.engine.objects.get(id)
        if not isinstance(found, Container):
            raise graphql.GraphQLError(f"{id}: no such container")
        return found

    def f_node(self, id: str) -> Obj:
        if id not in self.engine.objects:
            raise graphql.GraphQLError(f"{id}: no such object")
        return self.engine.objects[id]
