"""A real `fenghuo serve` with the web console, for the browser test (tests/browser).

The binary is $FENGHUO_BIN, else target/debug/fenghuo (CARGO_TARGET_DIR respected). The
server listens on 127.0.0.1:0 for gRPC and the console, with its own data directory and the
dev PKI it creates; the addresses are read from its log.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

import fenghuo

REPO = pathlib.Path(__file__).resolve().parents[2]
GRPC = re.compile(r"^fenghuo listening on (\S+)", re.MULTILINE)
CONSOLE = re.compile(r"^fenghuo console listening on (\S+)", re.MULTILINE)

# 2027 is not shipped (no official source carried it when this was written), and appeals
# filed in December are answered in 2027: the test loads a year of its own making, as an
# administrator would load the published one. Its holidays are the test's, not the State
# Council's.
TEST_YEAR_2027 = {
    "year": 2027,
    "holidays": [
        "2027-01-01", "2027-02-08", "2027-02-09", "2027-02-10", "2027-02-11", "2027-02-12",
        "2027-04-05", "2027-05-03", "2027-05-04", "2027-05-05", "2027-06-09", "2027-09-15",
        "2027-10-01", "2027-10-04", "2027-10-05", "2027-10-06", "2027-10-07",
    ],
    "makeup_workdays": ["2027-02-20", "2027-09-26"],
}


def binary() -> pathlib.Path:
    if "FENGHUO_BIN" in os.environ:
        return pathlib.Path(os.environ["FENGHUO_BIN"])
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return (target if target.is_absolute() else REPO / target) / "debug" / "fenghuo"


def screenshots_dir() -> pathlib.Path:
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    out = (target if target.is_absolute() else REPO / target) / "console-screenshots"
    out.mkdir(parents=True, exist_ok=True)
    return out


@dataclass
class Console:
    data_dir: pathlib.Path
    grpc: str
    url: str

    def pki(self, org: str) -> pathlib.Path:
        return self.data_dir / "pki" / "clients" / org

    def client(self, org: str) -> fenghuo.Client:
        return fenghuo.Client.from_pki_dir(self.grpc, self.pki(org))

    def officer(self, org: str) -> fenghuo.Client:
        return fenghuo.Client.from_pki_dir(
            self.grpc, self.pki(org), token_key=self.pki(org) / "officer-token.key", officer="duty-officer"
        )

    def build_bulletin(self, month: str) -> None:
        """`fenghuo bulletin build MONTH` on the server's database, as the institution runs it."""
        subprocess.run(
            [str(binary()), "bulletin", "build", month, "--data-dir", str(self.data_dir)],
            check=True,
            capture_output=True,
        )

    def token(self, org: str) -> str:
        """An officer token as an officer gets one: `fenghuo token issue` (README)."""
        return subprocess.run(
            [str(binary()), "token", "issue", "--org", org, "--officer", "duty-officer", "--data-dir", str(self.data_dir)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    exe = binary()
    if not exe.exists():
        pytest.fail(f"{exe} does not exist: run `cargo build` first (or set FENGHUO_BIN)")
    tmp = tmp_path_factory.mktemp("console")
    data_dir = tmp / "data"
    year = tmp / "2027.json"
    year.write_text(json.dumps(TEST_YEAR_2027))
    subprocess.run([str(exe), "calendar", "load", str(year), "--data-dir", str(data_dir)], check=True, capture_output=True)
    log_path = tmp / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(exe), "serve", "--listen", "127.0.0.1:0", "--console-listen", "127.0.0.1:0", "--data-dir", str(data_dir)],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env={**os.environ, "FENGHUO_LOG": "warn"},
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            text = log_path.read_text(errors="replace")
            grpc, web = GRPC.search(text), CONSOLE.search(text)
            if grpc and web:
                break
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"fenghuo serve did not start:\n{text}")
            time.sleep(0.05)
        yield Console(
            data_dir=data_dir,
            grpc=f"localhost:{grpc.group(1).rsplit(':', 1)[1]}",
            url=f"https://localhost:{web.group(1).rsplit(':', 1)[1]}",
        )
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
