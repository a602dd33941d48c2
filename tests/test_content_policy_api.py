"""The content policy at the API: blocked before anything is charged or queued, and on outputs."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from reelserve.store.tables import Prediction
from tests.conftest import SEED_ROUTE, ServerFactory
from tests.moderation.tiny_classifier import save_tiny_classifier
from tests.support.server import RunningServer

V30 = "kwaivgi/kling-v3.0-std/image-to-video"


def assert_blocked(response, param: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == 503 and body["data"] is None
    assert body["error"]["type"] == "content_policy_violation"
    assert body["error"]["param"] == param


def predictions_count(server: RunningServer) -> int:
    with server.runtime.database.session() as session:
        return session.scalar(select(func.count()).select_from(Prediction)) or 0


def test_blocked_prompts_cost_nothing_and_create_nothing(start_server: ServerFactory, image_url: str) -> None:
    server = start_server(workers=0)
    balance = server.client.get("/api/v3/balance").json()["data"]["balance"]
    assert_blocked(server.submit(SEED_ROUTE, {"prompt": "c.h.i.l.d p0rn", "image": image_url}), "prompt")
    assert_blocked(server.submit(SEED_ROUTE, {"prompt": "a beach", "negative_prompt": "\uff23\uff33\uff21\uff2d",
                                              "image": image_url}), "negative_prompt")
    segments = [{"index": 1, "prompt": "a park", "duration": "2"},
                {"index": 2, "prompt": "underage s e x", "duration": "3"}]
    assert_blocked(server.submit(V30, {"prompt": "a day", "image": image_url, "multi_prompt": segments}),
                   "multi_prompt[1].prompt")
    assert predictions_count(server) == 0
    assert server.client.get("/api/v3/balance").json()["data"]["balance"] == balance
    innocent = server.submit(SEED_ROUTE, {"prompt": "kids playing football in a park, camera pans left",
                                          "image": image_url})
    assert innocent.status_code == 200


def test_operator_terms_are_added(start_sqlite_server: ServerFactory, image_url: str, tmp_path: Path) -> None:
    terms = tmp_path / "policy.txt"
    terms.write_text("# our own rules\nacme logo\nre:\\bsecret[- ]?project\\b\n")
    server = start_sqlite_server(workers=0, content_policy_file=terms)
    assert_blocked(server.submit(SEED_ROUTE, {"prompt": "the ACME  l0go spinning", "image": image_url}), "prompt")
    assert_blocked(server.submit(SEED_ROUTE, {"prompt": "reveal secret-project x", "image": image_url}), "prompt")
    assert server.submit(SEED_ROUTE, {"prompt": "a logo", "image": image_url}).status_code == 200


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_classifier(tmp_path_factory.mktemp("nsfw"), ["normal", "nsfw"])


def test_classifier_blocks_input_images(
    start_sqlite_server: ServerFactory, image_url: str, classifier_dir: Path
) -> None:
    server = start_sqlite_server(workers=0, nsfw_classifier_dir=classifier_dir, nsfw_threshold=0.0)
    assert_blocked(server.submit(SEED_ROUTE, {"prompt": "a beach", "image": image_url}), "image")
    assert predictions_count(server) == 0


def test_classifier_marks_outputs(start_sqlite_server: ServerFactory, image_url: str, classifier_dir: Path) -> None:
    server = start_sqlite_server(nsfw_classifier_dir=classifier_dir, nsfw_threshold=0.0, block_unsafe_inputs=False)
    data = server.submit(SEED_ROUTE, {"prompt": "zoom in", "image": image_url, "duration": 3,
                                      "enable_sync_mode": True}).json()["data"]
    assert data["status"] == "completed" and data["has_nsfw_contents"] == [True]


def test_classifier_can_block_outputs_and_refund(
    start_sqlite_server: ServerFactory, image_url: str, classifier_dir: Path
) -> None:
    server = start_sqlite_server(nsfw_classifier_dir=classifier_dir, nsfw_threshold=0.0, block_unsafe_inputs=False,
                                 block_unsafe_outputs=True)
    before = server.client.get("/api/v3/balance").json()["data"]["balance"]
    data = server.submit(SEED_ROUTE, {"prompt": "zoom in", "image": image_url, "duration": 3,
                                      "enable_sync_mode": True}).json()["data"]
    assert data["status"] == "failed" and "content policy" in data["error"]
    assert data["outputs"] == []
    assert server.client.get("/api/v3/balance").json()["data"]["balance"] == before
