"""The README's Python SDK walkthrough, run line by line as written: one example per role,
the whole lifecycle against a server of its own."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

from conftest import REPO, Server

HEADING = "## Python SDK"
WALKTHROUGH_FIRST_LINE = "py=.venv/bin/python; ex=clients/python/examples"


def walkthrough() -> str:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index(HEADING) :]
    for block in re.findall(r"```sh\n(.*?)```", section, re.DOTALL):
        if block.startswith(WALKTHROUGH_FIRST_LINE):
            return str(block)
    raise AssertionError(f"README: no ```sh block starting {WALKTHROUGH_FIRST_LINE!r} under {HEADING!r}")


def test_the_readme_walkthrough_runs_every_role_example_through_the_lifecycle(own_server: Server, tmp_path: pathlib.Path) -> None:
    # The README runs from the repository root with ./.venv and ./fenghuo-data: lay those out.
    (tmp_path / ".venv").symlink_to(sys.prefix)
    (tmp_path / "clients").symlink_to(REPO / "clients")
    (tmp_path / "fenghuo-data").symlink_to(own_server.data_dir)
    script = "set -euxo pipefail\n" + walkthrough()
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env={**os.environ, "FENGHUO_ENDPOINT": own_server.endpoint},
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "submitted 1000 items" in output and "refused 0" in output
    assert "confirmed" in output and "as EVENT_GRADE_MAJOR" in output
    assert "NOTICE_KIND_DISPOSAL from miit: 58.60.1.1" in output
    assert "reported disposed: NOTICE_STATE_RESULTS_REPORTED" in output
    assert "filed 1 appeal(s)" in output
    assert "APPEAL_DECISION_REVOKED" in output
    assert "reported lifted: NOTICE_STATE_LIFTED" in output
