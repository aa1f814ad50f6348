"""Errors that services raise; app.py turns them into problem+json (API) or friendly pages (HTML).

Their messages are written in the request's language when raised (i18n.gettext); titles and slugs stay English
(the API's stable words) and pages translate the title.
"""

from cooperation import i18n
from cooperation.i18n import N_

# "No such …" said whole for each kind of record: French and Vietnamese agree the words with the noun.
NOT_FOUND = {
    "account": N_("No such account."),
    "agreement": N_("No such agreement."),
    "approval request": N_("No such approval request."),
    "comment": N_("No such comment."),
    "commitment": N_("No such commitment."),
    "document": N_("No such document."),
    "document file": N_("No such document file."),
    "expert exchange": N_("No such expert exchange."),
    "follow-up action": N_("No such follow-up action."),
    "history": N_("No such history."),
    "identity provider": N_("No such identity provider."),
    "institution": N_("No such institution."),
    "invitation": N_("No such invitation."),
    "invitation link": N_("This invitation link was used, revoked or has expired: ask for a new one."),
    "reset link": N_("This link was used or has expired: ask for a new one."),
    "page": N_("No such page."),
    "party": N_("No such party."),
    "person": N_("No such person."),
    "photo": N_("No such photo."),
    "programme": N_("No such programme."),
    "project": N_("No such project."),
    "record": N_("No such record."),
    "report": N_("No such report."),
    "report subscription": N_("No such report subscription."),
    "token": N_("No such token."),
    "visit": N_("No such visit."),
}


class ServiceError(Exception):
    status_code = 400
    title = N_("Bad request")  # English in the API; pages say it in the reader's language
    slug = "bad-request"

    def __init__(self, detail: str, *, errors: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or {}


class NotFoundError(ServiceError):
    """Unknown records and records the person may not see look the same: 404, so existence does not leak."""

    status_code = 404
    title = N_("Not found")  # English in the API; pages say it in the reader's language
    slug = "not-found"

    def __init__(self, what: str = "record") -> None:
        super().__init__(i18n.gettext(NOT_FOUND.get(what, NOT_FOUND["record"])))


class ForbiddenError(ServiceError):
    status_code = 403
    title = N_("Not allowed")  # English in the API; pages say it in the reader's language
    slug = "forbidden"


class ConflictError(ServiceError):
    status_code = 409
    title = N_("Conflict")  # English in the API; pages say it in the reader's language
    slug = "conflict"


class StaleVersionError(ConflictError):
    slug = "stale-version"

    def __init__(self, what: str = "record") -> None:
        super().__init__(
            i18n.gettext("This record was changed by someone else since you opened it; reload it and apply your change again."),
            errors={"version": i18n.gettext("stale: the record has a newer version")},
        )


class TransitionRefused(ConflictError):
    title = N_("Transition refused")  # English in the API; pages say it in the reader's language
    slug = "transition-refused"


class ValidationFailed(ServiceError):
    """One or more fields are wrong; `errors` maps each field to what is wrong with it."""

    status_code = 422
    title = N_("Invalid input")  # English in the API; pages say it in the reader's language
    slug = "invalid-input"

    def __init__(self, errors: dict[str, str], detail: str | None = None) -> None:
        fields = ", ".join(sorted(errors))
        super().__init__(detail or i18n.gettext("Please correct: %(fields)s.", fields=fields), errors=errors)
