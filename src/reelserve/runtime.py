"""Assembles one running reelserve from Settings: store, storage, engines, services, workers."""

from __future__ import annotations

import ipaddress
import logging
import multiprocessing
import os
import secrets
import socket
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from reelserve.api.presenters import prediction_data
from reelserve.catalog.bindings import RouteEngines, load_route_engines
from reelserve.catalog.prices import PriceList
from reelserve.catalog.route_tables import ConfigError
from reelserve.catalog.routes import VOICE_MODEL_ID
from reelserve.config import Settings
from reelserve.engines.registry import EngineContext
from reelserve.jobs.embedded import EmbeddedQueue
from reelserve.jobs.lifecycle import Lifecycle
from reelserve.jobs.procrastinate_queue import ProcrastinateQueue
from reelserve.jobs.queue import Consumer, JobQueue
from reelserve.jobs.transitions import stored_files
from reelserve.media.image import ImageRules
from reelserve.net.fetch import FetchPolicy
from reelserve.observability import build_observability
from reelserve.observe import job_events
from reelserve.observe.operations import Observability
from reelserve.service.billing import BillingService
from reelserve.service.changes import PredictionChanges
from reelserve.service.engine_choice import EngineChooser
from reelserve.service.inputs import ImageLoader
from reelserve.service.jobs import JobIntake
from reelserve.service.keys import CreatedKey, KeyService
from reelserve.service.maintenance import PeriodicTasks, Task
from reelserve.service.moderation import ContentPolicy, ImageClassifier, TextPolicy
from reelserve.service.moderation.output_check import output_flagger
from reelserve.service.predictions import PredictionService
from reelserve.service.ratelimits import RequestRateLimiter
from reelserve.service.uploads import UploadService
from reelserve.service.voices import VoiceService
from reelserve.service.waiting import WaitEstimates
from reelserve.service.webhooks import WebhookSecrets, WebhookSender
from reelserve.service.workers import ALL_QUEUES, WorkerDirectory, WorkerReport
from reelserve.storage.base import Storage
from reelserve.storage.links import FileLinks
from reelserve.storage.open import StorageConfigError, open_storage
from reelserve.store import idempotency as idempotency_store
from reelserve.store.database import Database
from reelserve.worker.runner import JobRunner

log = logging.getLogger(__name__)

VOICE_QUEUE = "voices"


@dataclass
class Runtime:
    settings: Settings
    database: Database
    storage: Storage
    signer: FileLinks
    engines: RouteEngines
    queue: JobQueue
    lifecycle: Lifecycle
    keys: KeyService
    billing: BillingService
    prices: PriceList
    rate_limiter: RequestRateLimiter
    uploads: UploadService
    voices: VoiceService
    predictions: PredictionService
    changes: PredictionChanges
    webhook_secrets: WebhookSecrets
    webhooks: WebhookSender
    consumer: Consumer | None
    maintenance: PeriodicTasks
    image_checks: Executor
    """A process of its own for image checks that decode many pixels (see service/inputs.py)."""
    observability: Observability
    workers: WorkerDirectory | None = None
    worker_report: WorkerReport | None = None

    def start(self) -> None:
        # Before any worker starts, what a killed process left in scratch space goes; the maintenance task
        # keeps removing it while the server runs (other processes share the data directory).
        self.storage.remove_abandoned_scratch()
        self.observability.start()
        self.maintenance.start()
        self.webhooks.start()
        if self.consumer is not None:
            self.engines.start()
            self.consumer.start()
        if self.worker_report is not None:
            self.worker_report.start()

    def stop(self) -> None:
        if self.consumer is not None:
            self.consumer.stop(timeout=30.0)
        if self.worker_report is not None:
            self.worker_report.stop()
        self.webhooks.stop()
        self.maintenance.stop()
        self.engines.close()
        self.image_checks.shutdown(wait=False, cancel_futures=True)
        self.database.dispose()
        self.observability.stop()
        self.storage.close()


def open_database(settings: Settings) -> Database:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.resolved_database_url())
    database.migrate()
    return database


