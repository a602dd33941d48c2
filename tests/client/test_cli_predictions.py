"""`reelserve upload`, `balance` and `predictions list|show|cancel|delete` against a running server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.client.support import client_of
from tests.client.terminal import run_cli
from tests.conftest import SEED_ROUTE, ServerFactory


def test_upload_balance_and_show(start_sqlite_server: ServerFactory, photo: Path) -> None:
    server = start_sqlite_server()
    flags = ("--server", server.base_url, "--key", server.key)

    uploaded = run_cli("upload", str(photo), *flags)
    assert uploaded.returncode == 0, uploaded.stderr
    url = uploaded.stdout.strip()
    assert url.startswith(server.base_url + "/files/uploads/") and url.endswith("photo.png" + url[url.index("?"):])
    assert "uploaded photo.png (image" in uploaded.stderr

    with client_of(server) as client:
        video = client.run(SEED_ROUTE, {"prompt": "zoom in", "image": url, "duration": 3})

    balance = run_cli("balance", REELSERVE_URL=server.base_url, REELSERVE_API_KEY=server.key)
    assert balance.returncode == 0, balance.stderr
    assert float(balance.stdout) == 1000 - 3 * 0.042

    shown = run_cli("predictions", "show", video.id, *flags)
    assert shown.returncode == 0, shown.stderr
    assert video.id in shown.stdout and "completed" in shown.stdout and "output 0" in shown.stdout
    as_json = run_cli("predictions", "show", video.id, "--json", *flags)
    assert json.loads(as_json.stdout)["outputs"] == video.outputs

    missing = run_cli("predictions", "show", "0" * 32, *flags)
    assert missing.returncode == 1 and "error:" in missing.stderr
    refused = run_cli("balance", "--server", server.base_url, "--key", "sk-wrong")
    assert refused.returncode == 1 and "invalid or revoked API key" in refused.stderr
    not_an_image = photo.with_suffix(".txt")
    not_an_image.write_text("hello")
    wrong_type = run_cli("upload", str(not_an_image), *flags)
    assert wrong_type.returncode == 1
    assert "cannot be uploaded" in wrong_type.stderr and "(content_type)" in wrong_type.stderr
    no_server = run_cli("balance", "--key", server.key)
    assert no_server.returncode == 2 and "REELSERVE_URL" in no_server.stderr


# The job-lifecycle endpoints (issue 13), written against /work/briefs/lifecycle-api.md.


def test_list_cancel_delete(start_sqlite_server: ServerFactory, photo: Path) -> None:
    server = start_sqlite_server(workers=0)
    flags = ("--server", server.base_url, "--key", server.key)
    with client_of(server) as client:
        image = client.upload(photo).download_url
        first = client.submit(SEED_ROUTE, {"prompt": "one", "image": image})
        second = client.submit(SEED_ROUTE, {"prompt": "two", "image": image})

    cancelled = run_cli("predictions", "cancel", first.id, *flags)
    assert cancelled.returncode == 0, cancelled.stderr
    assert f"{first.id}: cancelled" in cancelled.stderr
    again = run_cli("predictions", "cancel", first.id, *flags)
    assert again.returncode == 1 and "error:" in again.stderr

    listed = run_cli("predictions", "list", "--json", *flags)
    assert listed.returncode == 0, listed.stderr
    page = json.loads(listed.stdout)
    assert page["total"] == 2 and [item["id"] for item in page["items"]] == [second.id, first.id]
    table = run_cli("predictions", "list", "--status", "cancelled", *flags)
    assert first.id in table.stdout and second.id not in table.stdout

    with client_of(server) as client:
        client.cancel(second.id)
    deleted = run_cli("predictions", "delete", first.id, second.id, *flags)
    assert deleted.returncode == 0, deleted.stderr
    assert f"deleted {first.id}" in deleted.stderr and f"deleted {second.id}" in deleted.stderr
    gone = run_cli("predictions", "show", first.id, *flags)
    assert gone.returncode == 1 and "error:" in gone.stderr
