"""Demo world drawn from shared/seed: the National Library of Vietnam (home), its partners and people.

Domains add their own demo records through loaders that app.py passes in (`demo_loaders`).
Idempotent: loading twice changes nothing.
"""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from cooperation.auth.access import Role
from cooperation.auth.services import create_user
from cooperation.partners.models import Institution, Person
from cooperation.records import fold_for_search

DEMO_DOMAIN = "demo.libcoop.test"
DEMO_PASSWORD = "libcoop-demo-2025"


@dataclass
class DemoWorld:
    """What the core loader created, for the domains' loaders to build on."""

    institutions: dict[str, uuid.UUID] = field(default_factory=dict)
    people: dict[str, uuid.UUID] = field(default_factory=dict)
    users: dict[str, uuid.UUID] = field(default_factory=dict)


DemoLoader = Callable[[AsyncSession, DemoWorld], Awaitable[None]]
ScaleLoader = Callable[[AsyncSession, int], Awaitable[int]]

INSTITUTIONS = [
    # code, name, native name, country, city, kind, website, home
    ("NLV", "National Library of Vietnam", "Thư viện Quốc gia Việt Nam", "VN", "Hà Nội", "national_library", "https://nlv.gov.vn", True),
    ("NLC", "National Library of China", "中国国家图书馆", "CN", "Beijing", "national_library", "https://www.nlc.cn", False),
    (
        "BNF",
        "National Library of France",
        "Bibliothèque nationale de France",
        "FR",
        "Paris",
        "national_library",
        "https://www.bnf.fr",
        False,
    ),
    ("NDL", "National Diet Library", "国立国会図書館", "JP", "Tokyo", "national_library", "https://www.ndl.go.jp", False),
    ("NLK", "National Library of Korea", "국립중앙도서관", "KR", "Seoul", "national_library", "https://www.nl.go.kr", False),
    (
        "NLR",
        "National Library of Russia",
        "Российская национальная библиотека",
        "RU",
        "Saint Petersburg",
        "national_library",
        "https://nlr.ru",
        False,
    ),
    ("NLL", "National Library of Laos", "ຫໍສະໝຸດແຫ່ງຊາດ", "LA", "Vientiane", "national_library", None, False),
]

PEOPLE = [
    # key, name, native name, institution, position, department, languages
    ("dung", "Nguyen Xuan Dung", "Nguyễn Xuân Dũng", "NLV", "Director", "Directorate", ["vi", "en"]),
    ("ngoc_anh", "Nguyen Ngoc Anh", "Nguyễn Ngọc Anh", "NLV", "Deputy Director", "Directorate", ["vi", "en"]),
    ("duong_giang", "Duong Giang", "Dương Giang", "NLV", "Editor", "Communications", ["vi", "fr"]),
    ("ngoc_phuong", "Ngoc Phuong", "Ngọc Phương", "NLV", "Photographer", "Communications", ["vi"]),
    # The article gives the Chinese experts' names in pinyin only; their characters are not invented here.
    ("rong_jie", "Rong Jie", None, "NLC", "Director", "Department of Stacks Management and Reading Services", ["zh", "en"]),
    ("luo_chong", "Luo Chong", None, "NLC", "Deputy Director", "Department of Cooperation and Operations", ["zh", "en"]),
]

USERS = [
    # local part, name, role, institution, the person record the account belongs to
    ("admin", "LibCoop Administrator", Role.ADMIN, "NLV", None),
    ("coordinator", "Trần Thu Hà", Role.COORDINATOR, "NLV", None),
    ("director", "Nguyễn Xuân Dũng", Role.DIRECTOR, "NLV", "dung"),
    ("partner.nlc", "Luo Chong", Role.PARTNER, "NLC", "luo_chong"),
    ("partner.bnf", "Claire Martin", Role.PARTNER, "BNF", None),
]


async def demo_loaded(session: AsyncSession) -> bool:
    return (await session.scalar(select(col(Institution.id)).where(col(Institution.code) == "NLV"))) is not None


async def load_core(session: AsyncSession) -> DemoWorld:
    world = DemoWorld()
    people: dict[str, Person] = {}
    for code, name, native, country, city, kind, website, home in INSTITUTIONS:
        institution = Institution(
            code=code,
            name=name,
            name_native=native,
            country=country,
            city=city,
            kind=kind,
            website=website,
            is_home=home,
            search_text=fold_for_search(code, name, native, city),
        )
        session.add(institution)
        world.institutions[code] = institution.id
    await session.flush()
    for key, name, person_native, code, position, department, languages in PEOPLE:
        person = Person(
            name=name,
            name_native=person_native,
            institution_id=world.institutions[code],
            position=position,
            department=department,
            languages=languages,
            search_text=fold_for_search(name, person_native, position, department),
        )
        session.add(person)
        world.people[key] = person.id
        people[key] = person
    for local, name, role, code, person_key in USERS:
        user = await create_user(
            session,
            None,
            email=f"{local}@{DEMO_DOMAIN}",
            name=name,
            role=role,
            password=DEMO_PASSWORD,
            institution_id=world.institutions[code],
        )
        world.users[local] = user.id
        if person_key:
            people[person_key].user_id = user.id
    await session.flush()
    return world


async def load(factory: async_sessionmaker[AsyncSession], loaders: list[DemoLoader]) -> bool:
    """Load the demo world once; False if it was already there."""
    async with factory() as session:
        if await demo_loaded(session):
            return False
        world = await load_core(session)
        for loader in loaders:
            await loader(session, world)
        await session.commit()
    return True


async def load_scale(factory: async_sessionmaker[AsyncSession], loaders: list[ScaleLoader], scale: int) -> dict[str, int]:
    counts = {}
    async with factory() as session:
        for loader in loaders:
            counts[loader.__module__] = await loader(session, scale)
        await session.commit()
    return counts
