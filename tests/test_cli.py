"""The console script as an operator uses it; every option also reads REELSERVE_*."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx

from tests.conftest import SEED_ROUTE
from tests.support.process import REELSERVE, ServerProcess, free_port


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [REELSERVE, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120,
        check=False,
    )


def test_keys_create_list_revoke(tmp_path: Path, image_url: str) -> None:
    data_dir = str(tmp_path / "data")
    created = run("keys", "create", "--name", "alice", "--balance", "5", "--data-dir", data_dir)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("sk-") and len(key) > 20

    listed = run("keys", "list", env={"REELSERVE_DATA_DIR": data_dir})
    assert listed.returncode == 0, listed.stderr
    assert "alice" in listed.stdout and key not in listed.stdout
    key_id = next(word for word in listed.stdout.split() if word.startswith("key_"))

    server = ServerProcess(tmp_path / "data", free_port(), env={"REELSERVE_ALLOW_PRIVATE_URLS": "true"}, workers=0)
    try:
        assert server.first_key() is None, "keys exist already, so no first key is made"
        url = f"{server.base_url}/api/v3/{SEED_ROUTE}"
        body = {"prompt": "p", "image": image_url}
        assert httpx.post(url, json=body, headers={"Authorization": key}).status_code == 200
        revoked = run("keys", "revoke", key_id, "--data-dir", data_dir)
        assert revoked.returncode == 0, revoked.stderr
        # Another process revoked it: the server sees that once its recent-keys entry (5 s) expires.
        deadline = time.monotonic() + 15
        while httpx.post(url, json=body, headers={"Authorization": key}).status_code != 401:
            assert time.monotonic() < deadline, "a key revoked from the CLI must stop working"
            time.sleep(0.5)
    finally:
        server.stop()
    assert run("keys", "revoke", "key_missing", "--data-dir", data_dir).returncode == 1


def test_serve_reads_its_options_from_the_environment(tmp_path: Path) -> None:
    port = free_port()
    data_dir = tmp_path / "env-data"
    env = {"REELSERVE_PORT": str(port), "REELSERVE_DATA_DIR": str(data_dir), "REELSERVE_WORKERS": "0"}
    process = subprocess.Popen([REELSERVE, "serve"], env={**os.environ, **env},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.1)
        assert health.json()["workers"] == 0
        assert (data_dir / "reelserve.db").is_file()
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert "API key: sk-" in output


def test_bad_config_fails_at_start_with_a_clear_message(tmp_path: Path) -> None:
    config = tmp_path / "reelserve.toml"
    config.write_text('[routes."kwaivgi/kling-v2.5-turbo-std/image-to-video"]\nengine = "warp"\n')
    result = run("serve", "--data-dir", str(tmp_path / "d"), "--config", str(config), "--port", str(free_port()))
    assert result.returncode == 2
    assert "unknown engine 'warp'" in result.stderr


def test_operator_commands_for_money_and_limits(tmp_path: Path) -> None:
    data_dir = str(tmp_path / "data")
    created = run("keys", "create", "--name", "carol", "--balance", "2.50", "--rpm", "9", "--max-concurrency", "3",
                  "--models", "kwaivgi/kling-v3.0-std/image-to-video", "--data-dir", data_dir)
    assert created.returncode == 0, created.stderr
    key_id = next(word for word in run("keys", "list", "--data-dir", data_dir).stdout.split()
                  if word.startswith("key_"))
    topped = run("keys", "topup", key_id, "1.25", "--data-dir", data_dir)
    assert topped.returncode == 0 and "3.750000" in topped.stderr
    shown = run("keys", "show", key_id, "--data-dir", data_dir)
    assert shown.returncode == 0, shown.stderr
    for expected in ("carol", "3.750000", "9", "3", "kwaivgi/kling-v3.0-std/image-to-video"):
        assert expected in shown.stdout
    refused = run("keys", "topup", key_id, "0", "--data-dir", data_dir)
    assert refused.returncode == 1 and "positive" in refused.stderr
    unknown = run("keys", "create", "--name", "x", "--models", "nope", "--data-dir", data_dir)
    assert unknown.returncode == 1 and "unknown model route" in unknown.stderr
