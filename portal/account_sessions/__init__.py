"""My sessions (issue 10, item 4): a signed-in user sees their active sessions and ends
any or all of the others; administrators (and managers within reach) see and end them on
a user's detail page. Sessions are the server-side ``user_session`` rows (portal/sessions.py)."""

from .views import bp  # noqa: F401
