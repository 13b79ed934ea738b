"""`orchestrator secrets`: values from stdin (never argv), kept encrypted, read by `orchestrator run`."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from cli_runner import PROJECT

VALUE = "t0p-s3cret-from-stdin"


def cli(home: Path, *args: str, stdin: str = "", extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ORCHESTRATOR_")}
    return subprocess.run([sys.executable, "-m", "orchestrator.cli", *args], cwd=PROJECT, input=stdin, text=True,
                          capture_output=True, timeout=120,
                          env={**env, "ORCHESTRATOR_HOME": str(home), **(extra_env or {})})


def test_set_list_run_delete_locally(tmp_path: Path):
    home = tmp_path / "home"
    # Given a secret set from stdin
    saved = cli(home, "secrets", "set", "api_token", "--local", stdin=VALUE + "\n")
    assert saved.returncode == 0, saved.stderr
    # Then the key file is private and the database holds no clear value
    assert (home / "secrets.key").stat().st_mode & 0o777 == 0o600
    assert VALUE.encode() not in (home / "orchestrator.db").read_bytes()
    # And listing names it without the value
    listed = cli(home, "secrets", "list", "--local")
    assert listed.stdout.startswith("api_token\t") and VALUE not in listed.stdout
    # When a workflow run on this machine uses it
    workflow = tmp_path / "wf.yaml"
    workflow.write_text(json.dumps({"name": "uses-secret", "steps": [{"id": "digest", "type": "script", "config": {
        "runtime": "python", "env": {"TOKEN": "{{secrets.api_token}}"},
        "code": "import hashlib, json, os; print(json.dumps({'sha': hashlib.sha256(os.environ['TOKEN'].encode())"
                ".hexdigest(), 'echo': os.environ['TOKEN']}))"}}]}))
    ran = cli(home, "run", str(workflow), "--json")
    # Then the step got the value (its digest matches) and the output shows it masked
    assert ran.returncode == 0, ran.stderr
    output = json.loads(ran.stdout)["digest"]
    assert output == {"sha": hashlib.sha256(VALUE.encode()).hexdigest(), "echo": "***"}
    # When deleted / Then the run fails naming the secret
    assert cli(home, "secrets", "delete", "api_token", "--local").returncode == 0
    failed = cli(home, "run", str(workflow), "--json")
    assert failed.returncode == 1 and "secret 'api_token' not found" in failed.stdout + failed.stderr


def test_reserved_name_and_empty_value_are_refused(tmp_path: Path):
    home = tmp_path / "home"
    reserved = cli(home, "secrets", "set", "ORCHESTRATOR_ADMIN_KEY", "--local", stdin="x-value")
    assert reserved.returncode == 2 and "reserved" in reserved.stderr
    empty = cli(home, "secrets", "set", "fine_name", "--local", stdin="")
    assert empty.returncode == 2 and "empty value" in empty.stderr
    # And nothing was stored
    assert cli(home, "secrets", "list", "--local").stdout == ""


def test_the_api_is_the_default_and_needs_a_key(tmp_path: Path):
    missing_key = cli(tmp_path, "secrets", "list")
    assert missing_key.returncode == 2 and "no API key" in missing_key.stderr
