"""Signing in to the admin UI: passwords, throttling, the session cookie,
CSRF on every state-changing route, and no open redirects."""

from __future__ import annotations

import json
import time
from base64 import b64encode

import httpx
import itsdangerous
from admin_http import PASSWORD, csrf_of, sign_in
from starlette.routing import Route

from tessera.admin_ui import SESSION_COOKIE, SESSION_LIFETIME
from tessera.app import create_app
from tessera.auth.admin_users import MAX_FAILURES
from tessera.auth.models import AdminLoginFailure, AdminUser, ApiKey
from tessera.config import Environment


async def test_the_right_password_signs_in_and_a_wrong_one_is_refused(http, brand_a, admin_user):
    user = await admin_user(brand_a, "viewer")
    refused = await sign_in(http, user.email, "not the password")
    assert refused.status_code == 401
    assert "Wrong email or password" in refused.text
    assert (await http.get("/admin/brands/brand-a/")).status_code == 303

    signed_in = await sign_in(http, user.email)
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/admin/brands/brand-a/"
    assert (await http.get("/admin/brands/brand-a/")).status_code == 200
    assert (await AdminUser.get(id=user.id)).last_login_at is not None


async def test_passwords_are_stored_as_argon2_hashes(brand_a, admin_user):
    user = await admin_user(brand_a)
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


async def test_repeated_failures_throttle_even_the_right_password(http, brand_a, admin_user):
    user = await admin_user(brand_a)
    for _ in range(MAX_FAILURES):
        assert (await sign_in(http, user.email, "wrong password!")).status_code == 401
    throttled = await sign_in(http, user.email)
    assert throttled.status_code == 429
    assert "Too many failed sign-ins" in throttled.text
    assert (await http.get("/admin/brands/brand-a/")).status_code == 303


async def test_throttling_holds_across_processes(app, tessera_runtime, brand_a, admin_user):
    """The failures are rows, so another app instance (process) sees them."""
    user = await admin_user(brand_a)
    for _ in range(MAX_FAILURES):
        await AdminLoginFailure.create(email=user.email, ip="127.0.0.1")
    other = create_app(tessera_runtime.settings, runtime=tessera_runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=other, client=("127.0.0.1", 5000)),
        base_url="http://tessera.test",
    ) as client:
        assert (await sign_in(client, user.email)).status_code == 429


async def test_a_success_clears_the_failures(http, brand_a, admin_user):
    user = await admin_user(brand_a)
    await sign_in(http, user.email, "wrong password!")
    await sign_in(http, user.email)
    assert await AdminLoginFailure.filter(email=user.email).count() == 0


async def test_the_session_cookie_is_httponly_samesite_lax_and_expires(http, brand_a, admin_user):
    user = await admin_user(brand_a)
    cookie = (await sign_in(http, user.email)).headers["set-cookie"]
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()
    assert f"Max-Age={int(SESSION_LIFETIME.total_seconds())}" in cookie


async def test_the_cookie_is_secure_in_production(tessera_runtime, brand_a, admin_user):
    user = await admin_user(brand_a)
    settings = tessera_runtime.settings.model_copy(update={"environment": Environment.PRODUCTION})
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings, runtime=tessera_runtime)),
        base_url="https://tessera.test",
    ) as client:
        cookie = (await sign_in(client, user.email)).headers["set-cookie"]
    assert "secure" in cookie.lower()


async def test_an_expired_session_is_signed_out(http, tessera_runtime, brand_a, admin_user):
    user = await admin_user(brand_a)

    class Signed9HoursAgo(itsdangerous.TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time() - SESSION_LIFETIME.total_seconds() - 3600)

    signer = Signed9HoursAgo(tessera_runtime.settings.secret())
    old = signer.sign(b64encode(json.dumps({"user_id": user.id}).encode())).decode()
    http.cookies.set(SESSION_COOKIE, old, domain="tessera.test", path="/admin")
    response = await http.get("/admin/brands/brand-a/")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/admin/login")
    # The same cookie signed now is a valid session: the expiry is what refused it.
    fresh = itsdangerous.TimestampSigner(tessera_runtime.settings.secret())
    http.cookies.set(
        SESSION_COOKIE,
        fresh.sign(b64encode(json.dumps({"user_id": user.id}).encode())).decode(),
        domain="tessera.test",
        path="/admin",
    )
    assert (await http.get("/admin/brands/brand-a/")).status_code == 200


