"""Login, tokens, the caller's account and the server clock (spec 1, 3.1, 3.2, 7.1, 7.2)."""
from datetime import datetime, timezone

import dateutil.parser
import pytest
from iotile_cloud.api.connection import Api
from iotile_cloud.api.exceptions import HttpClientError, HttpNotFoundError

from conftest import ISO_Z, logged_in


def status_of(excinfo):
    return excinfo.value.response.status_code


# --- Spec 1.2 / 1.5 / 7.1: login ----------------------------------------------------------

def test_login_stores_the_jwt_and_username(url, staff_credentials):
    email, password = staff_credentials
    api = Api(domain=url)
    assert api.login(email=email, password=password) is True
    assert api.username == email.split("@")[0]
    # A JWT: three base64url parts.
    assert isinstance(api.token, str) and api.token.count(".") == 2


def test_login_with_a_wrong_password_returns_false(url, staff_credentials):
    api = Api(domain=url)
    assert api.login(email=staff_credentials[0], password="not-the-password") is False
    assert api.token is None


def test_login_with_an_unknown_email_returns_false(url):
    api = Api(domain=url)
    assert api.login(email="nobody@example.invalid", password="whatever123") is False
    assert api.token is None


def test_static_token_scheme_works(url, user_credentials):
    # Api(token_type='token') takes content["token"] from the login answer and sends
    # `token <key>` (spec 1.1).
    api = logged_in(url, *user_credentials, token_type="token")
    assert len(api.token) == 40 and all(c in "0123456789abcdef" for c in api.token)
    assert api.account.get()["results"][0]["email"] == user_credentials[0]


# --- Spec 3.2: account ----------------------------------------------------------------------

def test_account_lists_only_the_caller(staff_api, staff_credentials):
    page = staff_api.account.get()
    assert page["count"] == 1
    assert page["next"] is None and page["previous"] is None
    me = page["results"][0]
    assert me["email"] == staff_credentials[0]
    assert me["username"] == staff_api.username
    assert isinstance(me["id"], int)
    assert me["is_staff"] is True
    assert ISO_Z.match(me["created_at"]) and ISO_Z.match(me["updated_at"])
    assert set(me["avatar"]) == {"tiny", "thumbnail", "medium"}
    assert isinstance(me["slug"], str) and me["slug"]


def test_ordinary_account_is_not_staff(user_api, user_credentials, staff_api):
    me = user_api.account.get()["results"][0]
    assert me["email"] == user_credentials[0]
    assert me["is_staff"] is False
    assert me["id"] != staff_api.account.get()["results"][0]["id"]


def test_own_account_by_slug(user_api):
    me = user_api.account.get()["results"][0]
    assert user_api.account(me["slug"]).get()["id"] == me["id"]


def test_another_account_by_slug_is_not_found(user_api, staff_api):
    staff_slug = staff_api.account.get()["results"][0]["slug"]
    with pytest.raises(HttpNotFoundError):
        user_api.account(staff_slug).get()


def test_staff_list_every_account_with_staff_flag(staff_api, user_credentials):
    page = staff_api.account.get(staff=1)
    assert page["count"] >= 2
    assert user_credentials[0] in [a["email"] for a in page["results"]]


def test_page_past_the_end_is_not_found(staff_api):
    with pytest.raises(HttpNotFoundError):
        staff_api.account.get(page=999)


# --- Spec 3.1 / 7.15: server ----------------------------------------------------------------

def test_server_clock_is_utc_and_current(url):
    # No login needed.
    info = Api(domain=url).server.get()
    assert info["now"].endswith("Z")
    now = dateutil.parser.parse(info["now"])
    assert abs((datetime.now(timezone.utc) - now).total_seconds()) < 120
    for key in ("stage", "name", "company"):
        assert isinstance(info[key], str)


# --- Spec 1.1 / 2.6: error answers ----------------------------------------------------------

def test_no_credentials_is_401(url):
    api = Api(domain=url)
    with pytest.raises(HttpClientError) as excinfo:
        api.account.get()
    assert status_of(excinfo) == 401
    assert not isinstance(excinfo.value, HttpNotFoundError)
    assert "JWT" in excinfo.value.response.headers.get("WWW-Authenticate", "")


def test_garbage_token_is_401(url):
    api = Api(domain=url)
    api.set_token("not.a.token")
    with pytest.raises(HttpClientError) as excinfo:
        api.account.get()
    assert status_of(excinfo) == 401


def test_upper_case_scheme_is_accepted(url, staff_api):
    api = Api(domain=url, token_type="JWT")
    api.set_token(staff_api.token)
    assert api.account.get()["count"] == 1


def test_unknown_route_is_not_found(staff_api):
    with pytest.raises(HttpNotFoundError):
        staff_api.nosuchresource.get()


def test_malformed_field_is_400_with_field_errors(url):
    # The login answers a DRF field error for a value that is not an email.
    api = Api(domain=url)
    assert api.login(email="not-an-email", password="x") is False
    with pytest.raises(HttpClientError) as excinfo:
        api.auth.login.post({"email": "not-an-email", "password": "x"})
    assert status_of(excinfo) == 400
    assert "email" in excinfo.value.response.json()


# --- Spec 1.3 / 7.2: refresh and logout -----------------------------------------------------

def test_refresh_gives_a_working_token(url, user_credentials):
    api = logged_in(url, *user_credentials)
    assert api.refresh_token() is True
    assert isinstance(api.token, str) and api.token.count(".") == 2
    assert api.account.get()["results"][0]["email"] == user_credentials[0]


def test_refresh_of_a_garbage_token_fails(url):
    api = Api(domain=url)
    api.set_token("garbage")
    assert api.refresh_token() is False
    assert api.token is None


def test_logout_answers_204(url, user_credentials):
    api = logged_in(url, *user_credentials)
    api.logout()
    # The SDK clears both only on a 204.
    assert api.token is None
    assert api.username is None
