"""Starts a real `fenghuo serve` (dev PKI, SQLite) for the suite, as a user would.

The binary is $FENGHUO_BIN, else target/debug/fenghuo of this repository (CARGO_TARGET_DIR
respected). Each server listens on 127.0.0.1:0 with its own data directory; its address is
read from the log line `fenghuo listening on ADDR`.
"""

from __future__ import annotations

import os
import pathlib
import re
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

import fenghuo

REPO = pathlib.Path(__file__).resolve().parents[3]
LISTENING = re.compile(r"^fenghuo listening on (\S+)", re.MULTILINE)


def binary() -> pathlib.Path:
    if "FENGHUO_BIN" in os.environ:
        return pathlib.Path(os.environ["FENGHUO_BIN"])
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return (target if target.is_absolute() else REPO / target) / "debug" / "fenghuo"


class Server:
    """One `fenghuo serve` process over a data directory; restartable on the same port."""

    def __init__(self, data_dir: pathlib.Path) -> None:
        self.data_dir = data_dir
        self.log_path = data_dir.parent / "serve.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"localhost:{self.port}"

    def pki(self, org: str) -> pathlib.Path:
        return self.data_dir / "pki" / "clients" / org

    def start(self) -> None:
        exe = binary()
        if not exe.exists():
            pytest.fail(f"{exe} does not exist: run `cargo build` first (or set FENGHUO_BIN)")
        with self.log_path.open("ab") as log:
            offset = log.tell()
            env = {**os.environ, "FENGHUO_LOG": "warn"}
            self.process = subprocess.Popen(
                [str(exe), "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir)],
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=env,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                found = LISTENING.search(log.read().decode(errors="replace"))
            if found:
                self.port = int(found.group(1).rsplit(":", 1)[1])
                return
            if self.process.poll() is not None:
                pytest.fail(f"fenghuo serve exited ({self.process.returncode}):\n{self.log_path.read_text()}")
            time.sleep(0.05)
        pytest.fail(f"fenghuo serve did not report its address:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def restart(self, *, kill: bool = False) -> None:
        """Stops (SIGTERM, or SIGKILL: a crash) and starts again on the same port and data."""
        if kill and self.process is not None:
            self.process.kill()
            self.process.wait()
        self.stop()
        self.start()

    def client(self, org: str) -> fenghuo.Client:
        return fenghuo.Client.from_pki_dir(self.endpoint, self.pki(org))

    def officer(self, org: str, officer: str = "duty-officer") -> fenghuo.Client:
        """Acting as the demo officer, tokens signed from the org's dev key file."""
        return fenghuo.Client.from_pki_dir(
            self.endpoint, self.pki(org), token_key=self.pki(org) / "officer-token.key", officer=officer
        )


def _server(tmp: pathlib.Path) -> Iterator[Server]:
    server = Server(tmp / "data")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the suite."""
    yield from _server(tmp_path_factory.mktemp("fenghuo"))


@pytest.fixture
def own_server(tmp_path: pathlib.Path) -> Iterator[Server]:
    """A server of the test's own, which it may restart."""
    yield from _server(tmp_path)
