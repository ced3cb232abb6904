"""The CSV import form."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from ..messages import text


class ImportForm(FlaskForm):
    file = FileField(
        _l("CSV file"),
        validators=[FileRequired(message=_l("Choose a CSV file."))],
        render_kw={"accept": ".csv,text/csv"},
    )

    def text(self, limit: int) -> str | None:
        """The uploaded file as text, or None with the reason under the field."""
        raw = self.file.data.read(limit + 1)
        if len(raw) > limit:
            self.file.errors = [text("FILE_TOO_LARGE")]
            return None
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            self.file.errors = [text("FILE_NOT_UTF8")]
            return None
