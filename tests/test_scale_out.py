"""The scale-out shape, in processes: API servers without workers and `reelserve worker`s sharing PostgreSQL
(procrastinate), an S3 bucket (moto's server) and Redis, on the motion engine."""

from __future__ import annotations

import base64
import io
import secrets
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import av
import httpx
from sqlalchemy import select

from reelserve.store.tables import LedgerEntry, Prediction, WebhookDelivery
from tests.conftest import SEED_ROUTE
from tests.observe.scrape import scrape
from tests.support.cluster import cluster
from tests.support.images import image_bytes
from tests.support.object_store import S3Server
from tests.support.process import ServerProcess, free_port
from tests.support.webhook_receiver import WebhookReceiver

PRO_ROUTE = "kwaivgi/kling-v2.5-turbo-pro/image-to-video"
ENDED = {"completed", "failed", "cancelled", "timeout"}
BURST = 24


def upload_image(api: ServerProcess, key: str) -> str:
    answer = httpx.post(
        f"{api.base_url}/api/v3/media/upload/binary", headers={"Authorization": key},
        files={"file": ("cat.png", image_bytes(640, 360), "image/png")}, timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]["download_url"]


def submit(
    api: ServerProcess, key: str, body: dict[str, Any], route: str = SEED_ROUTE, webhook: str | None = None,
    **headers: str,
) -> httpx.Response:
    return httpx.post(f"{api.base_url}/api/v3/{route}", json=body, headers={"Authorization": key, **headers},
                      params={"webhook": webhook} if webhook else None, timeout=60)


