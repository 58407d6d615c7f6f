"""Kiosk search: pinyin initials derived from the service names, matched from any word."""

from __future__ import annotations

from hall_controller.app import load_config
from hall_controller.config_loader import name_initials
from kiosk_ui.search import rank, search
from tests.conftest import DEMO_CONFIG


def test_initials_come_from_the_name_and_read_polyphones_in_context():
    assert name_initials("户籍迁移（户口迁入）") == "hjqyhkqr"
    assert name_initials("跨省通办事项受理") == "kstbsxsl"
    assert name_initials("特殊建设工程消防设计审查") == "tsjsgcxfsjsc"
    assert name_initials("银行") == "yh" and name_initials("重庆") == "cq"  # 多音字 by phrase
    assert name_initials("ETC 办理") == "etcbl"


def test_matcher_ranks_name_then_initials_prefix_then_inner_word():
    assert rank("通办", "跨省通办事项受理", "kstbsxsl") == 0
    assert rank("kstb", "跨省通办事项受理", "kstbsxsl") == 1
    assert rank("KSTB", "跨省通办事项受理", "kstbsxsl") == 1
    assert rank("tbsx", "跨省通办事项受理", "kstbsxsl") == 2  # 通办事项, from inside the name
    assert rank("ksttbsx", "跨省通办事项受理", "kstbsxsl") is None
    assert rank("", "跨省通办事项受理", "kstbsxsl") is None
    assert rank("省x", "跨省通办事项受理", "kstbsxsl") is None


def test_demo_hall_finds_what_the_audit_could_not():
    services = load_config(DEMO_CONFIG).services
    ids = lambda q: [s.id for s in search(q, services)]  # noqa: E731
    assert ids("kstb") == ["cross_province"]
    assert ids("tsjs") == ["fire_design_review"]
    assert "fire_design_review" in ids("xfsjsc")
    assert ids("hjqy") == ["hukou_move"]
    found = ids("sfz")  # 身份证: 补领 and 换领, both from inside their names
    assert {"id_card_reissue", "id_card_renew"} <= set(found)
    assert ids("身份证")[:2] == found[:2]
