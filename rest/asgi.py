"""``rest.asgi:app``: the application configured from the environment (for uvicorn)."""

from rest.app import create_app

app = create_app()
