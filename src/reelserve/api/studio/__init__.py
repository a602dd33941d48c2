"""The web studio: pages and assets served by reelserve itself (no CDN, no build step); see pages.py."""

from reelserve.api.studio.pages import install_studio

__all__ = ["install_studio"]
