"""WSGI entry point: ``waitress-serve --call app:create_app`` or ``flask --app app run``."""

from portal import create_app

app = create_app()
