"""The HTTP service: FastAPI app, per-user feed, superseding runs, metrics, limits and auth."""

from __future__ import annotations

from .app import app_from_env, create_app

__all__ = ["app_from_env", "create_app"]
