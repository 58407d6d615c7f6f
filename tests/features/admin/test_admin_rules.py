"""Configuration versions, the pure part: secrets, diffs, summaries and the 事项库 merge."""

from __future__ import annotations

import pytest

from hall_controller.core.errors import HallError
from hall_controller.features.admin import catalogue, rules
from hall_controller.features.admin.rules import REDACTED


def test_secrets_of_any_section_are_hidden_and_kept_when_sent_back():
    stored = {"staff": [{"id": "A", "pin_hash": "h-a"}, {"id": "B", "pin_hash": "h-b"}],
              "platform": {"token": "t", "url": "http://x"}, "kiosks": {"kiosk": [{"id": "K1", "api_key": ""}]}}
    shown = rules.redact(stored)
    assert shown["staff"][0]["pin_hash"] == REDACTED and shown["platform"] == {"token": REDACTED, "url": "http://x"}
    assert shown["kiosks"]["kiosk"][0]["api_key"] == ""  # an unset secret shows as unset
    # Entries matched by id, whatever their order; a new clear PIN beside the hidden hash replaces it.
    back = {**shown, "staff": [{"id": "B", "pin_hash": REDACTED}, {"id": "A", "pin_hash": REDACTED, "pin": "1234"}]}
    assert rules.unredact(back, stored)["staff"] == [{"id": "B", "pin_hash": "h-b"}, {"id": "A", "pin": "1234"}]
    assert rules.unredact(back, stored)["platform"]["token"] == "t"
    # A hidden value with nothing stored at its place stays hidden, and the loader refuses it as a bad hash.
    assert rules.unredact({"staff": [{"id": "C", "pin_hash": REDACTED}]}, stored)["staff"][0]["pin_hash"] == REDACTED



def test_a_tablet_pad_keeps_its_own_key_when_the_list_is_reordered_or_shortened():
    stored = {"devices": {"tablets": [{"window": "1", "key": "key-of-pad-1-xxxx"}, {"window": "2", "key_hash": "h-2"}]}}
    shown = rules.redact(stored)["devices"]["tablets"]
    back = {"devices": {"tablets": [shown[1]]}}  # window 1's pad removed: window 2's must not inherit its key
    assert rules.unredact(back, stored)["devices"]["tablets"] == [{"window": "2", "key_hash": "h-2"}]
    new_key = {"devices": {"tablets": [{**shown[1], "key": "a-new-key-for-pad-2"}, shown[0]]}}
    assert rules.unredact(new_key, stored)["devices"]["tablets"] == [
        {"window": "2", "key": "a-new-key-for-pad-2"}, {"window": "1", "key": "key-of-pad-1-xxxx"}]


def test_a_diff_names_entries_by_id_and_never_shows_a_secret():
    old = {"services": [{"id": "s1", "name": "甲", "materials": [{"name": "身份证"}]}, {"id": "s2", "name": "乙"}],
           "windows": [{"number": 1, "mode": "comprehensive"}], "staff": [{"id": "A", "pin_hash": "h1"}]}
    new = {"services": [{"id": "s1", "name": "甲", "materials": [{"name": "身份证", "required": False}]}],
           "windows": [{"number": 1, "mode": "comprehensive"}, {"number": 2, "mode": "comprehensive"}],
           "staff": [{"id": "A", "pin_hash": "h2"}], "day": {"check_seconds": 5}}
    lines = rules.diff(old, new)
    assert "+ services[id=s1].materials[name=身份证].required: false" in lines
    assert "- services[id=s2]" in lines
    assert any(line.startswith("+ windows[number=2]") for line in lines)
    assert not any("h1" in line or "h2" in line for line in lines)
    assert rules.summary(lines) == "新增 窗口 2、day；删除 事项 s2；修改 事项 s1、工作人员 A"
    assert rules.changed_sections(old, new) == ["day", "services", "staff", "windows"]
    assert rules.diff(old, old) == [] and rules.summary([]) == "无变化"


def test_catalogue_materials_read_from_text_or_objects():
    rows = catalogue.read("\ufeff事项编码,事项名称,申请材料\nX1,甲,身份证；照片（容缺：可现场拍摄）\n", "csv")
    matter = catalogue.matters(rows, {})[0]
    assert matter["materials"] == [{"name": "身份证"}, {"name": "照片", "required": False, "note": "可现场拍摄"}]
    as_json = catalogue.read('{"data": [{"编码": "X1", "名称": "甲", "材料": [{"name": "身份证"}, '
                             '{"材料名称": "照片", "是否必交": "否", "备注": "可现场拍摄"}]}]}', "json")
    assert catalogue.matters(as_json, {"code": "编码", "name": "名称", "materials": "材料"}) == [matter]


def test_catalogue_merge_keeps_local_fields_and_local_matters():
    doc = {"services": [{"id": "own", "name": "本厅事项"},
                        {"id": "x1", "code": "X1", "name": "旧名", "category": "social", "prefix": "B", "minutes": 9}]}
    merged, report = catalogue.merge(doc, [{"code": "X1", "name": "新名", "fee": "不收费"},
                                           {"code": "X2", "name": "新事项"}],
                                     {"category": "other", "prefix": "D", "minutes": 5})
    x1 = merged["services"][1]
    assert (x1["name"], x1["fee"], x1["prefix"], x1["minutes"]) == ("新名", "不收费", "B", 9)
    assert merged["services"][0] == {"id": "own", "name": "本厅事项"}
    assert merged["services"][2] == {"id": "X2", "name": "新事项", "category": "other", "prefix": "D", "minutes": 5,
                                     "time_limit": "即办", "code": "X2"}
    assert report["added"] == [{"code": "X2", "id": "X2", "name": "新事项"}]
    assert report["changed"] == [{"code": "X1", "id": "x1", "name": "新名", "fields": ["name", "fee"]}]
    assert report["local"] == ["own"] and report["missing"] == []
    with pytest.raises(HallError) as e:
        catalogue.merge(doc, [{"code": "X3", "name": "无默认"}], {})
    assert e.value.field == "defaults.category"
    assert catalogue.service_id("33/11-22 甲", set()) == "3311-22" and catalogue.service_id("_x", {"mx"}) == "mx-2"


def test_a_new_or_removed_secret_key_shows_no_value():
    lines = rules.diff({"staff": [{"id": "A", "pin_hash": "h1"}]}, {"staff": [{"id": "A", "pin": "4321"}]})
    assert lines == [f"- staff[id=A].pin_hash: \"{REDACTED}\"", f"+ staff[id=A].pin: \"{REDACTED}\""]
