"""`reelserve generate`: offline on the embedded default, and against a running server on a terminal."""

from __future__ import annotations

import re
from pathlib import Path

from reelserve.client import Client
from tests.client.support import MOTION_FPS, client_of, video_facts
from tests.client.terminal import run_cli, run_in_terminal
from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.images import image_bytes


def test_offline_writes_a_playable_mp4(photo: Path, tmp_path: Path) -> None:
    target = tmp_path / "out" / "pan.mp4"
    target.parent.mkdir()
    result = run_cli("generate", "--image", str(photo), "--prompt", "pan left", "--duration", "3",
                     "--aspect-ratio", "1:1", "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(target)
    assert video_facts(target) == {"codec": "h264", "width": 960, "height": 960, "frames": 3 * MOTION_FPS}
    assert "uploading" in result.stderr and f"saved {target}" in result.stderr
    assert list(target.parent.iterdir()) == [target]


def test_offline_refuses_what_the_server_refuses(photo: Path, tmp_path: Path) -> None:
    small = tmp_path / "small.png"
    small.write_bytes(image_bytes(200, 150))
    result = run_cli("generate", "--image", str(small), "--prompt", "zoom in", "-o", str(tmp_path / "x.mp4"))
    assert result.returncode == 1
    assert "image is 200x150; each side must be at least 300 px" in result.stderr
    blocked = run_cli("generate", "--image", str(photo), "--prompt", "c.h.i.l.d p0rn")
    assert blocked.returncode == 1 and "(prompt)" in blocked.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_against_a_server_shows_progress_on_a_terminal(
    start_sqlite_server: ServerFactory, photo: Path, tmp_path: Path
) -> None:
    server = start_sqlite_server()
    target = tmp_path / "served.mp4"
    run = run_in_terminal("generate", "--image", str(photo), "--prompt", "slowly push in", "--duration", "15",
                          "-o", str(target), "--server", server.base_url, "--key", server.key)
    assert run.returncode == 0, run.output
    assert "uploading" in run.output and "queued" in run.output
    rendering = re.findall(r"rendering[^\n]*?(\d+)%", run.output)
    assert rendering, run.output
    assert "downloading" in run.output and f"saved {target}" in run.output
    assert video_facts(target) == {"codec": "h264", "width": 1280, "height": 720, "frames": 15 * MOTION_FPS}
    with client_of(server) as client:
        assert client.balance() < 1000


def test_ctrl_c_cancels_the_job_on_the_server(start_sqlite_server: ServerFactory, photo: Path, tmp_path: Path) -> None:
    server = start_sqlite_server(workers=0)  # the job stays queued until Ctrl-C
    target = tmp_path / "never.mp4"
    run = run_in_terminal("generate", "--image", str(photo), "--prompt", "zoom in", "-o", str(target),
                          "--server", server.base_url, "--key", server.key, interrupt_when=r"queued at position 1")
    assert run.returncode == 130, run.output
    match = re.search(r"prediction ([0-9a-f]{32}) was cancelled on the server", run.output)
    assert match, run.output
    with Client(api_key=server.key, base_url=server.base_url) as client:
        assert client.get(match.group(1)).status == "cancelled"
        assert client.balance() == 1000, "refunded in full"
    assert not target.exists()


def test_server_errors_are_printed_with_a_non_zero_exit(
    start_sqlite_server: ServerFactory, photo: Path
) -> None:
    server = start_sqlite_server(workers=0)
    wrong_key = run_cli("generate", "--image", str(photo), "--prompt", "p", "--server", server.base_url,
                        "--key", "sk-" + "0" * 48)
    assert wrong_key.returncode == 1 and "error:" in wrong_key.stderr
    assert "API key" in wrong_key.stderr
    no_end_frame = run_cli("generate", "--image", str(photo), "--prompt", "p", "--end-image", str(photo),
                           "--model", SEED_ROUTE, REELSERVE_URL=server.base_url, REELSERVE_API_KEY=server.key)
    assert no_end_frame.returncode == 1 and "end_image" in no_end_frame.stderr
