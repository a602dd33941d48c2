"""Assembles one running reelserve from Settings: store, storage, engines, services, workers."""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from reelserve.catalog.bindings import RouteEngines, load_prices, load_route_engines
from reelserve.catalog.prices import PriceList
from reelserve.catalog.routes import VOICE_MODEL_ID
from reelserve.config import Settings
from reelserve.media.fetch import FetchPolicy
from reelserve.media.image import ImageRules
from reelserve.queue.local import DatabaseQueue
from reelserve.service.billing import BillingService
from reelserve.service.inputs import ImageLoader
from reelserve.service.jobs import JobIntake
from reelserve.service.keys import CreatedKey, KeyService
from reelserve.service.maintenance import PeriodicTasks
from reelserve.service.moderation import ContentPolicy, ImageClassifier, TextPolicy
from reelserve.service.moderation.output_check import output_flagger
from reelserve.service.predictions import PredictionService
from reelserve.service.ratelimits import RequestRateLimiter
from reelserve.service.uploads import UploadService
from reelserve.service.voices import VoiceService
from reelserve.storage.local import LocalStorage
from reelserve.storage.signing import UrlSigner
from reelserve.store.database import Database
from reelserve.worker.pool import WorkerPool
from reelserve.worker.runner import JobRunner

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    database: Database
    storage: LocalStorage
    signer: UrlSigner
    engines: RouteEngines
    queue: DatabaseQueue
    keys: KeyService
    billing: BillingService
    prices: PriceList
    rate_limiter: RequestRateLimiter
    uploads: UploadService
    voices: VoiceService
    predictions: PredictionService
    pool: WorkerPool | None
    maintenance: PeriodicTasks

    def start(self) -> None:
        self.maintenance.start()
        if self.pool is not None:
            self.engines.start()
            self.pool.start()

    def stop(self) -> None:
        self.maintenance.stop()
        if self.pool is not None:
            self.pool.stop()
        self.engines.close()
        self.database.dispose()


def open_database(settings: Settings) -> Database:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.resolved_database_url())
    database.migrate()
    return database


def build_runtime(settings: Settings) -> Runtime:
    database = open_database(settings)
    storage = LocalStorage(settings.data_dir / "files")
    signer = UrlSigner(_secret(settings), settings.output_url_ttl_seconds)
    engines = load_route_engines(settings.config)
    prices = load_prices(settings.config)
    queue = DatabaseQueue(database, settings.job_lease_seconds, settings.job_max_attempts)
    image_rules = ImageRules()
    uploads = UploadService(database, storage, signer, settings.upload_ttl_seconds)
    policy = fetch_policy(settings)
    images = ImageLoader(policy, image_rules, uploads)
    intake = JobIntake(database, storage, queue, settings.default_max_concurrency)
    voices = VoiceService(database, storage, intake, uploads, policy, prices)
    content_policy = build_content_policy(settings)
    pool = None
    if settings.workers > 0:
        runner = JobRunner(
            database, storage, engines, image_rules, output_flagger(content_policy), voice_model_id=VOICE_MODEL_ID
        )
        pool = WorkerPool(settings.workers, queue, runner, settings.worker_poll_seconds)
    return Runtime(
        settings=settings,
        database=database,
        storage=storage,
        signer=signer,
        engines=engines,
        queue=queue,
        keys=KeyService(database, settings.key_cache_seconds),
        billing=BillingService(database),
        prices=prices,
        rate_limiter=RequestRateLimiter(settings.rate_limit_storage),
        uploads=uploads,
        voices=voices,
        predictions=PredictionService(database, intake, engines, images, voices, prices, content_policy),
        pool=pool,
        maintenance=PeriodicTasks(settings.maintenance_interval_seconds, [uploads.purge_expired]),
    )


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
