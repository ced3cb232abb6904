"""Admin forms. Only declared fields are read, so extra POSTed fields (role=admin,
team_id=…) cannot be mass-assigned; a manager's form has no role field at all."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import Optional

from .. import access
from ..forms import MaxLength, no_control_chars, required_text_field
from . import labels, search, service


def _team_coerce(value):
    try:
        return int(value) if value not in (None, "", "None") else None
    except (TypeError, ValueError):
        return -1  # not a choice: "Not a valid choice" error, never a 500


class UserForm(FlaskForm):
    username = required_text_field(
        _l("Username"), _l("Enter a username."), 64, autocomplete="off", spellcheck="false"
    )
    email = StringField(
        _l("Email"),
        validators=[Optional(), MaxLength(254), no_control_chars],
        render_kw={"autocomplete": "off", "type": "email"},
    )
    first_name = StringField(_l("First name"), validators=[MaxLength(64), no_control_chars])
    last_name = StringField(_l("Last name"), validators=[MaxLength(64), no_control_chars])
    role = SelectField(_l("Role"))
    team = SelectField(_l("Team"), coerce=_team_coerce)
    provider = SelectField(_l("Provider"), default="identity")
    language = SelectField(_l("Language"), default="")
    disabled = BooleanField(_l("Disabled (cannot sign in)"))

    def setup(self, actor, *, creating: bool) -> UserForm:
        """Choices for this actor; a manager's form loses the role field (mass-assignment safe)."""
        roles = access.assignable_roles(actor)
        if roles:
            self.role.choices = [(r, labels.role_label(r)) for r in roles]
            self.role.data = self.role.data or access.default_role()
        else:
            del self.role
        # A manager creates accounts in one of their teams only (seed 003): no "No team".
        no_team = [] if creating and not roles else [(None, _l("No team"))]
        self.team.choices = no_team + [(t.id, t.name) for t in search.teams_for(actor)]
        self.provider.choices = [(p, label) for p, label in labels.PROVIDER_LABELS.items()]
        self.language.choices = [
            ("", _l("Organisation default")),
            ("en", "English"),
            ("fr", "Français"),
        ]
        return self

    def data_for_service(self) -> service.UserData:
        return service.UserData(
            username=self.username.data or "",
            email=self.email.data or None,
            first_name=self.first_name.data or "",
            last_name=self.last_name.data or "",
            team_id=self.team.data,
            provider=self.provider.data,
            disabled=bool(self.disabled.data),
            role=self.role.data if "role" in self else None,
            language=self.language.data or "",
        )
