"""The request class: form data as the views and Flask-WTF expect it."""

from __future__ import annotations

from flask import Request


class PassgateRequest(Request):
    """A multipart part without a ``name`` is parsed by Werkzeug under the key ``None``;
    Flask-WTF's CSRF check then calls ``None.endswith`` (HTTP 500 before any view runs).
    Such parts carry nothing a form can use: drop them (found by tests/security/test_fuzz.py)."""

    def _load_form_data(self) -> None:
        super()._load_form_data()
        for key in ("form", "files"):
            data = self.__dict__.get(key)
            if data is not None and None in data:
                self.__dict__[key] = type(data)(
                    (name, value) for name, value in data.items(multi=True) if name is not None)
