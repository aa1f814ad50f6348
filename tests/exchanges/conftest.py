"""The people of the seed story (../shared/seed), shared by the exchanges tests."""

import pytest


@pytest.fixture
async def people(client_for, world):
    coordinator = await client_for("coordinator")
    made = {}
    for key, name, native, institution, position in [
        ("rong", "Rong Jie", None, world.nlc, "Director, Department of Stacks Management and Reading Services"),
        ("luo", "Luo Chong", None, world.nlc, "Deputy Director, Department of Cooperation and Operations"),
        ("dung", "Nguyen Xuan Dung", "Nguyễn Xuân Dũng", world.home, "Director"),
        ("anh", "Nguyen Ngoc Anh", "Nguyễn Ngọc Anh", world.home, "Deputy Director"),
    ]:
        response = await coordinator.api(
            "POST", "/api/v1/people", json={"name": name, "name_native": native, "institution_id": str(institution), "position": position}
        )
        made[key] = response.json()["id"]
    return made
