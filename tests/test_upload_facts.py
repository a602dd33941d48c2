"""An uploaded image is checked once, when it arrives: a submit that uses it judges the facts found then (format,
upright size, bytes) by the image rules, with the words a check of its bytes would use, and leaves the file unread.
An upload without facts (found damaged on arrival, or made before they were kept) is checked from its bytes."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import text

from reelserve.errors import InputError
from tests.conftest import SEED_ROUTE, ServerFactory
from tests.support.images import image_bytes
from tests.support.server import RunningServer


def upload(server: RunningServer, data: bytes, content_type: str = "image/png") -> str:
    answer = server.client.post(
        "/api/v3/media/upload/binary", files={"file": ("in.img", data, content_type)}
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["data"]["download_url"])


def submit(server: RunningServer, image: str) -> tuple[int, str]:
    answer = server.submit(SEED_ROUTE, {"prompt": "zoom in", "image": image, "duration": 3})
    body = answer.json()
    return answer.status_code, body["message"] if answer.status_code != 200 else body["data"]["status"]


def stored_facts(server: RunningServer) -> list[tuple[Any, ...]]:
    with server.runtime.database.engine.connect() as connection:
        rows = connection.execute(text("SELECT image_format, image_width, image_height, size FROM uploads"))
        return [tuple(row) for row in rows]


def uploaded_file(server: RunningServer) -> Path:
    (found,) = (server.runtime.storage.root / "uploads").glob("*/*")  # type: ignore[attr-defined]
    return found


def turned(width: int, height: int, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 150)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def webp(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 150)).save(out, "WEBP")
    return out.getvalue()


def camera_multi_picture_jpeg(width: int, height: int) -> bytes:
    """What many phone cameras write (MPO): a JPEG with a second picture after it."""
    out = io.BytesIO()
    first, second = Image.new("RGB", (width, height), (10, 200, 10)), Image.new("RGB", (width, height))
    first.save(out, "MPO", save_all=True, append_images=[second])
    return out.getvalue()


CASES = {
    "intact PNG": (image_bytes(640, 480), "image/png", ("PNG", 640, 480)),
    "WebP": (webp(400, 300), "image/webp", ("WEBP", 400, 300)),
    "too small": (image_bytes(200, 200), "image/png", ("PNG", 200, 200)),
    "too wide": (image_bytes(1000, 300, "JPEG"), "image/jpeg", ("JPEG", 1000, 300)),
    "too small once turned upright": (turned(400, 200, 6), "image/jpeg", ("JPEG", 200, 400)),
    "truncated": (image_bytes(640, 480)[:-200], "image/png", (None, None, None)),
    "camera multi-picture JPEG": (camera_multi_picture_jpeg(640, 480), "image/jpeg", ("JPEG", 640, 480)),
}
ACCEPTED = ("intact PNG", "WebP", "camera multi-picture JPEG")


@pytest.mark.parametrize("case", list(CASES))
def test_an_upload_is_judged_as_its_bytes_would_be(start_server: ServerFactory, case: str) -> None:
    data, content_type, facts = CASES[case]
    server = start_server(workers=0)
    url = upload(server, data, content_type)
    assert stored_facts(server) == [(*facts, len(data))]
    inline = submit(server, base64.b64encode(data).decode())
    assert submit(server, url) == inline
    if case in ACCEPTED:
        assert inline == (200, "created")


def test_a_submit_leaves_an_upload_checked_on_arrival_unread(start_server: ServerFactory) -> None:
    server = start_server(workers=0)
    url = upload(server, image_bytes(640, 480))
    # The file's bytes change behind the server's back: a submit judges the facts found on arrival...
    uploaded_file(server).write_bytes(image_bytes(200, 200))
    status, said = submit(server, url)
    assert (status, said) == (200, "created")
    # ...and where there are none (an upload made before they were kept), it reads and checks the file.
    with server.runtime.database.engine.begin() as connection:
        connection.execute(text("UPDATE uploads SET image_format = NULL, image_width = NULL, image_height = NULL"))
    assert submit(server, url) == (400, "image is 200x200; each side must be at least 300 px")


def test_an_upload_gone_before_the_job_is_kept_refuses_the_job_and_charges_nothing(
    start_server: ServerFactory,
) -> None:
    server = start_server(workers=0)
    url = upload(server, image_bytes(640, 480))
    balance = server.client.get("/api/v3/balance").json()["data"]["balance"]
    key = server.runtime.keys.authenticate(server.key)
    predictions = server.runtime.predictions
    prepared = predictions.complete(predictions.draft(key, SEED_ROUTE, {"prompt": "zoom in", "image": url}))
    assert prepared.job.input_files == {} and list(prepared.job.input_sources) == ["image"], "never read"

    uploaded_file(server).unlink()
    with pytest.raises(InputError, match="this upload has expired"):
        predictions.intake.accept(prepared.key, prepared.job)
    assert server.client.get("/api/v3/balance").json()["data"]["balance"] == balance
    assert not list((server.runtime.storage.root / "inputs").glob("*"))  # type: ignore[attr-defined]
    with server.runtime.database.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM predictions")).scalar() == 0
