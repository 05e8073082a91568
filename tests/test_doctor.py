"""`pathosam doctor`: the report a support question needs, and the client/server compatibility rule."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from conftest import ROOT

from pathosam_server.rpc.client import compatibility

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "python_server")}


def _doctor(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pathosam_server", "doctor", *args], env=ENV, capture_output=True,
                          text=True, timeout=300)


def test_compatibility_rule() -> None:
    assert compatibility("0.1.0", "0.1.3")[0]
    assert compatibility("0.2.0-SNAPSHOT", "0.2.1")[0]
    ok, verdict = compatibility("0.2.0", "0.1.0")
    assert not ok and "differ in their minor version" in verdict
    assert not compatibility("0.1.0", "")[0]


def test_doctor_reports_versions_devices_weights_and_a_live_server(server: str) -> None:
    res = _doctor("--server", server, "--json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["versions"]["pathosam"] and report["versions"]["micro-sam"] == "1.8.14"
    assert report["devices"]["cpu_cores"] >= 1 and "cuda_devices" in report["devices"]
    assert "vit_b_histopathology" in report["weights"]["models"]
    srv = report["server"]
    assert srv["health"] == "SERVING" and srv["compatible"] and srv["models"][0]["name"] == "random"
    text = _doctor("--server", server)
    assert text.returncode == 0 and "compatible (client" in text.stdout and "model random" in text.stdout


def test_doctor_says_when_no_server_answers() -> None:
    with socket.socket() as s:  # a port nobody listens on (bound here, so nothing else can take it)
        s.bind(("127.0.0.1", 0))
        res = _doctor("--server", f"127.0.0.1:{s.getsockname()[1]}")
    assert res.returncode == 1 and "no answer (UNAVAILABLE" in res.stdout, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
