"""Entry point for gunicorn: `gunicorn app.wsgi:app`. Built at import, outside any request, with the
environment's settings (`get_settings()`) and `worker.celery_app.app`, which it then carries
(`app.context`)."""

from app import create_app

app = create_app()
