"""The one base of the errors a user can cause and mend, and the one way a form view shows them.

Every domain package raises its own subclass (AccountError, LeaveError, ...), so a view can catch exactly the
rule it called; the message is already in the user's language. A view answers 422 with the error on the field
it concerns, never a 500.
"""
from __future__ import annotations


class UserError(ValueError):
    """A rule the user broke, told in their words. `field` names the form field it concerns, when one does;
    `problems` lists several at once (the rows of a file), and the message joins them."""

    field: str | None = None

    def __init__(self, message: str = "", *, field: str | None = None, problems: list[str] | None = None):
        self.problems = list(problems) if problems else ([message] if message else [])
        super().__init__(message or "\n".join(self.problems))
        self.message = str(self)
        if field is not None:
            self.field = field


def show_on_form(form, error: UserError, field: str | None = None, status: int = 422) -> int:
    """Put `error` under its form field (its own `field`, else the one given) and return the status to answer."""
    target = form[error.field or field]
    target.errors = [*target.errors, str(error)]
    return status
