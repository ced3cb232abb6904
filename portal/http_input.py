"""What the app accepts from a request before any view runs: form data as the views and
Flask-WTF expect it, and ids in URLs that the database can hold. Both found by
tests/security/test_fuzz.py (each was an HTTP 500)."""

from __future__ import annotations

from flask import Request
from werkzeug.routing import IntegerConverter

# Ids are 64-bit signed integers in SQLite and PostgreSQL (bigint); a larger number in a
# URL made the driver raise OverflowError / NumericValueOutOfRange.
MAX_ID = 2**63 - 1


def parse_id(raw: str, limit: int = MAX_ID) -> int | None:
    """A typed id (form field, query string) as a number, or None: ASCII digits only
    (``str.isdigit`` also accepts "²", which ``int`` refuses) and at most ``limit``."""
    if not raw or not raw.isascii() or not raw.isdigit():
        return None
    number = int(raw)
    return number if number <= limit else None


class PassgateRequest(Request):
    """A multipart part without a ``name`` is parsed by Werkzeug under the key ``None``;
    Flask-WTF's CSRF check then calls ``None.endswith``. Such parts carry nothing a form
    can use: drop them."""

    def _load_form_data(self) -> None:
        super()._load_form_data()
        for key in ("form", "files"):
            data = self.__dict__.get(key)
            if data is not None and None in data:
                self.__dict__[key] = type(data)(
                    (name, value) for name, value in data.items(multi=True) if name is not None
                )


class IdConverter(IntegerConverter):
    """``<int:…>`` in every route: a number beyond what the database holds does not match
    the route (404), like any id that does not exist."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        super().__init__(map, fixed_digits, min, MAX_ID if max is None else max, signed)


def init_app(app) -> None:
    """Before the blueprints are registered (the routes take the converter then)."""
    app.request_class = PassgateRequest
    app.url_map.converters["int"] = IdConverter
