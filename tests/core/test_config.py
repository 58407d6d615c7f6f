"""The TOML loader: the demo hall is complete and consistent, and every bad input is a ConfigError."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hall_controller import config_loader as config_module
from hall_controller.app import SECTIONS, load_config, parse_config
from hall_controller.config_loader import ConfigError
from hall_controller.core.passwords import hash_secret, parse_hash, verify_secret
from hall_controller.core.settings import HallConfig

DEMO = Path(__file__).resolve().parents[2] / "config" / "demo-hall.toml"
DEMO_TEXT = DEMO.read_text(encoding="utf-8")
DEMO_DATA = tomllib.loads(DEMO_TEXT)


def config_from_dict(data: Any, source: str = "<config>") -> HallConfig:
    return config_module.config_from_dict(data, source, SECTIONS)


@pytest.fixture(scope="module")
def demo() -> HallConfig:
    return load_config(DEMO)


@pytest.fixture(scope="module")
def fast_hashing() -> Iterator[None]:
    """Fuzzing loads the demo hundreds of times; the hash strength is irrelevant there."""
    patch = pytest.MonkeyPatch()
    patch.setattr(config_module, "CLEAR_SECRET_ITERATIONS", 1)
    yield
    patch.undo()


# ---- the demo hall -------------------------------------------------------------------------------


def test_demo_shape(demo: HallConfig) -> None:
    assert demo.name == "清河县政务服务中心"
    assert demo.timezone == "Asia/Shanghai"
    assert demo.public_url == ""
    assert [(p.start.isoformat("minutes"), p.end.isoformat("minutes")) for p in demo.hours.sessions] == [
        ("08:30", "12:00"), ("14:00", "17:30")]
    assert demo.hours.lunch_duty is not None and demo.hours.lunch_duty.start.hour == 12
    assert demo.hours.weekdays == (1, 2, 3, 4, 5)
    assert "2026-10-01" in demo.hours.holidays and "2026-02-14" in demo.hours.workdays
    q = demo.queue
    assert (q.max_wait_minutes, q.target_wait_minutes, q.priority_ratio, q.recall_limit) == (60, 15, 2, 3)
    assert (q.rejoin_places, q.rejoin_within_minutes, q.elderly_age) == (3, 30, 60)
    assert (q.service_level_percent, q.service_level_minutes) == (80, 10)
    assert [(p.id, p.rank) for p in q.priorities] == [("green", 1), ("appointment", 2), ("assist", 3)]
    assert len(demo.services) >= 40 and len(demo.windows) >= 20 and len(demo.staff) >= 25
    assert {w.mode for w in demo.windows} == {"comprehensive", "categorised", "special"}
    assert any(not m.required and m.note for s in demo.services for m in s.materials)
    assert any(s.daily_cap for s in demo.services) and any(s.issuing_hours for s in demo.services)
    assert {m.id: m.role for m in demo.managers} == {"manager": "manager", "admin": "admin"}


def test_demo_every_category_is_served(demo: HallConfig) -> None:
    for category in demo.categories:
        if category.general:
            assert any(w.mode == "comprehensive" or category.id in w.weights for w in demo.windows)
        else:
            special = {s for w in demo.windows if w.mode == "special" for s in w.services}
            assert any(s.category_id == category.id and s.id in special for s in demo.services)
            assert not any(category.id in w.weights for w in demo.windows)


def test_demo_every_service_is_reachable(demo: HallConfig) -> None:
    for service in demo.services:
        category = demo.category(service.category_id)
        assert category is not None
        assert any(
            service.id in w.services if w.mode == "special"
            else category.general and (w.mode == "comprehensive" or category.id in w.weights)
            for w in demo.windows
        ), service.id


def test_demo_staff_windows_exist_and_every_window_is_staffed(demo: HallConfig) -> None:
    for member in demo.staff:
        for wid in member.windows + member.standin_windows:
            assert demo.window(wid) is not None
    staffed = {wid for m in demo.staff for wid in m.windows + m.standin_windows}
    assert staffed == {w.id for w in demo.windows}


def test_demo_ids_are_unique_and_window_ids_default_to_number(demo: HallConfig) -> None:
    for items in (demo.categories, demo.services, demo.windows, demo.staff, demo.managers):
        ids = [x.id for x in items]
        assert len(ids) == len(set(ids))
    assert all(w.id == str(w.number) for w in demo.windows)


def test_demo_secrets_are_hashed_and_verify(demo: HallConfig) -> None:
    member = demo.staff_member("QH1001")
    assert member is not None and member.pin_hash.startswith("pbkdf2_sha256$")
    assert verify_secret("1234", member.pin_hash)
    assert not verify_secret("1235", member.pin_hash)
    admin = next(m for m in demo.managers if m.id == "admin")
    assert verify_secret("admin123", admin.password_hash) and not verify_secret("manager123", admin.password_hash)
    assert "'1234'" not in repr(demo.staff)  # quoted: a random salt or digest may hold the digits


# ---- passwords -----------------------------------------------------------------------------------


def test_hash_round_trip_and_format() -> None:
    hashed = hash_secret("2580", iterations=1000)
    algorithm, count, salt_hex, digest_hex = hashed.split("$")
    assert (algorithm, count, len(bytes.fromhex(salt_hex)), len(digest_hex)) == ("pbkdf2_sha256", "1000", 16, 64)
    assert verify_secret("2580", hashed) and not verify_secret("2581", hashed) and not verify_secret("", hashed)
    assert hash_secret("2580", iterations=1000) != hashed  # fresh salt each time
    salt = b"fixed-salt"
    assert hash_secret("x", salt=salt, iterations=5) == hash_secret("x", salt=salt, iterations=5)
    assert verify_secret("密码口令", hash_secret("密码口令", iterations=10))
    assert parse_hash(hashed)[0] == 1000


@pytest.mark.parametrize("bad", ["", "plain", "md5$1$ab$cd", "pbkdf2_sha256$x$ab$" + "0" * 64,
                                 "pbkdf2_sha256$1000$zz$" + "0" * 64, "pbkdf2_sha256$1000$ab$abcd",
                                 "pbkdf2_sha256$0$ab$" + "0" * 64, "pbkdf2_sha256$99999999999$ab$" + "0" * 64])
def test_malformed_hash_never_verifies(bad: str) -> None:
    assert not verify_secret("1234", bad)
    with pytest.raises(ValueError):
        parse_hash(bad)


def test_hash_rejects_bad_iterations() -> None:
    with pytest.raises(ValueError):
        hash_secret("1234", iterations=0)


# ---- errors --------------------------------------------------------------------------------------

BASE = """\
[hall]
name = "测试大厅"
timezone = "Asia/Shanghai"

