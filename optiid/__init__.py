"""Opti ID Admin Center Django project: settings, URLs, Celery app, WSGI/ASGI entry points."""

from optiid.celery import app as celery_app

__all__ = ["celery_app"]
