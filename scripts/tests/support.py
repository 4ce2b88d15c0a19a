"""Starting the local stack's parts on free ports for their own tests."""

import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import deployment
SCRIPTS = Path(__file__).resolve().parent.parent
ACCOUNT = "123456789012"
REGION = "us-east-1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited ({proc.returncode})")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except urllib.error.HTTPError:
            return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


class Process:
    """A script of the local stack, on its own port, stopped when the test class ends."""

    def __init__(self, args, health, env=None):
        self.log = tempfile.NamedTemporaryFile(prefix="stack-test-", suffix=".log", delete=False)
        self.proc = subprocess.Popen([sys.executable, *args], cwd=SCRIPTS, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})})
        wait_up(health, self.proc)

    def output(self):
        return Path(self.log.name).read_text(errors="replace")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def moto(ttl_delay=None, slow_seconds=None):
    port = free_port()
    args = ["moto_server.py", "-H", "127.0.0.1", "-p", str(port)]
    if ttl_delay is not None:
        args += ["--ttl-delay", str(ttl_delay), "--ttl-interval", "0.2"]
    if slow_seconds is not None:
        args += ["--slow-seconds", str(slow_seconds)]
    p = Process(args, f"http://127.0.0.1:{port}/moto-api/")
    p.url = f"http://127.0.0.1:{port}"
    return p


def client(service, url, key="test"):
    return deployment.aws_client(service, key, "secret", endpoint=url)


def boto3_client(service):
    """A client for moto's in-process mock (mock_aws), for tests of moto's own code."""
    import boto3

    return boto3.client(service, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="secret")


def post_json(url, body, headers=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, json.loads(r.read() or b"null")


def runtime_binary(directory):
    """An executable running runtime_client.py with this interpreter (a function's `bootstrap`)."""
    path = Path(directory) / "bootstrap-test"
    path.write_text(f"#!/bin/sh\nexec {sys.executable} {SCRIPTS / 'tests' / 'runtime_client.py'}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def function(name, binary, timeout=5, reserved=None, dead_letter=None, retries=2, access_key=None):
    """A function entry as deployment.py writes it."""
    return {
        "logical": name, "name": name, "binary_path": binary,
        "arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
        "role_arn": f"arn:aws:iam::{ACCOUNT}:role/test-{name}",
        "principal": f"arn:aws:sts::{ACCOUNT}:assumed-role/test-{name}/{name}",
        "access_key": access_key or f"ASIATEST{name.upper().replace('-', '')}"[:20],
        "timeout": timeout, "memory": 128, "reserved_concurrency": reserved, "log_level": None,
        "environment": {}, "statements": [],
        "async": {"maximum_retry_attempts": retries, "maximum_event_age": 21600, "on_failure": None,
                  "dead_letter": dead_letter},
    }
