"""The content policy as the submit path and the worker use it."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image
from pydantic import BaseModel

from reelserve.errors import ContentPolicyViolation
from reelserve.service.moderation.image_classifier import ImageClassifier
from reelserve.service.moderation.text_policy import TextPolicy, blocked_message, prompt_texts

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ContentPolicy:
    text: TextPolicy
    classifier: ImageClassifier | None = None
    block_unsafe_inputs: bool = False
    block_unsafe_outputs: bool = False
    """When an output is flagged, the worker withholds it rather than only marking it."""

    def check_texts(self, texts: Mapping[str, str | None]) -> None:
        """Raises ContentPolicyViolation for the first text the policy blocks."""
        match = self.text.check(texts)
        if match is not None:
            logger.warning("content policy blocked %s (rule %r)", match.param, match.rule)
            raise ContentPolicyViolation(match.message, param=match.param)

    def check_params(self, params: BaseModel) -> None:
        """check_texts on a request's prompt, negative_prompt and multi_prompt segments."""
        self.check_texts(prompt_texts(params))

    @property
    def inspects_input_images(self) -> bool:
        """Whether check_input_image looks at pixels (then it needs the image decoded)."""
        return self.classifier is not None and self.block_unsafe_inputs

    def check_input_image(self, image: Image.Image, param: str) -> None:
        if not self.inspects_input_images:
            return
        score = self.classifier.classify([image])[0]
        if score >= self.classifier.threshold:
            logger.warning("content policy blocked %s (image classifier score %.3f)", param, score)
            raise ContentPolicyViolation(blocked_message(param), param=param)

    def score_output_frames(self, frames: Sequence[np.ndarray]) -> bool:
        """has_nsfw_contents for one output, from frames the caller sampled (see sample_frames).

        Frames are HxWx3 uint8 RGB arrays. False when no classifier is configured.
        """
        if self.classifier is None or not frames:
            return False
        scores = self.classifier.classify([Image.fromarray(np.asarray(frame, dtype=np.uint8)) for frame in frames])
        flagged = any(self.classifier.flags(scores))
        if flagged:
            logger.info("image classifier flagged an output (highest frame score %.3f)", max(scores))
        return flagged
