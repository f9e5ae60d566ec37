from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from lecturehub.core.forms import AppForm


class DeviceTokenForm(AppForm):
    name = StringField(_l("Device name"), validators=[
        DataRequired(message=_l("Name the device, e.g. the tablet at the door.")),
        Length(max=80, message=_l("At most 80 characters.")),
    ])


class RevokeForm(AppForm):
    """Only the CSRF token: revoking is one button."""
