"""Who sees a piece (a comment, a document, a photo), said in words that name them: "Department only", "Shared with
NLC", "Public"; and the choice offered beside a save button ("NLV staff only" / "NLV staff and NLC · National
Library of China"). The rule itself is access.piece_visible; this module only names the audiences of one record."""

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cooperation import i18n
from cooperation.auth.access import Audience, Principal
from cooperation.db import table
from cooperation.i18n import N_
from cooperation.partners.models import Institution

LABELS = {
    Audience.DEPARTMENT.value: N_("Department only"),
    Audience.PARTNERS.value: N_("Shared with partners"),
    Audience.PUBLIC.value: N_("Public"),
}


@dataclass(frozen=True)
class Audiences:
    """The home institution and the partner institutions of one record, as its pieces' audiences name them."""

    home: str
    partners: tuple[tuple[uuid.UUID, str, str], ...]  # (id, code, name)

    def label(self, audience: str, institution_id: uuid.UUID | None = None) -> str:
        """The small label on a piece: a partner's own contribution names that partner only."""
        if audience == Audience.PUBLIC.value:
            return i18n.gettext("Public")
        if audience == Audience.PARTNERS.value:
            own = [code for pid, code, _ in self.partners if pid == institution_id]  # a partner's piece: that partner only
            codes = own or [code for _, code, _ in self.partners]
            if codes:
                return i18n.gettext("Shared with %(partners)s", partners=", ".join(codes))
            return i18n.gettext("Shared with partners")
        return i18n.gettext("Department only")

    def choices(self) -> list[tuple[str, str]]:
        """What staff choose from beside a save button, narrowest first, each naming who will see the piece."""
        named = ", ".join(f"{code} · {name}" for _, code, name in self.partners)
        shared = (
            i18n.gettext("%(home)s staff and %(partners)s", home=self.home, partners=named)
            if named
            else i18n.gettext("%(home)s staff and the partners of this record", home=self.home)
        )
        return [(Audience.DEPARTMENT.value, i18n.gettext("%(home)s staff only", home=self.home)), (Audience.PARTNERS.value, shared)]

    def partner_sees(self, principal: Principal) -> str:
        """What a partner is told beside the save button: they choose nothing, and this is who will see it."""
        own = next((f"{code} · {name}" for pid, code, name in self.partners if pid == principal.institution_id), "")
        return i18n.gettext("Seen by %(home)s staff and %(own)s, not by other partners.", home=self.home, own=own)


async def of_record(session: AsyncSession, partner_ids: tuple[uuid.UUID, ...]) -> Audiences:
    """The audiences of a record whose partner institutions are these (one query, with the home institution)."""
    i = table(Institution).c
    rows = (
        await session.execute(
            select(i.id, i.code, i.name, i.is_home).where((i.is_home.is_(True)) | (i.id.in_(partner_ids))).order_by(i.code)
        )
    ).all()
    home = next((row.code for row in rows if row.is_home), "")
    partners = tuple((row.id, row.code, row.name) for row in rows if not row.is_home and row.id in partner_ids)
    return Audiences(home=home or i18n.gettext("Department"), partners=partners)


async def of_owner(session: AsyncSession, principal: Principal, kind: str, owner_id: uuid.UUID) -> Audiences:
    """The audiences of a record this person may see (404 otherwise), for its page's pieces and their forms."""
    from cooperation.files import resolve_owner

    owner = await resolve_owner(session, principal, kind, owner_id)
    return await of_record(session, owner.partner_ids)
