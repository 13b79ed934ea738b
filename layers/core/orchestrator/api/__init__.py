"""The HTTP API (FastAPI): ``create_app()`` builds it; ``functions/api/app.py`` serves it from Lambda."""

from orchestrator.api.app import create_app

__all__ = ["create_app"]
