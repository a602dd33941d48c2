"""How a provider's failures become a job's failure: one message a user can read, never a credential."""

from __future__ import annotations

from collections.abc import Iterable

from reelserve.engines.base import EngineError
from reelserve.errors import ContentPolicyViolation

MAX_PROVIDER_TEXT = 300


class UpstreamFailure(EngineError):
    """The provider could not do the job (5xx, no answer, a failed job, a malformed answer)."""


class Redactor:
    """Removes credentials from any text a provider sent back before it reaches a message or a log."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = [secret for secret in secrets if len(secret) >= 4]

    def add(self, secret: str) -> None:
        if len(secret) >= 4:
            self._secrets.append(secret)

    def clean(self, text: object) -> str:
        cleaned = str(text)
        for secret in self._secrets:
            cleaned = cleaned.replace(secret, "[redacted]")
        cleaned = " ".join(cleaned.split())
        return cleaned if len(cleaned) <= MAX_PROVIDER_TEXT else cleaned[: MAX_PROVIDER_TEXT - 1] + "…"


def refused(label: str, message: str) -> ContentPolicyViolation:
    """A provider's content-policy refusal, as reelserve's own content-policy failure."""
    detail = f": {message}" if message else ""
    return ContentPolicyViolation(f"blocked by the content policy of {label}{detail}")


def failed(label: str, message: str) -> UpstreamFailure:
    return UpstreamFailure(f"{label} failed the job: {message or 'no reason given'}")


def malformed(label: str, what: str) -> UpstreamFailure:
    return UpstreamFailure(f"{label} sent an answer reelserve could not read: {what}")


CONTENT_POLICY_HINTS = ("content policy", "content_policy", "content moderation", "sensitive", "nsfw", "safety")


def sounds_like_a_refusal(message: str) -> bool:
    """For providers whose failed jobs carry only text: whether the text says the content was refused."""
    lowered = message.lower()
    return any(hint in lowered for hint in CONTENT_POLICY_HINTS)
