"""The words of the reports, in English and French; dates and numbers formatted by Babel for the language."""

from datetime import date
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

LANGUAGES = {"en": "English", "fr": "Français"}

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "portfolio_title": "International cooperation: progress report",
        "partner_title": "Partner dossier",
        "agreement_title": "Agreement dossier",
        "visit_title": "Visit summary",
        "prepared_for": "Prepared for",
        "generated_on": "Generated on",
        "page": "Page",
        "of": "of",
        "highlights": "Highlights",
        "agreements": "Agreements",
        "signed_in_period": "Signed in the period",
        "in_force": "In force",
        "expiring_soon": "Expiring in the next {days} days (until {until})",
        "expired_not_renewed": "Expired in the period without renewal",
        "reference": "Reference",
        "title": "Title",
        "parties": "Parties",
        "signed": "Signed",
        "expires": "Expires",
        "status": "Status",
        "none": "None.",
        "visits": "Delegation visits",
        "dates": "Dates",
        "visit": "Visit",
        "delegation": "Delegation",
        "received_by": "Received by",
        "outcomes": "What was agreed",
        "open_actions": "Open follow-up actions",
        "due": "due",
        "exchanges": "Expert exchanges",
        "expert": "Expert",
        "field": "Field",
        "from_to": "From → to",
        "programmes": "Programme quota use",
        "quota": "Quota",
        "used": "used",
        "digitization": "Digitization progress",
        "project": "Project",
        "done": "Done",
        "target": "Target",
        "forecast": "Completion forecast",
        "risks": "Risks",
        "on_track": "On track",
        "overdue_actions": "Overdue actions",
        "action": "Action",
        "responsible": "Responsible",
        "record": "Record",
        "commitments": "Commitments",
        "progress": "Progress",
        "people": "People",
        "photos": "Photos",
        "theme": "Theme",
        "programme_agenda": "Programme",
        "implements": "Implements the agreement",
        "n_signed": "Agreements signed in the period: {n}",
        "n_in_force": "Agreements in force: {n}",
        "n_expiring": "Expiring in the next 90 days: {n}",
        "n_visits": "Delegation visits: {n}",
        "n_exchanges": "Expert exchanges: {n}",
        "n_overdue": "Overdue follow-up actions: {n}",
        "n_at_risk": "Digitization projects at risk: {n}",
        "incoming": "incoming",
        "outgoing": "outgoing",
        "period": "Period",
        "summary": "Summary",
        "terms": "Terms",
        "in_force_from": "In force from",
        "renewal": "Renewal",
        "automatic": "automatic",
        "not_automatic": "not automatic",
        "notice_by": "notice by",
        "topics": "Topics",
        "gifts": "Gifts exchanged",
    },
    "fr": {
        "portfolio_title": "Coopération internationale : rapport d’avancement",
        "partner_title": "Dossier partenaire",
        "agreement_title": "Dossier d’accord",
        "visit_title": "Compte rendu de visite",
        "prepared_for": "Établi pour",
        "generated_on": "Établi le",
        "page": "Page",
        "of": "sur",
        "highlights": "Points saillants",
        "agreements": "Accords",
        "signed_in_period": "Signés pendant la période",
        "in_force": "En vigueur",
        "expiring_soon": "Arrivant à échéance dans les {days} prochains jours (jusqu’au {until})",
        "expired_not_renewed": "Échus pendant la période sans renouvellement",
        "reference": "Référence",
        "title": "Intitulé",
        "parties": "Parties",
        "signed": "Signé le",
        "expires": "Échéance",
        "status": "État",
        "none": "Aucun.",
        "visits": "Visites de délégations",
        "dates": "Dates",
        "visit": "Visite",
        "delegation": "Délégation",
        "received_by": "Reçue par",
        "outcomes": "Ce qui a été convenu",
        "open_actions": "Suites à donner en cours",
        "due": "échéance",
        "exchanges": "Échanges d’experts",
        "expert": "Expert",
        "field": "Domaine",
        "from_to": "De → à",
        "programmes": "Utilisation des quotas des programmes",
        "quota": "Quota",
        "used": "utilisés",
        "digitization": "Avancement de la numérisation",
        "project": "Projet",
        "done": "Réalisé",
        "target": "Objectif",
        "forecast": "Achèvement prévu",
        "risks": "Risques",
        "on_track": "Dans les temps",
        "overdue_actions": "Actions en retard",
        "action": "Action",
        "responsible": "Responsable",
        "record": "Dossier",
        "commitments": "Engagements",
        "progress": "Avancement",
        "people": "Personnes",
        "photos": "Photos",
        "theme": "Thème",
        "programme_agenda": "Programme",
        "implements": "Met en œuvre l’accord",
        "n_signed": "Accords signés pendant la période : {n}",
        "n_in_force": "Accords en vigueur : {n}",
        "n_expiring": "Arrivant à échéance dans les 90 jours : {n}",
        "n_visits": "Visites de délégations : {n}",
        "n_exchanges": "Échanges d’experts : {n}",
        "n_overdue": "Suites à donner en retard : {n}",
        "n_at_risk": "Projets de numérisation à risque : {n}",
        "incoming": "entrante",
        "outgoing": "sortante",
        "period": "Période",
        "summary": "Résumé",
        "terms": "Conditions",
        "in_force_from": "En vigueur du",
        "renewal": "Renouvellement",
        "automatic": "automatique",
        "not_automatic": "non automatique",
        "notice_by": "préavis avant le",
        "topics": "Thèmes abordés",
        "gifts": "Cadeaux échangés",
    },
}
assert TEXT["en"].keys() == TEXT["fr"].keys(), "every word in both languages"

