"""The words of the reports, in LibCoop's four languages (Babel catalogues, like the pages); dates and numbers
formatted by Babel for the report's language.

A report has its own language (the one asked for, or the subscription's), whatever the language of the request or
the worker that renders it: every word here is looked up in that language's catalogue explicitly.
"""

from collections.abc import Mapping
from datetime import date
from functools import cache
from typing import Any

from cooperation import i18n
from cooperation.i18n import N_, NP_
from cooperation.web import FIELD_LABELS

LANGUAGES = i18n.NAMES

TEXT: dict[str, str] = {
    "portfolio_title": N_("International cooperation: progress report"),
    "partner_title": N_("Partner dossier"),
    "agreement_title": N_("Agreement dossier"),
    "visit_title": N_("Visit summary"),
    "prepared_for": N_("Prepared for"),
    "generated_on": N_("Generated on"),
    "page": N_("Page"),
    "of": N_("of"),
    "highlights": N_("Highlights"),
    "agreements": N_("Agreements"),
    "signed_in_period": N_("Signed in the period"),
    "in_force": N_("In force"),
    "expiring_soon": N_("Expiring in the next %(days)s days (until %(until)s)"),
    "expired_not_renewed": N_("Expired in the period without renewal"),
    "reference": N_("Reference"),
    "title": N_("Title"),
    "parties": N_("Parties"),
    "signed": N_("Signed"),
    "expires": N_("Expires"),
    "status": N_("Status"),
    "none": N_("None."),
    "visits": N_("Delegation visits"),
    "dates": N_("Dates"),
    "visit": N_("Visit"),
    "delegation": N_("Delegation"),
    "received_by": N_("Received by"),
    "outcomes": N_("What was agreed"),
    "open_actions": N_("Open follow-up actions"),
    "due": N_("due"),
    "exchanges": N_("Expert exchanges"),
    "expert": N_("Expert"),
    "field": N_("Field"),
    "from_to": N_("From → to"),
    "programmes": N_("Programme quota use"),
    "quota": N_("Quota"),
    "used": N_("used"),
    "digitization": N_("Digitization progress"),
    "project": N_("Project"),
    "done": N_("Done"),
    "target": N_("Target"),
    "forecast": N_("Completion forecast"),
    "risks": N_("Risks"),
    "on_track": N_("On track"),
    "overdue_actions": N_("Overdue actions"),
    "dormant": N_("Dormant partnerships"),
    "dormant_intro": N_("Bound by an agreement in force, with nothing recorded for %(months)s months or more:"),
    "last_activity": N_("Last activity"),
    "nothing_recorded": N_("nothing recorded yet"),
    "partner": N_("Partner"),
    "action": N_("Action"),
    "responsible": N_("Responsible"),
    "record": N_("Record"),
    "commitments": N_("Commitments"),
    "progress": N_("Progress"),
    "people": N_("People"),
    "photos": N_("Photos"),
    "department_only": N_("Department only"),
    "theme": N_("Theme"),
    "programme_agenda": N_("Programme"),
    "implements": N_("Implements the agreement"),
    "n_signed": N_("Agreements signed in the period: %(n)s"),
    "n_in_force": N_("Agreements in force: %(n)s"),
    "n_expiring": N_("Expiring in the next 90 days: %(n)s"),
    "n_visits": N_("Delegation visits: %(n)s"),
    "n_exchanges": N_("Expert exchanges: %(n)s"),
    "n_overdue": N_("Overdue follow-up actions: %(n)s"),
    "n_at_risk": N_("Digitization projects at risk: %(n)s"),
    "incoming": N_("incoming"),
    "outgoing": N_("outgoing"),
    "period": N_("Period"),
    "summary": N_("Summary"),
    "terms": N_("Terms"),
    "in_force_from": N_("In force from"),
    "renewal": N_("Renewal"),
    "automatic": N_("automatic"),
    "not_automatic": N_("not automatic"),
    "notice_by": N_("notice by"),
    "topics": N_("Topics"),
    "gifts": N_("Gifts exchanged"),
    "texts": N_("Texts"),
    "prevails": N_("In case of divergence, the %(language)s text prevails."),
    "dormant_line": N_("Dormant partnership: %(name)s, nothing recorded for %(months)s months"),
    "summary_title": N_("The period at a glance"),
    "partnership_summary": N_("The partnership at a glance"),
    "since": N_("Partners since"),
    "of_which_in_force": N_("%(n)s in force"),
    "received_made": N_("received / made"),
    "received_sent": N_("experts received / sent"),
    "commitment_states": N_("%(met)s met, %(on_track)s on track, %(behind)s behind"),
    "against": N_("against %(period)s: %(earlier)s"),
    "decisions": N_("Decisions to take"),
    "decisions_intro": N_(
        "Notice deadlines in the next 90 days, renewals in negotiation, quotas nearly used or overrun, projects at risk, dormant partners."
    ),
    "nothing_to_decide": N_("Nothing waits for a decision."),
    "commitments_glance": N_("Commitments at a glance"),
    "commitments_glance_intro": N_("Every commitment of the agreements in force, by partner, with its measure and its state."),
    "measure": N_("Measure"),
    "state": N_("State"),
    "state_met": N_("met"),
    "state_on_track": N_("on track"),
    "state_behind": N_("behind"),
    "state_not_measured": N_("not measured"),
    "visits_by_month": N_("Visits by month"),
    "month": N_("Month"),
    "contents": N_("Contents"),
    "cover_line": N_("%(institution)s · international cooperation · %(period)s · for %(audience)s"),
    "approvals": N_("Conditions and approvals"),
    "conditions_hash": N_("Conditions' hash (SHA-256)"),
    "approvals_intro": N_(
        "Each request that the partner's instance approve these conditions, and its answer. An approval whose hash is no"
        " longer the agreement's is outdated: the conditions changed since."
    ),
    "asked": N_("Asked"),
    "request": N_("Request"),
    "answer": N_("Answer"),
    "we_asked": N_("We asked %(institution)s"),
    "asked_us": N_("%(institution)s asked us"),
    "approval_approved": N_("approved"),
    "approval_commented": N_("commented"),
    "approval_pending": N_("waiting for an answer"),
    "approval_superseded": N_("replaced by a newer request"),
    "approval_outdated": N_("outdated"),
    "changed_since": N_("Changed since:"),
    "gifts_title": N_("Protocol gift register"),
    "gifts_intro": N_("Every gift the library gave or received in the period, its estimated value and where it went."),
    "date": N_("Date"),
    "gift": N_("Gift"),
    "giver_recipient": N_("From → to"),
    "estimated_value": N_("Estimated value"),
    "disposition": N_("Disposition"),
    "minimal_value": N_("minimal value"),
    "not_decided": N_("not decided yet"),
    "total_given": N_("Estimated value of the gifts given"),
    "total_received": N_("Estimated value of the gifts received"),
    "by_disposition": N_("Gifts by disposition"),
    "n_undecided": N_("Gifts received still waiting for a decision on where they go: %(n)s"),
    "n_gifts": N_("Gifts in the register: %(n)s"),
    "publications_title": N_("Exchange of publications: report"),
    "publications_intro": N_(
        "The publications the library sent to and received from its exchange partners in the period, counted by item (copies)."
    ),
    "n_active_arrangements": N_("Exchange arrangements active: %(n)s"),
    "n_sent": N_("Items sent: %(n)s"),
    "n_received": N_("Items received: %(n)s"),
    "n_missing": N_("Shipments reported missing: %(n)s"),
    "by_partner": N_("By partner"),
    "by_category": N_("By category"),
    "sent": N_("Sent"),
    "received": N_("Received"),
    "category": N_("Category"),
    "total": N_("Total"),
    "arrangement_changes": N_("Changes in the arrangements"),
    "new_arrangement": N_("new arrangement (%(basis)s)"),
    "no_changes": N_("No arrangement was begun, suspended, stopped or resumed in the period."),
}