[hall.hours]
sessions = [["08:30", "12:00"], ["14:00", "17:30"]]
lunch_duty = ["12:00", "14:00"]

[queue]
max_wait_minutes = 60

[[queue.priorities]]
id = "green"
name = "绿色通道"
rank = 1

[[categories]]
id = "social"
name = "社会事务"

[[categories]]
id = "pickup"
name = "统一出件"
general = false

[[services]]
id = "hukou"
name = "户籍迁移"
category = "social"
prefix = "A"
minutes = 8
time_limit = "即办"
materials = [{ name = "居民身份证" }, { name = "户口簿", required = false, note = "容缺受理" }]

[[services]]
id = "collect"
name = "出件领取"
category = "pickup"
prefix = "E"
minutes = 3
time_limit = "即办"

[[windows]]
number = 1
mode = "comprehensive"
lunch_duty = true

[[windows]]
number = 5
mode = "categorised"
weights = { social = 2 }

[[windows]]
number = 9
mode = "special"
services = ["collect"]

[[staff]]
id = "S1"
name = "张三"
unit = "县行政审批局"
pin = "1234"
windows = ["1"]

[[managers]]
id = "admin"
name = "管理员"
role = "admin"
password = "admin123"
"""


def _edit(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


def _load(tmp_path: Path, text: str) -> HallConfig:
    path = tmp_path / "hall.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def test_base_is_valid(tmp_path: Path) -> None:
    cfg = _load(tmp_path, BASE)
    assert [w.id for w in cfg.windows] == ["1", "5", "9"]
    assert cfg.window("5") is not None and cfg.window("5").weights == {"social": 2.0}
    assert cfg.window("1") is not None and cfg.window("1").name == "1号窗口"
    hukou = cfg.service("hukou")
    assert hukou is not None and hukou.materials[1].required is False and hukou.daily_cap is None
    assert cfg.queue.recall_limit == 3  # defaults fill what [queue] leaves out


ERRORS = [
    # (old, new, key, part of the reason)
    ('prefix = "A"', 'prefix = "A"\ncolour = "red"', "services[id=hukou].colour", 'unknown key "colour"'),
    ("minutes = 8", "minuts = 8", "services[id=hukou].minuts", 'did you mean "minutes"'),
    ("minutes = 8", 'minutes = "8"', "services[id=hukou].minutes", "must be a number"),
    ("minutes = 8", "minutes = nan", "services[id=hukou].minutes", "must be a number"),
    ("minutes = 8", "minutes = 0", "services[id=hukou].minutes", "greater than 0"),
    ("minutes = 8", "minutes = 900", "services[id=hukou].minutes", "at most 480"),
    ("rank = 1", "rank = true", "queue.priorities[id=green].rank", "whole number"),
    ('["08:30", "12:00"], ["14:00"', '["8:30", "12:00"], ["14:00"', "hall.hours.sessions[0][0]", "HH:MM"),
    ('["08:30", "12:00"], ["14:00"', '["08:30", "24:00"], ["14:00"', "hall.hours.sessions[0][1]", "HH:MM"),
    ('["14:00", "17:30"]', '["14:00", "13:00"]', "hall.hours.sessions[1]", "later than start"),
    ('["14:00", "17:30"]', '["11:00", "17:30"]', "hall.hours.sessions[1]", "must not overlap"),
    ('["14:00", "17:30"]', '["14:00"]', "hall.hours.sessions[1]", "pair of times"),
    ('lunch_duty = ["12:00", "14:00"]', 'lunch_duty = ["11:00", "14:00"]', "hall.hours.lunch_duty", "overlaps"),
    ('lunch_duty = ["12:00", "14:00"]', 'lunch_duty = ["12:00", "14:00"]\nweekdays = [1, 8]',
     "hall.hours.weekdays[1]", "ISO weekday"),
    ('lunch_duty = ["12:00", "14:00"]', 'lunch_duty = ["12:00", "14:00"]\nholidays = ["2026-02-30"]',
     "hall.hours.holidays[0]", "YYYY-MM-DD"),
    ('lunch_duty = ["12:00", "14:00"]', 'lunch_duty = ["12:00", "14:00"]\nworkdays = ["2026-01-05"]',
     "hall.hours.workdays[0]", "already a regular opening day"),
    ('timezone = "Asia/Shanghai"', 'timezone = "Asia/Qinghe"', "hall.timezone", "unknown time zone"),
    ('timezone = "Asia/Shanghai"', 'timezone = "Asia"', "hall.timezone", "unknown time zone"),
    ('name = "测试大厅"\n', "", "hall.name", "required"),
    ('name = "测试大厅"', 'name = "测试大厅"\npublic_url = "hall.example"', "hall.public_url", "http"),
    ("max_wait_minutes = 60", "max_wait_minutes = 60\ntarget_wait_minutes = 90", "queue.target_wait_minutes",
     "must not exceed"),
    ("max_wait_minutes = 60", "max_wait_minutes = 60\nservice_level_percent = 80", "queue.service_level_minutes",
     "go together"),
    ("max_wait_minutes = 60", "max_wait_minutes = 60\nservice_level_percent = 100\nservice_level_minutes = 10",
     "queue.service_level_percent", "at most 99.9"),
    ("max_wait_minutes = 60", "max_wait_minutes = 60\nservice_level_percent = 80\nservice_level_minutes = 0",
     "queue.service_level_minutes", "greater than 0"),
    ('rank = 1', 'rank = 1\n\n[[queue.priorities]]\nid = "green"\nname = "又一个"\nrank = 2',
     "queue.priorities[1].id", 'duplicate priority class id "green"'),
    ('id = "social"', 'id = "社会"', "categories[0].id", "not a valid id"),
    ('id = "collect"', 'id = "hukou"', "services[1].id", 'duplicate service id "hukou"'),
    ('category = "social"', 'category = "socail"', "services[id=hukou].category", 'unknown category "socail"'),
    ('prefix = "A"', 'prefix = "a"', "services[id=hukou].prefix", "uppercase"),
    ('prefix = "A"', 'prefix = "ABC"', "services[id=hukou].prefix", "1 or 2 uppercase"),
    ('prefix = "A"', 'prefix = "Ä"', "services[id=hukou].prefix", "ASCII"),
    ("minutes = 8", "minutes = 8\ndaily_cap = 0", "services[id=hukou].daily_cap", "at least 1"),
    ("minutes = 8", "minutes = 8\ndaily_cap = 10.5", "services[id=hukou].daily_cap", "whole number"),
    ("minutes = 8", 'minutes = 8\nissuing_hours = [["10:00", "09:00"]]', "services[id=hukou].issuing_hours[0]",
     "later than start"),
    ('{ name = "户口簿", required = false', '{ name = "居民身份证", required = false',
     "services[id=hukou].materials[1].name", "listed twice"),
    ("number = 5", "number = 1", "windows[1].number", "duplicate window number 1"),
    ("number = 5", 'number = 5\nid = "1"', "windows[1].id", 'duplicate window id "1"'),
    ("weights = { social = 2 }\n", "", "windows[id=5].weights", "at least one category weight"),
    ("weights = { social = 2 }", "weights = { social = 0 }", "windows[id=5].weights.social", "greater than 0"),
    ("weights = { social = 2 }", "weights = { social = -1 }", "windows[id=5].weights.social", "greater than 0"),
    ("weights = { social = 2 }", "weights = { social = 2, other = 1 }", "windows[id=5].weights.other",
     'unknown key "other"'),
    ("weights = { social = 2 }", "weights = { social = 2, pickup = 1 }", "windows[id=5].weights.pickup",
     "special-only"),
    ('mode = "comprehensive"', 'mode = "comprehensive"\nweights = { social = 1 }', "windows[id=1].weights",
     "only categorised"),
    ('mode = "comprehensive"', 'mode = "general"', "windows[id=1].mode", "must be one of"),
    ('services = ["collect"]', "services = []", "windows[id=9].services", "must list the services"),
    ('services = ["collect"]\n', "", "windows[id=9].services", "required"),
    ('services = ["collect"]', 'services = ["colect"]', "windows[id=9].services[0]", 'unknown service "colect"'),
    ('mode = "special"\nservices = ["collect"]', 'mode = "special"\nservices = ["hukou"]',
     "services[id=collect].category", "no window can serve"),
    ("lunch_duty = true", 'lunch_duty = "yes"', "windows[id=1].lunch_duty",
     "true or false"),
    ('lunch_duty = ["12:00", "14:00"]\n', "", "windows[id=1].lunch_duty", "no lunch_duty period"),
    ('windows = ["1"]', 'windows = ["7"]', "staff[id=S1].windows[0]", 'unknown window "7"'),
    ('windows = ["1"]', 'windows = ["1"]\nstandin_windows = [1]', "staff[id=S1].standin_windows[0]",
     "already in windows"),
    ('pin = "1234"\n', "", "staff[id=S1].pin", "exactly one"),
    ('pin = "1234"', 'pin = "1234"\npin_hash = "x"', "staff[id=S1].pin", "exactly one"),
    ('pin = "1234"', "pin = 1234", "staff[id=S1].pin", "in quotes"),
    ('pin = "1234"', 'pin = "12a4"', "staff[id=S1].pin", "4 to 8 digits"),
    ('pin = "1234"', 'pin_hash = "md5$abc"', "staff[id=S1].pin_hash", "not a valid hash"),
    ('id = "S1"', 'id = "S1"\nid2 = "S1"', "staff[id=S1].id2", "unknown key"),
    ('password = "admin123"\n', "", "managers[id=admin].password", "exactly one"),
    ('role = "admin"', 'role = "boss"', "managers[id=admin].role", "must be one of"),
    ("[hall]", 'colour = "red"\n[hall]', "colour", "unknown key"),
]


@pytest.mark.parametrize(("old", "new", "key", "reason"), ERRORS, ids=[e[2] + "|" + e[3] for e in ERRORS])
def test_each_error_names_file_key_and_reason(tmp_path: Path, old: str, new: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, _edit(old, new))
    error = caught.value
    assert error.file == str(tmp_path / "hall.toml")
    assert error.key == key
    assert reason in error.reason
    assert str(error) == f"{error.file}: {key}: {error.reason}"


def test_staff_and_managers_are_optional_but_hall_is_not(tmp_path: Path) -> None:
    cfg = _load(tmp_path, BASE[: BASE.index("[[staff]]")])
    assert cfg.staff == () and cfg.managers == ()
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, BASE[BASE.index("[queue]"):])
    assert caught.value.key == "hall" and "required" in caught.value.reason


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, _edit('name = "测试大厅"', 'name = "测试大厅'))
    assert caught.value.key == "line 2"
    assert caught.value.reason.startswith("TOML syntax error")
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, BASE + "\nx = [1,\n")
    assert caught.value.key.startswith("line ") and "syntax" in caught.value.reason


def test_unreadable_or_mis_encoded_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "missing.toml")
    assert caught.value.key == "(file)" and "cannot read" in caught.value.reason
    gbk = tmp_path / "gbk.toml"
    gbk.write_bytes(BASE.encode("gbk"))
    with pytest.raises(ConfigError) as caught:
        load_config(gbk)
    assert caught.value.key == "line 2" and "UTF-8" in caught.value.reason
    bom = tmp_path / "bom.toml"
    bom.write_bytes(BASE.encode("utf-8-sig"))
    assert load_config(bom).name == "测试大厅"


def test_given_hashes_are_kept(tmp_path: Path) -> None:
    pin_hash = hash_secret("9876", iterations=500)
    cfg = _load(tmp_path, _edit('pin = "1234"', f'pin_hash = "{pin_hash}"'))
    assert cfg.staff[0].pin_hash == pin_hash and verify_secret("9876", cfg.staff[0].pin_hash)


def test_unquoted_toml_dates_and_numeric_window_refs_are_accepted(tmp_path: Path) -> None:
    cfg = _load(tmp_path, _edit('lunch_duty = ["12:00", "14:00"]',
                                'lunch_duty = ["12:00", "14:00"]\nholidays = [2026-10-01, "2026-10-02"]'))
    assert cfg.hours.holidays == ("2026-10-01", "2026-10-02")
    cfg = _load(tmp_path, _edit('windows = ["1"]', "windows = [1, 5]"))
    assert cfg.staff[0].windows == ("1", "5")


def test_config_from_dict_does_not_modify_its_input() -> None:
    data = copy.deepcopy(DEMO_DATA)
    config_from_dict(data, "demo")
    assert data == DEMO_DATA


# ---- fuzzing: whatever the input, the loader raises ConfigError or nothing -----------------------


def _check(load: Any, *args: Any) -> None:
    try:
        result = load(*args)
    except ConfigError as e:
        assert e.file and e.key and e.reason
    else:
        assert isinstance(result, HallConfig)


_edits = st.one_of(
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 40), st.just("")),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.just(0),
              st.text(alphabet=st.sampled_from('[]{}"=,.#\n 0123456789-:aAz号\\\''), max_size=8)),
    st.tuples(st.just("line"), st.integers(0, 10**6), st.just(0), st.text(max_size=30)),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_edits, min_size=1, max_size=4))
def test_fuzz_garbled_text(fast_hashing: None, edits: list[tuple[str, int, int, str]]) -> None:
    text = DEMO_TEXT
    for op, where, length, new in edits:
        if op == "line":
            lines = text.split("\n")
            lines[where % len(lines)] = new
            text = "\n".join(lines)
        else:
            at = where % (len(text) + 1)
            text = text[:at] + new + text[at + length:]
    _check(parse_config, text, "fuzz.toml")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6))
def test_fuzz_garbled_bytes_through_the_file(fast_hashing: None, tmp_path_factory: pytest.TempPathFactory,
                                             flips: list[tuple[int, int]]) -> None:
    raw = bytearray(DEMO.read_bytes())
    for where, byte in flips:
        raw[where % len(raw)] = byte
    path = tmp_path_factory.mktemp("fuzz") / "hall.toml"
    path.write_bytes(bytes(raw))
    _check(load_config, path)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key and list position in the parsed demo, as a path from the top."""
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield prefix + (key,)
        yield from _paths(child, prefix + (key,))


PATHS = list(_paths(DEMO_DATA))
_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**12) | st.floats() | st.text(max_size=12)
    | st.dates() | st.times() | st.sampled_from(["social", "1", "QH1001", "08:30", "A", "special", "pickup_result"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
_changes = st.tuples(st.sampled_from(PATHS), st.sampled_from(["drop", "replace", "rename"]), _values)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_changes, min_size=1, max_size=3))
def test_fuzz_dropped_and_altered_keys(fast_hashing: None, changes: list[tuple[tuple[Any, ...], str, Any]]) -> None:
    data = copy.deepcopy(DEMO_DATA)
    for path, action, value in changes:
        parent: Any = data
        try:
            for step in path[:-1]:
                parent = parent[step]
            last = path[-1]
            parent[last]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed or replaced this path
        if action == "replace":
            parent[last] = value
        elif isinstance(parent, dict):
            moved = parent.pop(last)
            if action == "rename":
                parent[str(last) + "x"] = moved
        else:
            del parent[last]
    _check(config_from_dict, data, "fuzz.toml")
