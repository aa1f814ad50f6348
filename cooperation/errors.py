"""Errors that services raise; app.py turns them into problem+json (API) or friendly pages (HTML)."""


class ServiceError(Exception):
    status_code = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(self, detail: str, *, errors: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}


class NotFoundError(ServiceError):
    """Unknown records and records the person may not see look the same: 404, so existence does not leak."""

    status_code = 404
    title = "Not found"
    slug = "not-found"

    def __init__(self, what: str = "record") -> None:
        super().__init__(f"No such {what}.")


class ForbiddenError(ServiceError):
    status_code = 403
    title = "Not allowed"
    slug = "forbidden"


class ConflictError(ServiceError):
    status_code = 409
    title = "Conflict"
    slug = "conflict"


class StaleVersionError(ConflictError):
    slug = "stale-version"

    def __init__(self, what: str = "record") -> None:
        super().__init__(
            f"This {what} was changed by someone else since you opened it; reload it and apply your change again.",
            errors={"version": "stale: the record has a newer version"},
        )


class TransitionRefused(ConflictError):
    title = "Transition refused"
    slug = "transition-refused"


class ValidationFailed(ServiceError):
    """One or more fields are wrong; `errors` maps each field to what is wrong with it."""

    status_code = 422
    title = "Invalid input"
    slug = "invalid-input"

    def __init__(self, errors: dict[str, str], detail: str | None = None) -> None:
        fields = ", ".join(sorted(errors))
        super().__init__(detail or f"Please correct: {fields}.", errors=errors)