# The values stored in records (statuses, roles, kinds, units), by vocabulary: French agrees in gender with the
# record (une visite achevée, un échange achevé). Every value a report prints goes through `enum`.
ENUMS: dict[str, dict[str, dict[str, str]]] = {
    "en": {
        "agreement_status": {
            "draft": "draft",
            "negotiating": "negotiating",
            "signed": "signed",
            "in_force": "in force",
            "expired": "expired",
            "terminated": "terminated",
            "superseded": "superseded",
        },
        "agreement_kind": {
            "memorandum_of_understanding": "memorandum of understanding",
            "cooperation_agreement": "cooperation agreement",
            "exchange_of_publications": "exchange of publications",
            "digitization": "digitization",
            "staff_exchange": "staff exchange",
            "addendum": "addendum",
            "other": "other",
        },
        "visit_status": {
            "proposed": "proposed",
            "confirmed": "confirmed",
            "under_way": "under way",
            "completed": "completed",
            "cancelled": "cancelled",
        },
        "exchange_status": {
            "proposed": "proposed",
            "approved": "approved",
            "under_way": "under way",
            "completed": "completed",
            "cancelled": "cancelled",
        },
        "follow_up_status": {"open": "open", "in_progress": "in progress", "done": "done", "cancelled": "cancelled"},
        "commitment_status": {
            "planned": "planned",
            "in_progress": "in progress",
            "at_risk": "at risk",
            "done": "done",
            "cancelled": "cancelled",
        },
        "commitment_state": {"met": "met", "on_track": "on track", "behind": "behind"},
        "role": {
            "head_of_delegation": "head of delegation",
            "member": "member",
            "interpreter": "interpreter",
            "chair": "chair",
            "presenter": "presenter",
            "participant": "participant",
        },
        "gift": {"given": "given", "received": "received"},
        "direction": {"incoming": "incoming", "outgoing": "outgoing"},
        "unit": {"titles": "titles", "volumes": "volumes", "images": "images"},
    },
    "fr": {
        "agreement_status": {
            "draft": "projet",
            "negotiating": "en négociation",
            "signed": "signé",
            "in_force": "en vigueur",
            "expired": "échu",
            "terminated": "résilié",
            "superseded": "remplacé",
        },
        "agreement_kind": {
            "memorandum_of_understanding": "protocole d’accord",
            "cooperation_agreement": "accord de coopération",
            "exchange_of_publications": "échange de publications",
            "digitization": "numérisation",
            "staff_exchange": "échange de personnel",
            "addendum": "avenant",
            "other": "autre",
        },
        "visit_status": {
            "proposed": "proposée",
            "confirmed": "confirmée",
            "under_way": "en cours",
            "completed": "achevée",
            "cancelled": "annulée",
        },
        "exchange_status": {
            "proposed": "proposé",
            "approved": "approuvé",
            "under_way": "en cours",
            "completed": "achevé",
            "cancelled": "annulé",
        },
        "follow_up_status": {"open": "à faire", "in_progress": "en cours", "done": "réalisée", "cancelled": "annulée"},
        "commitment_status": {
            "planned": "prévu",
            "in_progress": "en cours",
            "at_risk": "compromis",
            "done": "tenu",
            "cancelled": "annulé",
        },
        "commitment_state": {"met": "tenu", "on_track": "dans les temps", "behind": "en retard"},
        "role": {
            "head_of_delegation": "chef de délégation",
            "member": "membre",
            "interpreter": "interprète",
            "chair": "présidence de séance",
            "presenter": "intervenant",
            "participant": "participant",
        },
        "gift": {"given": "offert", "received": "reçu"},
        "direction": {"incoming": "entrante", "outgoing": "sortante"},
        "unit": {"titles": "titres", "volumes": "volumes", "images": "images"},
    },
}
assert all(ENUMS["en"][k].keys() == ENUMS["fr"][k].keys() for k in ENUMS["en"]), "every value in both languages"


def translator(language: str) -> Any:
    words = TEXT[language]

    def t(key: str, **values: Any) -> str:
        return words[key].format(**values) if values else words[key]

    return t


def filters(language: str) -> dict[str, Any]:
    def fmt_date(value: date | str | None, style: str = "long") -> str:
        if value is None or value == "":
            return "—"
        day = date.fromisoformat(value) if isinstance(value, str) else value
        return format_date(day, style, locale=language)

    def fmt_number(value: int | float | None) -> str:
        return "—" if value is None else format_decimal(value, locale=language)

    # The language's own percent pattern (82,9 % in French, 82.9% in English) with at most one decimal, never the
    # float's noise (82.90000000000001%).
    percent_pattern = Locale.parse(language).percent_formats[None].pattern.replace("0", "0.#", 1)

    def fmt_percent(value: float | None) -> str:
        return "—" if value is None else format_percent(value / 100, percent_pattern, locale=language)

    vocabulary = ENUMS[language]

    def enum(value: str | None, kind: str) -> str:
        """A stored value in the report's language; a value no vocabulary knows (typed text) is shown as typed."""
        if not value:
            return "—"
        return vocabulary[kind].get(value, value)

    return {"date": fmt_date, "number": fmt_number, "percent": fmt_percent, "enum": enum}