def build_queue(settings: Settings, database: Database) -> JobQueue:
    """REELSERVE_QUEUE_BACKEND: procrastinate on PostgreSQL and the embedded queue on SQLite unless forced."""
    backend = settings.queue_backend
    if backend == "auto":
        backend = "embedded" if database.is_sqlite else "procrastinate"
    if backend == "embedded":
        return EmbeddedQueue(database, settings.job_lease_seconds, settings.worker_poll_seconds)
    if database.is_sqlite:
        raise ConfigError("REELSERVE_QUEUE_BACKEND=procrastinate needs PostgreSQL (REELSERVE_DATABASE_URL)")
    queue = ProcrastinateQueue(database, settings.job_lease_seconds, settings.worker_poll_seconds)
    queue.adopt_embedded()
    return queue


def open_file_store(settings: Settings) -> tuple[Storage, FileLinks]:
    try:
        storage = open_storage(settings)
    except (StorageConfigError, ValueError) as exc:
        raise ConfigError(str(exc)) from None
    links = FileLinks(_secret(settings), settings.output_url_ttl_seconds, storage, settings.serve_files_via_api)
    return storage, links


def build_lifecycle(settings: Settings, database: Database, queue: JobQueue) -> Lifecycle:
    return Lifecycle(database, queue, settings.job_lease_seconds, settings.job_max_attempts)


def recovery_interval(settings: Settings) -> float:
    return max(0.5, settings.job_lease_seconds / 3)


def webhook_sender(settings: Settings, database: Database, links: FileLinks, policy: FetchPolicy) -> WebhookSender:
    return WebhookSender(
        database, WebhookSecrets(database), policy, lambda view, base_url: prediction_data(view, base_url, links),
        concurrency=settings.webhook_concurrency, retry_scale=settings.webhook_retry_scale,
        timeout_seconds=settings.webhook_timeout_seconds,
    )


def build_runtime(settings: Settings) -> Runtime:
    database = open_database(settings)
    storage, signer = open_file_store(settings)
    policy = fetch_policy(settings)
    engines = load_route_engines(settings.config, EngineContext(base_dir=Path.cwd(), fetch_policy=policy))
    prices = engines.prices
    queue = build_queue(settings, database)
    lifecycle = build_lifecycle(settings, database, queue)
    image_rules = ImageRules()
    uploads = UploadService(database, storage, signer, settings.upload_ttl_seconds)
    image_checks = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    images = ImageLoader(policy, image_rules, uploads, image_checks)
    intake = JobIntake(database, storage, queue, settings.default_max_concurrency)
    voices = VoiceService(database, storage, intake, uploads, policy, prices, queue=VOICE_QUEUE)
    content_policy = build_content_policy(settings)
    waits = WaitEstimates(database)
    changes = PredictionChanges(database, waits)
    webhook_secrets = WebhookSecrets(database)
    webhooks = webhook_sender(settings, database, signer, policy)
    lifecycle.on_ended(changes.nudge)
    lifecycle.on_ended(webhooks.wake)
    lifecycle.on_ended(job_events.ended)
    consumer = None
    worker_report = None
    if settings.workers > 0:
        consumer, worker_report = job_worker(
            settings, database, storage, engines, queue, lifecycle, content_policy, None, settings.workers
        )
    workers = WorkerDirectory(database, settings.worker_heartbeat_seconds)
    predictions = PredictionService(
        database, storage, intake, lifecycle, engines, images, voices, prices, content_policy, policy, waits,
        EngineChooser(engines, waits, workers),
    )
    return Runtime(
        settings=settings,
        database=database,
        storage=storage,
        signer=signer,
        engines=engines,
        queue=queue,
        lifecycle=lifecycle,
        keys=KeyService(database, settings.key_cache_seconds, known_models=[route.id for route in engines.routes()]),
        billing=BillingService(database),
        prices=prices,
        rate_limiter=RequestRateLimiter(settings.rate_limit_storage),
        uploads=uploads,
        voices=voices,
        predictions=predictions,
        changes=changes,
        webhook_secrets=webhook_secrets,
        webhooks=webhooks,
        consumer=consumer,
        maintenance=PeriodicTasks(maintenance_tasks(settings, database, storage, lifecycle, uploads, queue)),
        image_checks=image_checks,
        observability=build_observability(
            settings, database, storage, engines, consumer, extra_queues={VOICE_QUEUE: [VOICE_MODEL_ID]},
            workers=workers,
        ),
        workers=workers,
        worker_report=worker_report,
    )


