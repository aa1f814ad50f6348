"""The seed visit (../shared/seed) as an API payload."""

from typing import Any


def seed_visit_payload(world, people: dict[str, str], agreement_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "title": "Working visit of National Library of China experts",
        "direction": "incoming",
        "host_institution_id": str(world.home),
        "visiting_institution_id": str(world.nlc),
        "starts_on": "2025-11-26",
        "ends_on": "2025-11-29",
        "city": "Hà Nội",
        "venue": "Thư viện Quốc gia Việt Nam",
        "purpose": "Trao đổi kinh nghiệm chuyên môn · 交流业务经验",
        "theme": "Library products and services in the digital environment",
        "topics": ["Smart library", "RFID", "AR/VR", "Ancient books"],
        "agreement_id": agreement_id,
        "participants": [
            {"person_id": people["rong"], "side": "delegation", "role": "head_of_delegation"},
            {"person_id": people["luo"], "side": "delegation", "role": "member"},
            {"person_id": people["dung"], "side": "host", "role": "chair"},
            {"person_id": people["anh"], "side": "host", "role": "participant"},
        ],
        "agenda": [
            {"day": "2025-11-27", "starts_at": "09:00:00", "title": "Phiên làm việc · 工作会议", "presenters": [people["dung"]]},
            {"day": "2025-11-27", "starts_at": "09:45:00", "title": "Smart library services of the NLC", "presenters": [people["rong"]]},
            {"day": "2025-11-27", "starts_at": "10:45:00", "title": "中华古籍智慧化服务平台", "presenters": [people["luo"]]},
        ],
        "outcomes": ["Hướng hợp tác mới: mô hình thư viện thông minh", "First step in implementing the April 2025 agreement"],
        "gifts": [{"direction": "given", "description": "Quà lưu niệm"}, {"direction": "received", "description": "纪念品"}],
        "shared": True,  # shared with NLC as it is saved (a new visit is otherwise the department's own)
    }
    payload.update(overrides)
    return payload
