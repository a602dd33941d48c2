"""An engine's finished file (a hosted provider's MP4), stored as it is once PyAV has decoded it whole."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av

from reelserve.engines.base import EncodedVideo, EngineError
from reelserve.media.video import EncodedVideoInfo, probe_mp4

log = logging.getLogger(__name__)

MP4_FORMATS = frozenset({"mov", "mp4", "m4a", "3gp", "3g2", "mj2"})


def check_encoded_video(path: Path) -> EncodedVideoInfo:
    """Its duration, size and audio, after decoding every video frame; EngineError when it is not a
    playable MP4 (or MOV) with a video stream."""
    try:
        with av.open(str(path)) as container:
            formats = set(container.format.name.split(","))
        if not formats & MP4_FORMATS:
            raise EngineError(f"the engine's output is a {container.format.name} file, not an MP4")
        info = probe_mp4(path)
    except EngineError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise EngineError(f"the engine's output is not a playable video: {exc}") from None
    if info.frame_count == 0 or info.width <= 0 or info.height <= 0:
        raise EngineError("the engine's output has no video frames")
    return info


@dataclass(frozen=True)
class CheckedFile:
    info: EncodedVideoInfo
    flagged: bool
    details: dict[str, Any]
    """The provider's report, for the prediction's admin view."""


def checked_encoded_output(
    video: EncodedVideo, local_file: Path, flag_output: Callable[[Path, int], bool]
) -> CheckedFile:
    """Moves the engine's file to `local_file` once it decodes whole; flagged where the provider or this server's
    policy flags it. The caller stores it as it is."""
    shutil.move(video.path, local_file)
    info = check_encoded_video(local_file)
    flagged = flag_output(local_file, info.frame_count) or video.has_nsfw_contents
    report = video.provider
    details: dict[str, Any] = {}
    if report is not None:
        details = {
            "provider": report.provider, "model": report.model, "job_id": report.job_id, "cost": report.cost,
            "cost_unit": report.cost_unit, "timings_ms": dict(report.timings_ms),
        }
    log.info(
        "stored a %dx%d %.2f s video (%s audio) from %s", info.width, info.height, info.duration_seconds,
        "with" if info.has_audio else "no", details.get("provider", "the engine"),
    )
    return CheckedFile(info, flagged, details)
