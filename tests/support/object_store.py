"""An S3-compatible server for tests: moto's server (moto[server]) on loopback, started by the test session."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ACCESS_KEY = "reelserve-test"
SECRET_KEY = "reelserve-test-secret"
REGION = "us-east-1"


@dataclass
class S3Server:
    endpoint_url: str
    process: subprocess.Popen[bytes]

    def env(self, bucket: str, prefix: str = "reelserve") -> dict[str, str]:
        """What a reelserve process needs to keep its files in `bucket`."""
        return {
            "REELSERVE_STORAGE_URL": f"s3://{bucket}/{prefix}",
            "REELSERVE_S3_ENDPOINT_URL": self.endpoint_url,
            "REELSERVE_S3_REGION": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def new_bucket(self) -> str:
        """A fresh bucket, made with boto3 (moto's own client, a test helper; the server itself uses obstore)."""
        import boto3

        name = f"reelserve-{secrets.token_hex(6)}"
        client = boto3.client(
            "s3", endpoint_url=self.endpoint_url, region_name=REGION, aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        client.create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        import boto3

        client = boto3.client(
            "s3", endpoint_url=self.endpoint_url, region_name=REGION, aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_s3_server() -> S3Server:
    """moto's S3 server on a free loopback port; raises saying why when it does not come up."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile(prefix="moto-", suffix=".log", delete=False)  # noqa: SIM115
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY},
        )
    except OSError as exc:
        raise RuntimeError(f"moto's S3 server could not be started: {exc}") from exc
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = Path(log.name).read_text(errors="replace")
            raise RuntimeError(f"moto's S3 server exited at start (is moto[server] installed?):\n{error[-2000:]}")
        try:
            httpx.get(endpoint, timeout=1)
            return S3Server(endpoint, process)
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"moto's S3 server did not answer at {endpoint} within 60 s")