def result(api: ServerProcess, key: str, prediction_id: str) -> dict[str, Any]:
    answer = httpx.get(f"{api.base_url}/api/v3/predictions/{prediction_id}/result", headers={"Authorization": key},
                       timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def wait_all(api: ServerProcess, key: str, ids: list[str], timeout: float = 300) -> dict[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout
    done: dict[str, dict[str, Any]] = {}
    while len(done) < len(ids):
        for prediction_id in ids:
            if prediction_id not in done and (data := result(api, key, prediction_id))["status"] in ENDED:
                done[prediction_id] = data
        assert time.monotonic() < deadline, f"{len(ids) - len(done)} of {len(ids)} jobs have not ended"
        time.sleep(0.3)
    return done


def plays(url: str) -> int:
    """Downloads an output link and decodes every frame with PyAV; the number of frames."""
    answer = httpx.get(url, timeout=60)
    assert answer.status_code == 200, f"{url}: {answer.status_code}"
    with av.open(io.BytesIO(answer.content)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_two_apis_and_two_workers_complete_every_job_once_when_a_worker_is_killed(
    tmp_path: Path, s3_server: S3Server
) -> None:
    receiver = WebhookReceiver()
    with cluster(tmp_path, s3_server) as shape:
        apis = [shape.api(), shape.api()]
        first, second = shape.worker(), shape.worker()
        key, account_id = shape.customer()
        image = upload_image(apis[0], key)
        body = {"prompt": "slowly zoom in", "image": image, "duration": 3, "aspect_ratio": "1:1"}
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(
                lambda n: submit(apis[n % 2], key, body, webhook=receiver.url(f"/hook/{n}")), range(40)
            ))
        assert [answer.status_code for answer in answers] == [200] * 40
        ids = [answer.json()["data"]["id"] for answer in answers]

        deadline = time.monotonic() + 120
        while not (busy := [w for w in shape.workers_seen(apis[1]) if w["id"] == first.name and w["running"]]):
            assert time.monotonic() < deadline, "the first worker never ran a job"
            time.sleep(0.05)
        killed_job = busy[0]["running"][0]
        first.kill()

        done = wait_all(apis[0], key, ids)
        assert Counter(data["status"] for data in done.values()) == {"completed": 40}
        with shape.database.session() as session:
            rows = {row.id: row for row in session.scalars(select(Prediction).where(Prediction.id.in_(ids)))}
            ledger = session.scalars(select(LedgerEntry).where(LedgerEntry.account_id == account_id)).all()
            deliveries = Counter(session.scalars(select(WebhookDelivery.prediction_id)).all())
        assert rows[killed_job].attempts == 2 and rows[killed_job].worker_id.startswith(second.name)
        assert Counter(entry.kind for entry in ledger) == {"topup": 1, "charge": 40}, "no refund, no double charge"
        assert deliveries == dict.fromkeys(ids, 1), "each job ended exactly once"
        hooks = receiver.wait_for(40, timeout=60)
        time.sleep(1)
        assert len(receiver.received) == 40 and sorted(h.path for h in hooks) == sorted(f"/hook/{n}" for n in range(40))
        assert shape.balance_matches_ledger(account_id) == 100_000_000 - sum(row.price_micros for row in rows.values())

        stored = set(s3_server.keys(shape.bucket))
        assert {f"reelserve/outputs/{i}/{i}.mp4" for i in ids} <= stored, "every output is in the bucket"
        assert all(data["outputs"][0].startswith(s3_server.endpoint_url) for data in done.values()), "presigned"
        assert plays(done[killed_job]["outputs"][0]) == 72 and plays(done[ids[0]]["outputs"][0]) == 72
        assert all(not w["running"] for w in shape.workers_seen(apis[0]) if w["id"] == second.name)
    receiver.close()


def test_an_api_killed_mid_burst_charges_only_for_jobs_it_answered(tmp_path: Path, s3_server: S3Server) -> None:
    with cluster(tmp_path, s3_server) as shape:
        doomed, survivor = shape.api(), shape.api()
        shape.worker(concurrency=2)
        key, account_id = shape.customer()
        image = upload_image(survivor, key)
        body = {"prompt": "pan left", "image": image, "duration": 3, "aspect_ratio": "1:1"}
        idempotency = [secrets.token_hex(8) for _ in range(BURST)]
        answered: dict[int, str] = {}
        lock = threading.Lock()

        def send(n: int) -> None:
            try:
                answer = submit(doomed, key, body, **{"Idempotency-Key": idempotency[n]})
            except httpx.TransportError:
                return
            if answer.status_code == 200:
                with lock:
                    answered[n] = answer.json()["data"]["id"]

        with ThreadPoolExecutor(12) as pool:
            futures = [pool.submit(send, n) for n in range(BURST)]
            while len(answered) < 8:
                time.sleep(0.005)
            doomed.kill()
            for future in futures:
                future.result()
        assert 8 <= len(answered) < BURST, "the API was killed in the middle of the burst"
        with shape.database.session() as session:
            charged = set(session.scalars(
                select(LedgerEntry.prediction_id).where(LedgerEntry.account_id == account_id,
                                                        LedgerEntry.kind == "charge")
            ).all())
        assert set(answered.values()) <= charged, "every submit answered 200 was charged"
        # A client retries what was not answered, with the same Idempotency-Key, on the other API: a submit
        # committed just before the kill is answered with its prediction, not charged again.
        for n in range(BURST):
            if n not in answered:
                retried = submit(survivor, key, body, **{"Idempotency-Key": idempotency[n]})
                assert retried.status_code == 200, retried.text
                answered[n] = retried.json()["data"]["id"]
        ids = list(answered.values())
        assert len(set(ids)) == BURST
        with shape.database.session() as session:
            charged_after = session.scalars(
                select(LedgerEntry.prediction_id).where(LedgerEntry.account_id == account_id,
                                                        LedgerEntry.kind == "charge")
            ).all()
        assert sorted(charged_after) == sorted(ids), "charged once each, and only for answered submits"
        assert charged <= set(ids), "nothing was charged for a submit that no answer reached"
        done = wait_all(survivor, key, ids)
        assert {data["status"] for data in done.values()} == {"completed"}, "every answered submit ran"
        shape.balance_matches_ledger(account_id)


def test_workers_restricted_to_routes_take_only_their_routes_jobs(tmp_path: Path, s3_server: S3Server) -> None:
    config = tmp_path / "reelserve.toml"
    config.write_text(
        f'[routes."{SEED_ROUTE}"]\nengine = "motion"\nqueue = "std"\n\n'
        f'[routes."{PRO_ROUTE}"]\nengine = "motion"\nqueue = "pro"\n'
    )
    with cluster(tmp_path, s3_server, config=config) as shape:
        api = shape.api()
        std = shape.worker(routes=[SEED_ROUTE])
        pro = shape.worker(routes=[PRO_ROUTE])
        key, _ = shape.customer()
        image = upload_image(api, key)
        body = {"prompt": "tilt up", "image": image, "duration": 3, "aspect_ratio": "1:1"}
        std_ids = [submit(api, key, body).json()["data"]["id"] for _ in range(4)]
        pro_ids = [submit(api, key, body, route=PRO_ROUTE).json()["data"]["id"] for _ in range(4)]
        wait_all(api, key, std_ids + pro_ids)
        with shape.database.session() as session:
            ran_by = dict(session.execute(select(Prediction.id, Prediction.worker_id)).all())
        assert all(ran_by[i].startswith(std.name + "-") for i in std_ids)
        assert all(ran_by[i].startswith(pro.name + "-") for i in pro_ids)
        seen = {w["id"]: w for w in shape.workers_seen(api)}
        assert seen[std.name]["queues"] == ["std"] and seen[pro.name]["queues"] == ["pro"]
        assert SEED_ROUTE in seen[std.name]["routes"] and PRO_ROUTE not in seen[std.name]["routes"]


def test_a_cancel_on_one_api_stops_a_job_running_on_another_machines_worker(
    tmp_path: Path, s3_server: S3Server
) -> None:
    with cluster(tmp_path, s3_server) as shape:
        api_1, api_2 = shape.api(), shape.api()
        worker_2 = shape.worker()
        key, account_id = shape.customer()
        image = base64.b64encode(image_bytes(640, 360)).decode()
        prediction_id = submit(api_2, key, {"prompt": "slowly zoom in", "image": image, "duration": 15}).json()[
            "data"]["id"]
        deadline = time.monotonic() + 60
        while result(api_1, key, prediction_id)["status"] != "processing":
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.02)
        asked = time.monotonic()
        cancelled = httpx.post(f"{api_1.base_url}/api/v3/predictions/{prediction_id}/cancel",
                               headers={"Authorization": key}, timeout=30)
        assert cancelled.status_code == 200, cancelled.text
        while (data := result(api_1, key, prediction_id))["status"] not in ENDED:
            assert time.monotonic() - asked < 30, "the cancel never reached the worker"
            time.sleep(0.05)
        assert data["status"] == "cancelled" and data["error"] == "cancelled while it was running"
        with shape.database.session() as session:
            assert session.get(Prediction, prediction_id).worker_id.startswith(worker_2.name)
        assert not [k for k in s3_server.keys(shape.bucket) if k.startswith(f"reelserve/outputs/{prediction_id}")]
        assert shape.balance_matches_ledger(account_id) == 100_000_000, "refunded"

        # SIGTERM: the worker's running job goes back to the queue at once, uncounted, and the worker exits.
        second = submit(api_1, key, {"prompt": "pan left", "image": image, "duration": 15}).json()["data"]["id"]
        while result(api_2, key, second)["status"] != "processing":
            assert time.monotonic() - asked < 90, "the second job never started"
            time.sleep(0.02)
        worker_2.process.terminate()
        assert worker_2.process.wait(30) == 0
        with shape.database.session() as session:
            requeued = session.get(Prediction, second)
            assert requeued.status == "created" and requeued.attempts == 0 and requeued.worker_id is None
        assert not shape.workers_seen(api_1), "a worker that stops cleanly leaves the workers table"


def test_workers_serve_their_metrics_port_and_a_taken_port_stops_no_worker(
    tmp_path: Path, s3_server: S3Server
) -> None:
    token = secrets.token_hex(8)
    port = free_port()
    with cluster(tmp_path, s3_server) as shape:
        shape.env.update({"REELSERVE_METRICS_PORT": str(port), "REELSERVE_METRICS_TOKEN": token})
        first = shape.worker()
        second = shape.worker()  # the same port on the same host: taken, so it runs without serving it
        assert "not served by this process" in second.output()
        with httpx.Client(timeout=30) as client:
            deadline = time.monotonic() + 30
            while True:
                samples = scrape(client, token, f"http://127.0.0.1:{port}/metrics")
                beating = {dict(labels)["worker"] for name, labels in samples
                           if name == "reelserve_worker_heartbeat_timestamp_seconds"}
                if first.name in beating:
                    break
                assert time.monotonic() < deadline, beating
                time.sleep(0.2)
        assert first.process.poll() is None and second.process.poll() is None
