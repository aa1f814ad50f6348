"""The words of the reports, in English and French; dates and numbers formatted by Babel for the language."""

from datetime import date
from typing import Any

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
    },
}
assert TEXT["en"].keys() == TEXT["fr"].keys(), "every word in both languages"


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

    def fmt_percent(value: float | None) -> str:
        return "—" if value is None else format_percent(value / 100, locale=language, decimal_quantization=False)

    return {"date": fmt_date, "number": fmt_number, "percent": fmt_percent, "humanize": lambda v: (v or "").replace("_", " ")}
