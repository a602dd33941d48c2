"""Another user, in a process of its own: polls one URL for a while and prints each answer's latency and status
as JSON.

For tests that measure what a client sees while the test's own process is busy (its threads sending, its garbage
collections over everything the suite has loaded), so that only the server's delays are counted."""

from __future__ import annotations

import argparse
import json
import sys
import time

import httpx


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--key", required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--pause", type=float, default=0.02)
    args = parser.parse_args()
    polls: list[tuple[float, float, int]] = []
    with httpx.Client(timeout=10, headers={"Authorization": args.key}) as client:
        client.get(args.url)
        begun = time.monotonic()
        while (started := time.monotonic()) < begun + args.seconds:
            status = client.get(args.url).status_code
            polls.append((started - begun, time.monotonic() - started, status))
            time.sleep(args.pause)
    json.dump([{"at": at, "latency": latency, "status": status} for at, latency, status in polls], sys.stdout)


if __name__ == "__main__":
    main()
