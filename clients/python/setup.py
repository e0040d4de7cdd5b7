"""Build step of the fenghuo package: generates the gRPC stubs at build time.

- `fenghuo/v1/*_pb2.py`, `*_pb2_grpc.py` from the platform's `proto/` (grpcio-tools), with
  their `.pyi` type stubs (mypy-protobuf);
- `fenghuo/_officer_rpcs.py`: the RPCs whose row in `docs/authorization.md` says
  *officer token: yes*, read from the file the server itself embeds as its policy.

The protos and the matrix are found next to this file (an sdist carries copies) or in the
repository (`../../proto`, `../../docs/authorization.md`). Nothing generated is committed.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import stat
import sys
import tempfile

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = pathlib.Path(__file__).resolve().parent


def _source(local: str, in_repo: str) -> pathlib.Path:
    for candidate in (HERE / local, HERE / in_repo):
        if candidate.exists():
            return candidate.resolve()
    raise SystemExit(f"fenghuo build: neither {HERE / local} nor {HERE / in_repo} exists")


def proto_root() -> pathlib.Path:
    return _source("proto", "../../proto")


def authorization_matrix() -> pathlib.Path:
    return _source("authorization.md", "../../docs/authorization.md")


def officer_token_rpcs(matrix: str) -> list[str]:
    """The same reading as clients/rust/build.rs: every `Service.Method` row with its token cell."""
    paths = []
    for line in matrix.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0].startswith("`"):
            continue
        service, _, method = cells[0].strip("`").partition(".")
        if not method or " " in service:
            continue
        if cells[1] == "yes":
            paths.append(f"/fenghuo.v1.{service}/{method}")
        elif cells[1] != "no":
            raise SystemExit(f"fenghuo build: {cells[0]}: officer token cell {cells[1]!r}")
    if not paths:
        raise SystemExit("fenghuo build: docs/authorization.md lists no RPC that needs an officer token")
    return paths


def _plugin(directory: pathlib.Path, name: str, function: str) -> pathlib.Path:
    """A protoc plugin executable running mypy-protobuf in this interpreter."""
    path = directory / name
    path.write_text(f"#!{sys.executable}\nfrom mypy_protobuf.main import {function}\n{function}()\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def generate(out: pathlib.Path) -> None:
    import grpc_tools
    from grpc_tools import protoc

    root = proto_root()
    protos = sorted(str(p.relative_to(root)) for p in (root / "fenghuo" / "v1").glob("*.proto"))
    if not protos:
        raise SystemExit(f"fenghuo build: no .proto under {root / 'fenghuo' / 'v1'}")
    package = out / "fenghuo" / "v1"
    if package.exists():
        shutil.rmtree(package)
    package.mkdir(parents=True)
    include = pathlib.Path(grpc_tools.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as tmp:
        mypy = _plugin(pathlib.Path(tmp), "protoc-gen-mypy", "main")
        mypy_grpc = _plugin(pathlib.Path(tmp), "protoc-gen-mypy_grpc", "grpc")
        code = protoc.main(
            [
                "grpc_tools.protoc",
                f"-I{root}",
                f"-I{include}",
                f"--plugin=protoc-gen-mypy={mypy}",
                f"--plugin=protoc-gen-mypy_grpc={mypy_grpc}",
                f"--python_out={out}",
                f"--grpc_python_out={out}",
                f"--mypy_out=quiet:{out}",
                f"--mypy_grpc_out=quiet:{out}",
                *protos,
            ]
        )
    if code != 0:
        raise SystemExit(f"fenghuo build: generating the stubs failed (protoc exit {code})")
    (package / "__init__.py").write_text('"""Generated from proto/fenghuo/v1 at build time; do not edit."""\n')
    (package / "py.typed").write_text("")
    rpcs = officer_token_rpcs(authorization_matrix().read_text(encoding="utf-8"))
    lines = "".join(f"        {p!r},\n" for p in rpcs)
    (out / "fenghuo" / "_officer_rpcs.py").write_text(
        '"""Generated from docs/authorization.md at build time: the RPCs that take an officer token."""\n\n'
        f"OFFICER_TOKEN_RPCS: frozenset[str] = frozenset(\n    [\n{lines}    ]\n)\n"
    )


class BuildPy(build_py):
    """Generates the stubs into the build tree (an editable install: into src/)."""

    def run(self) -> None:
        if getattr(self, "editable_mode", False):
            generate(HERE / "src")
            super().run()
        else:
            # After copying src/, so that files an editable install left there never win.
            super().run()
            generate(pathlib.Path(self.build_lib))


class Sdist(sdist):
    """Carries copies of the protos and the authorization matrix, so the sdist builds alone."""

    def make_release_tree(self, base_dir: str, files: list[str]) -> None:
        super().make_release_tree(base_dir, files)
        shutil.copytree(proto_root(), os.path.join(base_dir, "proto"), dirs_exist_ok=True)
        shutil.copy(authorization_matrix(), os.path.join(base_dir, "authorization.md"))


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist})