# The values stored in records (statuses, roles, kinds, units), by vocabulary: the context (pgettext) lets French agree
# the word with what it says it of ("visite achevée", "échange achevé").
ENUM_WORDS: dict[str, dict[str, str]] = {
    "agreement_status": {
        "draft": NP_("agreement_status", "draft"),
        "negotiating": NP_("agreement_status", "negotiating"),
        "signed": NP_("agreement_status", "signed"),
        "in_force": NP_("agreement_status", "in force"),
        "expired": NP_("agreement_status", "expired"),
        "terminated": NP_("agreement_status", "terminated"),
        "superseded": NP_("agreement_status", "superseded"),
    },
    "agreement_kind": {
        "memorandum_of_understanding": NP_("agreement_kind", "memorandum of understanding"),
        "cooperation_agreement": NP_("agreement_kind", "cooperation agreement"),
        "exchange_of_publications": NP_("agreement_kind", "exchange of publications"),
        "digitization": NP_("agreement_kind", "digitization"),
        "staff_exchange": NP_("agreement_kind", "staff exchange"),
        "addendum": NP_("agreement_kind", "addendum"),
        "other": NP_("agreement_kind", "other"),
    },
    "visit_status": {
        "proposed": NP_("visit_status", "proposed"),
        "confirmed": NP_("visit_status", "confirmed"),
        "under_way": NP_("visit_status", "under way"),
        "completed": NP_("visit_status", "completed"),
        "cancelled": NP_("visit_status", "cancelled"),
    },
    "exchange_status": {
        "proposed": NP_("exchange_status", "proposed"),
        "approved": NP_("exchange_status", "approved"),
        "under_way": NP_("exchange_status", "under way"),
        "completed": NP_("exchange_status", "completed"),
        "cancelled": NP_("exchange_status", "cancelled"),
    },
    "follow_up_status": {
        "open": NP_("follow_up_status", "open"),
        "in_progress": NP_("follow_up_status", "in progress"),
        "done": NP_("follow_up_status", "done"),
        "cancelled": NP_("follow_up_status", "cancelled"),
    },
    "commitment_status": {
        "planned": NP_("commitment_status", "planned"),
        "in_progress": NP_("commitment_status", "in progress"),
        "at_risk": NP_("commitment_status", "at risk"),
        "done": NP_("commitment_status", "done"),
        "cancelled": NP_("commitment_status", "cancelled"),
    },
    "commitment_state": {
        "met": NP_("commitment_state", "met"),
        "on_track": NP_("commitment_state", "on track"),
        "behind": NP_("commitment_state", "behind"),
    },
    "role": {
        "head_of_delegation": NP_("role", "head of delegation"),
        "member": NP_("role", "member"),
        "interpreter": NP_("role", "interpreter"),
        "chair": NP_("role", "chair"),
        "presenter": NP_("role", "presenter"),
        "participant": NP_("role", "participant"),
    },
    "gift": {
        "given": NP_("gift", "given"),
        "received": NP_("gift", "received"),
    },
    "gift_disposition": {
        "retained": NP_("gift_disposition", "retained for official use"),
        "on_display": NP_("gift_disposition", "on display"),
        "in_archives": NP_("gift_disposition", "kept in the archives"),
        "returned": NP_("gift_disposition", "returned"),
        "transferred": NP_("gift_disposition", "transferred"),
        "disposed": NP_("gift_disposition", "disposed of"),
    },
    "item_category": {
        "monograph": NP_("item_category", "monographs"),
        "serial": NP_("item_category", "serial issues"),
        "official": NP_("item_category", "official publications"),
        "map": NP_("item_category", "maps"),
        "audiovisual": NP_("item_category", "audiovisual materials"),
        "digital": NP_("item_category", "digital publications"),
        "other": NP_("item_category", "other"),
    },
    "arrangement_status": {
        "active": NP_("arrangement_status", "active"),
        "suspended": NP_("arrangement_status", "suspended"),
        "stopped": NP_("arrangement_status", "stopped"),
    },
    "requested_by": {
        "our_request": NP_("requested_by", "at our request"),
        "partner_request": NP_("requested_by", "at the partner's request"),
    },
    "basis": {
        "blanket": NP_("basis", "blanket"),
        "selective": NP_("basis", "selective"),
    },
    "direction": {
        "incoming": NP_("direction", "incoming"),
        "outgoing": NP_("direction", "outgoing"),
    },
    "unit": {
        "titles": NP_("unit", "titles"),
        "volumes": NP_("unit", "volumes"),
        "images": NP_("unit", "images"),
    },
}


