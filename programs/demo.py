"""Demo programmes: the NLV–NLC expert-exchange programme, and the platform for Chinese ancient books that the
NLC experts presented in Hanoi (../shared/seed): more than 180 institutions in 31 provinces and municipalities,
about 13,000 titles and over 140,000 volumes, launched in April 2025."""

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from agreements.models import Agreement, Commitment
from cooperation.demo import DemoWorld
from cooperation.records import fold_for_search
from exchanges.models import ExpertExchange
from programs.models import (
    DigitizationProject,
    Programme,
    ProgrammeInstitution,
    ProgrammeQuota,
    ProgressReport,
    ProjectAgreement,
    ProjectMilestone,
    ProjectParticipant,
)

PLATFORM = "Smart Service Platform for Chinese Ancient Books"
PLATFORM_NATIVE = "中华古籍智慧化服务平台"
# The NLC's cumulative figures on the platform, month by month from its launch to the visit (the last is the article's).
NLC_REPORTS = [
    (date(2025, 4, 30), 9_000, 100_000),
    (date(2025, 5, 31), 9_600, 105_500),
    (date(2025, 6, 30), 10_200, 111_000),
    (date(2025, 7, 31), 10_800, 117_000),
    (date(2025, 8, 31), 11_400, 123_000),
    (date(2025, 9, 30), 12_000, 129_000),
    (date(2025, 10, 31), 12_500, 134_500),
    (date(2025, 11, 27), 13_000, 140_000),
]


async def load_demo(session: AsyncSession, world: DemoWorld) -> None:
    nlv, nlc = world.institutions["NLV"], world.institutions["NLC"]
    agreement_id = await session.scalar(select(col(Agreement.id)).where(col(Agreement.reference) == "NLV-NLC-2025"))
    ancient_books = await session.scalar(
        select(col(Commitment.id)).where(
            col(Commitment.agreement_id) == agreement_id, col(Commitment.text).startswith("Cooperate on the preservation")
        )
    )

    name = "NLV–NLC professional exchanges 2026–2028"
    description = "Up to three experts each way per year, as the April 2025 agreement foresees."
    programme = Programme(
        shared=True,
        name=name,
        agreement_id=agreement_id,
        starts_on=date(2026, 1, 1),
        ends_on=date(2028, 12, 31),
        description=description,
        search_text=fold_for_search(name, description),
    )
    session.add(programme)
    await session.flush()
    session.add_all([ProgrammeInstitution(programme_id=programme.id, institution_id=i) for i in (nlv, nlc)])
    session.add_all(
        [
            ProgrammeQuota(programme_id=programme.id, direction="incoming", max_per_year=3, position=0),
            ProgrammeQuota(programme_id=programme.id, direction="outgoing", max_per_year=3, position=1),
        ]
    )
    for person, home, host, starts, ends, field, status in [
        ("luo_chong", nlc, nlv, date(2026, 3, 2), date(2026, 3, 13), "Digitization of ancient books", "completed"),
        ("ngoc_anh", nlv, nlc, date(2026, 9, 7), date(2026, 9, 18), "Smart-library reader services", "approved"),
        ("rong_jie", nlc, nlv, date(2027, 4, 5), date(2027, 4, 9), "RFID and smart shelving", "proposed"),
    ]:
        session.add(
            ExpertExchange(
                shared=True,
                expert_person_id=world.people[person],
                home_institution_id=home,
                host_institution_id=host,
                starts_on=starts,
                ends_on=ends,
                field_of_work=field,
                status=status,
                expert_confirmed=status != "proposed",
                agreement_id=agreement_id,
                programme_id=programme.id,
                outcome="Workflow for imaging rare books shared with the NLV digitization team." if status == "completed" else "",
                search_text=fold_for_search(field),
            )
        )

    platform_description = (
        "A one-stop service for rare and precious ancient books, launched in April 2025 by the National Library of China with "
        "more than 180 institutions in 31 provinces and municipalities. The NLC reports the platform's totals; the NLV "
        "contributes its Hán Nôm holdings. Targets are illustrative."
    )
    project = DigitizationProject(
        name=PLATFORM,
        name_native=PLATFORM_NATIVE,
        lead_institution_id=nlc,
        starts_on=date(2025, 4, 1),
        ends_on=date(2027, 12, 31),
        status="active",
        description=platform_description,
        consortium_size=180,
        public=True,  # its progress is on the public portal
        progress_publication="published",
        shared=True,
        consortium_area="31 provinces and municipalities",
        target_titles=16_000,
        target_volumes=170_000,
        stale_after_days=120,
        commitment_id=ancient_books,
        commitment_unit="volumes" if ancient_books else None,
        search_text=fold_for_search(PLATFORM, PLATFORM_NATIVE, platform_description),
    )
    session.add(project)
    await session.flush()
    session.add_all(
        [
            ProjectParticipant(project_id=project.id, institution_id=nlc, role="lead", target_volumes=165_000, position=0),
            ProjectParticipant(project_id=project.id, institution_id=nlv, role="contributor", target_volumes=5_000, position=1),
            ProjectMilestone(project_id=project.id, title="Platform launched", due_on=date(2025, 4, 30), done_on=date(2025, 4, 28)),
            ProjectMilestone(
                project_id=project.id, title="Hán Nôm catalogue records shared with the platform", due_on=date(2026, 6, 30), position=1
            ),
            ProjectMilestone(project_id=project.id, title="Full-text search across the consortium", due_on=date(2027, 6, 30), position=2),
        ]
    )
    if agreement_id is not None:
        session.add(ProjectAgreement(project_id=project.id, agreement_id=agreement_id))
    # The NLV has not reported its Hán Nôm contribution yet: the page flags it.
    for as_of, titles, volumes in NLC_REPORTS:
        session.add(
            ProgressReport(
                project_id=project.id,
                institution_id=nlc,
                as_of=as_of,
                titles=titles,
                volumes=volumes,
                source="page",
                reported_by_name="Luo Chong",
            )
        )
