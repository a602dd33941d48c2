"""The embedded default engine: camera motion over the still image, on any CPU."""

from reelserve.engines.motion.engine import MotionEngine

__all__ = ["MotionEngine"]