def translator(language: str) -> Any:
    catalogue = i18n.translations(language)

    def t(key: str, **values: Any) -> str:
        return catalogue.gettext(TEXT[key]) % values

    return t


@cache
def enums(language: str) -> dict[str, dict[str, str]]:
    catalogue = i18n.translations(language)
    return {kind: {value: str(catalogue.pgettext(kind, word)) for value, word in words.items()} for kind, words in ENUM_WORDS.items()}


class _Enums(Mapping[str, dict[str, dict[str, str]]]):
    """ENUMS[language][kind][value]: the words of every vocabulary in a language."""

    def __getitem__(self, language: str) -> dict[str, dict[str, str]]:
        if language not in LANGUAGES:
            raise KeyError(language)
        return enums(language)

    def __iter__(self) -> Any:
        return iter(LANGUAGES)

    def __len__(self) -> int:
        return len(LANGUAGES)


ENUMS = _Enums()


def filters(language: str) -> dict[str, Any]:
    def fmt_date(value: date | str | None, style: str = "long") -> str:
        return i18n.format_day(value, style, language)

    def fmt_number(value: int | float | None) -> str:
        return i18n.format_number(value, language)

    def fmt_percent(value: float | None) -> str:
        return i18n.format_percent(value, language)

    def fmt_money(value: Any, currency: str | None) -> str:
        return i18n.format_money(value, currency, language)

    vocabulary = enums(language)

    def enum(value: str | None, kind: str) -> str:
        """A stored value in the report's language; a value no vocabulary knows (typed text) is shown as typed."""
        if not value:
            return "—"
        return vocabulary[kind].get(value, value)

    catalogue = i18n.translations(language)

    def field(name: str) -> str:
        """A record's field as its form labels it ('commitments' → Commitments), in the report's language."""
        return str(catalogue.gettext(FIELD_LABELS[name])) if name in FIELD_LABELS else name

    return {"date": fmt_date, "number": fmt_number, "percent": fmt_percent, "enum": enum, "money": fmt_money, "field": field}
