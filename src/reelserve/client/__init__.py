"""A Python client for reelserve and the other v3 predictions APIs (WaveSpeed, GPTProto).

    from reelserve.client import Client

    with Client() as client:          # REELSERVE_API_KEY, REELSERVE_URL
        image = client.upload("photo.jpg")
        video = client.run("kwaivgi/kling-v2.5-turbo-std/image-to-video",
                           {"prompt": "slowly zoom in", "image": image.download_url},
                           progress=lambda p: print(p.status, p.progress))
        client.download(video, "out.mp4")
"""

from reelserve.client.async_client import AsyncClient
from reelserve.client.errors import (
    AuthenticationError,
    ConnectionFailed,
    ContentPolicyViolation,
    InsufficientBalance,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    PredictionFailed,
    RateLimited,
    ReelserveError,
    ServerError,
    Timeout,
)
from reelserve.client.sync_client import Client
from reelserve.client.types import TERMINAL_STATUSES, Prediction, PredictionPage, Upload

__all__ = [
    "TERMINAL_STATUSES",
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "ConnectionFailed",
    "ContentPolicyViolation",
    "InsufficientBalance",
    "InvalidRequest",
    "NotFound",
    "PermissionDenied",
    "Prediction",
    "PredictionFailed",
    "PredictionPage",
    "RateLimited",
    "ReelserveError",
    "ServerError",
    "Timeout",
    "Upload",
]
