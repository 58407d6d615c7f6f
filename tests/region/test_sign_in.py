"""Sign-in to the region's pages and API (they show supervision data across halls): a Chinese sign-in page
for browsers, a bearer token for programs, the hall's rules for wrong passwords, sign-out; the halls' ingest
keeps its key per hall and needs no user."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from hall_controller.features.region.rules import to_region
from region.app import create_region_app
from region.auth import COOKIE
from tests.region.hall_day import hall_service, morning

PASSWORD = "区域监管-2026"
CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def region(tmp_path, store):
    service = hall_service(tmp_path / "hall.db")
    morning(service)
    key = store.add_hall("h1", "城关镇便民服务中心")
    store.add_user("jianguan", "监管办王科长", PASSWORD)
    now = service.clock.now()
    app = create_region_app(store, clock=lambda: now)
    with TestClient(app, follow_redirects=False) as client:
        yield client, app, service, key, store
    service.ledger.close()


def sign_in(client, password=PASSWORD, user_id="jianguan", next_="/"):
    return client.post("/sign-in", data={"user_id": user_id, "password": password, "next": next_})


@pytest.mark.parametrize("path", ["/", "/halls/h1", "/reports?hall_id=h1", "/supervision", "/returns",
                                  "/returns/2026-11.csv"])
def test_pages_need_a_sign_in_and_lead_to_the_chinese_sign_in_page(region, path):
    client, *_ = region
    r = client.get(path)
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in?next=%2F")
    page = client.get(r.headers["location"]).text
    assert "登录区域政务服务监管平台" in page and 'name="password"' in page
    assert "区域看板" not in page  # no navigation into the pages before signing in


@pytest.mark.parametrize("path", ["/api/region/overview", "/api/region/halls/h1", "/api/region/reports",
                                  "/api/region/supervision", "/api/region/returns/2026-11", "/openapi.json"])
def test_the_api_answers_401_in_chinese_without_a_sign_in(region, path):
    client, *_ = region
    r = client.get(path)
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorised" and CHINESE.search(r.json()["message"])
    assert client.get(path, headers={"Authorization": "Bearer not-a-token"}).status_code == 401


def test_sign_in_wrong_password_and_sign_out(region):
    client, app, service, key, store = region
    for user_id, password in (("jianguan", "wrong-password"), ("nobody", PASSWORD)):
        r = sign_in(client, password, user_id)
        assert r.status_code == 401 and "账号或密码错误" in r.text and COOKIE not in r.cookies
        assert client.get("/").status_code == 303

    r = sign_in(client, next_="/supervision")
    assert r.status_code == 303 and r.headers["location"] == "/supervision" and r.cookies[COOKIE]
    page = client.get("/supervision").text
    assert "监管办王科长" in page and "退出登录" in page
    assert client.get("/api/region/overview").json()["halls"][0]["hall_id"] == "h1"
    token = client.cookies[COOKIE]

    r = client.post("/sign-out")
    assert r.status_code == 303 and r.headers["location"] == "/sign-in"
    assert client.get("/").status_code == 303
    # the token is ended, not only the cookie dropped: a copy of it no longer reads anything
    r = client.get("/api/region/overview", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["error"] == "session_expired"


def test_a_program_signs_in_for_a_bearer_token(region):
    client, app, service, key, store = region
    r = client.post("/api/region/sign-in", json={"user_id": "jianguan", "password": "wrong-password"})
    assert r.status_code == 401 and r.json()["error"] == "bad_credentials" and CHINESE.search(r.json()["message"])
    assert client.post("/api/region/sign-in", json={"user_id": "jianguan"}).status_code == 422
    r = client.post("/api/region/sign-in", json={"user_id": "jianguan", "password": PASSWORD})
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    assert r.json()["user"] == {"id": "jianguan", "name": "监管办王科长"}
    assert client.get("/api/region/supervision", headers=headers).status_code == 200
    assert client.post("/api/region/sign-out", headers=headers).json() == {"signed_out": "jianguan"}
    assert client.get("/api/region/supervision", headers=headers).status_code == 401


def test_the_halls_ingest_keeps_its_key_per_hall(region):
    client, app, service, key, store = region
    sent = [to_region(e) for e in service.ledger.events_since(0, 1000)]
    r = client.post("/api/region/ingest", json={"hall_id": "h1", "events": sent}, headers={"Authorization": f"Bearer {key}"})
    assert r.json() == {"acked": len(sent)}
    token = client.post("/api/region/sign-in", json={"user_id": "jianguan", "password": PASSWORD}).json()["token"]
    r = client.post("/api/region/ingest", json={"hall_id": "h1", "events": []}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401  # a user's sign-in is not a hall's key


def test_wrong_passwords_make_the_guesser_wait_as_in_the_hall(region):
    client, app, *_ = region
    for _ in range(3):
        assert sign_in(client, "wrong-password").status_code == 401
    r = sign_in(client)  # the right one too: this address waits a while (the region's clock stands still here)
    assert r.status_code == 429 and "请" in r.text and COOKIE not in r.cookies
    start = app.state.now()
    app.state.now = lambda: start + timedelta(minutes=1)
    assert sign_in(client).status_code == 303


def test_a_sign_in_ends_after_a_working_day_or_a_new_password(region):
    client, app, service, key, store = region
    sign_in(client)
    assert client.get("/api/region/overview").status_code == 200
    start = app.state.now()
    app.state.now = lambda: start + timedelta(hours=10)
    r = client.get("/api/region/overview")
    assert r.status_code == 401 and r.json()["error"] == "session_expired"
    assert client.get("/reports").headers["location"] == "/sign-in?next=%2Freports"
    assert sign_in(client).status_code == 303
    store.add_user("jianguan", "监管办王科长", "新的密码-2026")
    assert client.get("/api/region/overview").status_code == 401
    assert sign_in(client, "新的密码-2026").status_code == 303
    assert store.remove_user("jianguan") and not store.remove_user("jianguan")
    assert client.get("/api/region/overview").status_code == 401  # a removed user's sign-ins end with them


def test_after_signing_in_only_pages_of_this_site(region):
    client, *_ = region
    for target in ("//elsewhere.example/", "https://elsewhere.example/", "/\\elsewhere.example"):
        assert sign_in(client, next_=target).headers["location"] == "/"
        client.post("/sign-out")
