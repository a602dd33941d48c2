"""The autoscaling signal: jobs waiting per route and queue, and the oldest one's age, read from the database at each
scrape, rise as jobs are submitted with no worker to take them and fall to zero as a worker (another server on the
same database) takes and runs them; on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import time

from tests.conftest import ServerFactory
from tests.observe.scrape import scrape, value
from tests.support.images import image_bytes

TOKEN = "queue-depth-token-0123456789"
ROUTE = "kwaivgi/kling-v2.5-turbo-pro/image-to-video"
IMAGE = base64.b64encode(image_bytes(640, 360)).decode()


def test_queue_depth_rises_and_falls(start_server: ServerFactory) -> None:
    api = start_server(workers=0, metrics_token=TOKEN)
    queue = api.runtime.engines.binding(ROUTE).queue

    def waiting() -> tuple[float, float, float]:
        found = scrape(api.client, TOKEN)
        return (value(found, "reelserve_queue_waiting_jobs", route=ROUTE, queue=queue),
                value(found, "reelserve_queue_oldest_wait_seconds", route=ROUTE, queue=queue),
                value(found, "reelserve_queue_running_jobs", route=ROUTE, queue=queue))

    assert waiting() == (0, 0, 0)
    ids = []
    for count in (1, 2, 3):
        answer = api.submit(ROUTE, {"prompt": "a slow zoom", "image": IMAGE, "duration": 5})
        assert answer.status_code == 200, answer.text
        ids.append(answer.json()["data"]["id"])
        jobs, _, running = waiting()
        assert (jobs, running) == (count, 0)
    time.sleep(0.3)
    jobs, oldest, _ = waiting()
    assert jobs == 3 and 0.3 <= oldest < 120, oldest
    other_route = "kwaivgi/kling-v2.6-pro/image-to-video"
    assert value(scrape(api.client, TOKEN), "reelserve_queue_waiting_jobs", route=other_route,
                 queue=api.runtime.engines.binding(other_route).queue) == 0, "a route with none waiting shows 0"

    start_server(workers=1)  # a worker elsewhere, on the same database
    seen = []
    deadline = time.monotonic() + 120
    while True:
        jobs, oldest, running = waiting()
        seen.append((jobs, running))
        if jobs == 0 and running == 0:
            break
        assert time.monotonic() < deadline, f"the queue did not empty: {seen}"
        time.sleep(0.05)
    assert oldest == 0
    counts = [jobs for jobs, _ in seen]
    assert counts == sorted(counts, reverse=True), f"the queue only shrinks once a worker takes from it: {seen}"
    assert all(running <= 1 for _, running in seen), "one worker runs one job at a time"
    statuses = {api.client.get(f"/api/v3/predictions/{one}").json()["data"]["status"] for one in ids}
    assert statuses == {"completed"}