def maintenance_tasks(
    settings: Settings, database: Database, storage: Storage, lifecycle: Lifecycle, uploads: UploadService,
    queue: JobQueue,
) -> list[Task]:
    def remove_expired_outputs() -> None:
        while True:
            rows = lifecycle.expire_outputs(settings.output_retention_seconds)
            for row in rows:
                for stored in stored_files(row):
                    storage.delete(stored)
            if len(rows) < 500:
                return

    every = settings.maintenance_interval_seconds
    return [
        *job_watch_tasks(settings, lifecycle, queue),
        Task("remove expired uploads", every, uploads.purge_expired),
        Task("remove scratch files of killed processes", every, storage.remove_abandoned_scratch),
        Task("remove outputs past retention", every, remove_expired_outputs),
        Task("forget old idempotency keys", every, lambda: idempotency_store.forget_expired(database)),
        Task("forget workers long silent", every, WorkerDirectory(database, 1.0).forget_silent),
    ]


def job_watch_tasks(settings: Settings, lifecycle: Lifecycle, queue: JobQueue) -> list[Task]:
    """Jobs past their max_run_seconds end timeout here, in any process. The jobs of lost workers are recovered by
    the queue backend's scheduler where it has one (procrastinate: a periodic task, one worker at a time, which
    this registers), else here, in every process's maintenance (the embedded queue)."""
    every = recovery_interval(settings)
    tasks = [Task("end overdue jobs", every, lambda: lifecycle.expire_overdue(settings.job_overdue_grace_seconds))]
    if not queue.schedule("recover-lost-jobs", every, lifecycle.recover_lost):
        tasks.insert(0, Task("recover jobs of lost workers", every, lifecycle.recover_lost))
    return tasks


def job_worker(
    settings: Settings, database: Database, storage: Storage, engines: RouteEngines, queue: JobQueue,
    lifecycle: Lifecycle, content_policy: ContentPolicy, queues: list[str] | None, concurrency: int,
) -> tuple[Consumer, WorkerReport]:
    """Workers of this process for `queues` (None: every queue), and their report in the workers table: the routes
    of the engines they hold, and voice creation where they take its queue."""
    runner = JobRunner(
        lifecycle, storage, engines, ImageRules(), output_flagger(content_policy), voice_model_id=VOICE_MODEL_ID
    )
    name = worker_name()
    consumer = queue.consumer(runner.run, queues, concurrency, name)
    routes = [route.id for route in engines.routes()]
    if queues is None or VOICE_QUEUE in queues:
        routes.append(VOICE_MODEL_ID)
    report = WorkerReport(
        database, name, routes, queues if queues is not None else [ALL_QUEUES], concurrency, consumer.running,
        settings.worker_heartbeat_seconds,
    )
    return consumer, report


def worker_name() -> str:
    """Unique to one process; short enough that a run's id (the name and a procrastinate job id) fits a
    prediction's worker_id (64 characters)."""
    return f"{socket.gethostname()[:32]}-{os.getpid()}-{secrets.token_hex(3)}"


def fetch_policy(settings: Settings) -> FetchPolicy:
    return FetchPolicy(
        allow_private=settings.allow_private_urls,
        allowed_networks=tuple(ipaddress.ip_network(net, strict=False) for net in settings.allowed_url_networks),
        allowed_hosts=tuple(settings.allowed_url_hosts),
        max_bytes=settings.fetch_max_bytes,
        timeout_seconds=settings.fetch_timeout_seconds,
    )


def build_content_policy(settings: Settings) -> ContentPolicy:
    text = TextPolicy.load(settings.content_policy_file) if settings.content_policy_file else TextPolicy.default()
    classifier = None
    if settings.nsfw_classifier_dir is not None:
        classifier = ImageClassifier(
            settings.nsfw_classifier_dir, unsafe_labels=tuple(settings.nsfw_labels), threshold=settings.nsfw_threshold
        )
    return ContentPolicy(
        text=text,
        classifier=classifier,
        block_unsafe_inputs=settings.block_unsafe_inputs,
        block_unsafe_outputs=settings.block_unsafe_outputs,
    )


def ensure_first_key(runtime: Runtime) -> CreatedKey | None:
    """On the first start with an empty data directory, make an admin key so the server is usable at once."""
    if runtime.keys.has_any():
        return None
    return runtime.keys.create("default", balance_usd=runtime.settings.first_key_balance_usd, role="admin")


def _secret(settings: Settings) -> bytes:
    if settings.secret_key:
        return settings.secret_key.encode()
    path: Path = settings.data_dir / "secret.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()
