from flask_babel import lazy_gettext as _l
from wtforms import SelectField

from ..auth.forms import PROVIDERS, AccountNameForm


class ForgotForm(AccountNameForm):
    provider = SelectField(_l("Account type"), choices=PROVIDERS, default="identity")
