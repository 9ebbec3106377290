"""Domain errors. Interfaces translate them: the API to JSON 4xx, the web app to messages."""


class RucheError(Exception):
    status_code = 400

    def __init__(self, message: str = "", *, field_errors: dict[str, str] | None = None):
        self.field_errors = field_errors or {}
        super().__init__(message or "; ".join(f"{k}: {v}" for k, v in self.field_errors.items()))

    @property
    def message(self) -> str:
        return str(self)


class ValidationError(RucheError):
    """Bad input, named by field: `ValidationError({"stage_id": "..."})`."""

    status_code = 422

    def __init__(self, errors: dict[str, str] | str):
        if isinstance(errors, str):
            super().__init__(errors)
        else:
            super().__init__(field_errors=errors)


class NotFound(RucheError):
    """Missing, or not visible to the user: the two are indistinguishable on purpose."""

    status_code = 404


class PermissionDenied(RucheError):
    status_code = 403


class Conflict(RucheError):
    status_code = 409


class PreconditionFailed(RucheError):
    """The record changed since the client read it (stale If-Match)."""

    status_code = 412