async def test_next_is_followed_only_inside_the_admin_ui(http, brand_a, admin_user):
    user = await admin_user(brand_a)
    for evil in (
        "https://evil.example/",
        "//evil.example/admin/",
        "/\\evil.example",
        "javascript:x",
    ):
        page = await http.get("/admin/login", params={"next": evil})
        response = await http.post(
            "/admin/login",
            params={"next": evil},
            data={
                "csrf_token": csrf_of(page.text),
                "email": user.email,
                "password": PASSWORD,
                "next": evil,
            },
        )
        assert response.headers["location"] == "/admin/brands/brand-a/", evil
    page = await http.get("/admin/login")
    response = await http.post(
        "/admin/login",
        data={
            "csrf_token": csrf_of(page.text),
            "email": user.email,
            "password": PASSWORD,
            "next": "/admin/brands/brand-a/members?q=1",
        },
    )
    assert response.headers["location"] == "/admin/brands/brand-a/members?q=1"


async def test_a_signed_out_visit_is_sent_to_sign_in_with_the_page_to_return_to(http, brand_a):
    response = await http.get("/admin/brands/brand-a/members?q=138")
    assert response.status_code == 303
    assert response.headers["location"] == (
        "/admin/login?next=%2Fadmin%2Fbrands%2Fbrand-a%2Fmembers%3Fq%3D138"
    )


def _state_changing_paths(app, brand_code: str, ids: dict[str, int]) -> list[str]:
    admin = next(r for r in app.routes if getattr(r, "path", "") == "/admin").app
    paths = []
    for route in admin.routes:
        if isinstance(route, Route) and route.methods and "POST" in route.methods:
            params = {name: ids.get(name, 1) for name in route.param_convertors}
            params.pop("brand", None)
            paths.append(
                "/admin" + route.url_path_for(route.name, brand=brand_code, **params)
                if "brand" in route.param_convertors
                else "/admin" + route.url_path_for(route.name, **params)
            )
    return paths


async def test_every_post_without_the_csrf_token_is_refused_and_changes_nothing(
    app, brand_a, admin_client, new_member
):
    client = await admin_client(brand_a, "owner")
    member = await new_member(brand_a, name="Lin", phone="13800138000")
    key = await client.post("/admin/brands/brand-a/api-keys/new", {"name": "k", "scopes": "read"})
    assert key.status_code == 200
    key_id = (await ApiKey.filter(brand_id=brand_a.id).first()).id
    paths = _state_changing_paths(app, "brand-a", {"member_id": member.pk, "key_id": key_id})
    assert len(paths) >= 7
    form = {
        "points": "5",
        "reason": "r",
        "idempotency_key": "k1",
        "tag": "vip",
        "name": "x",
        "scopes": "read",
        "locale": "zh_Hans",
        "email": "a@b.c",
        "password": "p",
    }
    for path in paths:
        for data, headers in (
            (form, {}),
            ({**form, "csrf_token": "forged"}, {"x-csrf-token": "forged"}),
        ):
            response = await client.http.post(path, data=data, headers=headers)
            assert response.status_code == 403, path
    assert (await ApiKey.get(id=key_id)).revoked_at is None
    assert await ApiKey.filter(brand_id=brand_a.id).count() == 1
    assert (await AdminUser.get(id=client.user.id)).locale == ""
    # The session survived (logout refused) and the token still works.
    assert (await client.get("/admin/brands/brand-a/")).status_code == 200
