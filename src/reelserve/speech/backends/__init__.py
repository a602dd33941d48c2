"""Speech backends and building the one a route's configuration names."""

from __future__ import annotations

from reelserve.speech.backends.base import LineToSpeak, SpeechBackend, SpeechError, SpeechInterrupted
from reelserve.speech.options import SpeechOptions


def build_backend(options: SpeechOptions) -> SpeechBackend:
    """Cheap: nothing is loaded until `start()`."""
    if options.backend == "approximate":
        from reelserve.speech.backends.approximate import ApproximateBackend

        return ApproximateBackend()
    from reelserve.speech.backends.resident_tts import ResidentSpeechBackend

    return ResidentSpeechBackend(options)


__all__ = ["LineToSpeak", "SpeechBackend", "SpeechError", "SpeechInterrupted", "build_backend"]
