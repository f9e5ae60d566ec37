"""Form fields shared by several packages."""
from __future__ import annotations

from wtforms import SelectMultipleField
from wtforms.widgets import CheckboxInput, ListWidget


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as checkboxes: easier on a phone than a multi-select list."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()
