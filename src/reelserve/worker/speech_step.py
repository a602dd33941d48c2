"""The worker's speech step: after the engine, the script's lines spoken over the video (speech/stage.py)."""

from __future__ import annotations

import dataclasses

from reelserve.engines.base import EngineError, GeneratedVideo, GenerationRequest, JobInterrupted, StopCheck
from reelserve.speech.backends import SpeechBackend, SpeechError, SpeechInterrupted
from reelserve.speech.stage import speech_track


def speak_over(
    video: GeneratedVideo, request: GenerationRequest, backend: SpeechBackend, should_stop: StopCheck
) -> GeneratedVideo:
    """`video` with the request's lines spoken on its audio track (mixed with the engine's own sound, if any)."""
    script = request.script
    if script is None or not script.speaks:
        return video
    try:
        track = speech_track(
            script,
            request.voice_samples,
            video.frame_count / video.fps,
            backend,
            should_stop,
            engine_audio=video.audio,
            engine_rate=video.audio_sample_rate,
        )
    except SpeechInterrupted as stopped:
        raise JobInterrupted(str(stopped)) from None
    except SpeechError as failure:
        raise EngineError(f"speaking the lines failed: {failure}", kind=failure.kind) from None
    return dataclasses.replace(video, audio=track.samples, audio_sample_rate=track.rate)
