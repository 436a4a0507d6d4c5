"""Sign-up, sign-in, sign-out and `me`, over real HTTP."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from models import accounts, sessions
from models.accounts import EmailClaim
from models.base import utcnow
from tests.client import PASSWORD, Api, User, error_codes


def fresh_email() -> str:
    return f"person-{uuid.uuid4().hex[:10]}@example.com"


def test_sign_up_returns_a_working_token_and_the_account(api: Api) -> None:
    email = fresh_email()
    result = api.data("SignUp", {"input": {"email": email.upper(), "password": PASSWORD, "plan": "PREMIUM"}})["signUp"]

    assert result["__typename"] == "AuthPayload"
    assert result["account"]["email"] == email
    assert result["account"]["plan"] == "PREMIUM"
    assert result["account"]["homeRegion"] == "us-west-2"
    assert result["account"]["usage"] == {
        "usedBytes": 0,
        "reservedBytes": 0,
        "limitBytes": 20 * 1024**3,
        "documentCount": 0,
    }
    me = api.data("Me", token=result["token"])["me"]
    assert me["id"] == result["account"]["id"]
    assert me["email"] == email


def test_password_is_stored_only_as_an_argon2_hash(api: Api) -> None:
    user = api.sign_up()

    record = accounts.get(user.id)

    assert record.password_hash.startswith("$argon2id$")
    assert PASSWORD not in record.password_hash


def test_token_is_stored_only_as_its_hash(api: Api) -> None:
    user = api.sign_up()

    session = sessions.Session.get(sessions.hash_token(user.token))

    assert session.account_id == user.id
    assert session.token_hash != user.token
    assert user.token not in session.token_hash


def test_sign_up_with_a_taken_email_in_any_case_is_refused(api: Api) -> None:
    user = api.sign_up()

    result = api.data("SignUp", {"input": {"email": user.email.upper(), "password": "another password"}})["signUp"]

    assert result == {
        "__typename": "EmailTakenError",
        "message": f"An account with the email {user.email} already exists.",
        "email": user.email,
    }
    assert EmailClaim.get(user.email).account_id == user.id


@pytest.mark.parametrize(
    ("email", "password", "field"),
    [
        ("not-an-email", PASSWORD, "email"),
        ("a@b", PASSWORD, "email"),
        ("", PASSWORD, "email"),
        ("x" * 250 + "@example.com", PASSWORD, "email"),
        ("o k@example.com", PASSWORD, "email"),
        ("ok@exam\x00ple.com", PASSWORD, "email"),
        (None, "short", "password"),
        (None, "", "password"),
        (None, "x" * 257, "password"),
    ],
)
def test_sign_up_with_bad_input_is_a_validation_error_and_stores_nothing(
    api: Api, email: str | None, password: str, field: str
) -> None:
    address = email if email is not None else fresh_email()

    result = api.data("SignUp", {"input": {"email": address, "password": password}})["signUp"]

    assert result["__typename"] == "ValidationError"
    assert [problem["field"] for problem in result["fields"]] == [field]
    assert result["message"] == result["fields"][0]["message"]
    if email is None:
        assert accounts.find_by_email(address) is None


def test_sign_up_with_a_bad_email_and_a_bad_password_names_both(api: Api) -> None:
    address = f"no at sign {uuid.uuid4().hex[:10]}"

    result = api.data("SignUp", {"input": {"email": address, "password": "short"}})["signUp"]

    assert result == {
        "__typename": "ValidationError",
        "message": "The email is not valid: An email address must have an @-sign.",
        "fields": [
            {"field": "email", "message": "The email is not valid: An email address must have an @-sign."},
            {"field": "password", "message": "The password needs at least 8 characters."},
        ],
    }
    assert accounts.find_by_email(address) is None


def test_sign_in_with_the_right_password_starts_a_new_session(api: Api, user: User) -> None:
    result = api.data("SignIn", {"input": {"email": user.email.upper(), "password": PASSWORD}})["signIn"]

    assert result["__typename"] == "AuthPayload"
    assert result["account"]["id"] == user.id
    assert result["token"] != user.token
    assert api.data("Me", token=result["token"])["me"]["id"] == user.id


@pytest.mark.parametrize("case", ["wrong password", "unknown email", "malformed email"])
def test_sign_in_failures_look_the_same(api: Api, user: User, case: str) -> None:
    email, password = {
        "wrong password": (user.email, "not the password"),
        "unknown email": (fresh_email(), PASSWORD),
        "malformed email": ("nobody", PASSWORD),
    }[case]

    result = api.data("SignIn", {"input": {"email": email, "password": password}})["signIn"]

    assert result == {"__typename": "InvalidCredentialsError", "message": "The email or the password is wrong."}


def test_sign_out_revokes_only_that_session(api: Api, user: User) -> None:
    second = api.data("SignIn", {"input": {"email": user.email, "password": PASSWORD}})["signIn"]["token"]

    assert api.data("SignOut", token=user.token)["signOut"] == {"revoked": True}

    assert error_codes(api.call("Me", token=user.token)) == ["UNAUTHENTICATED"]
    assert api.data("Me", token=second)["me"]["id"] == user.id


def test_expired_session_is_unauthenticated(api: Api, user: User) -> None:
    token, _ = sessions.create(user.id, 60, now=utcnow() - timedelta(minutes=5))

    assert error_codes(api.call("Me", token=token)) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer dst_not-a-real-token", "Bearer " + "x" * 5000],
)
def test_missing_or_wrong_token_is_unauthenticated(api: Api, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}

    response = api.http.post("/graphql", json={"query": "{ me { id } }"}, headers=headers)

    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["errors"][0]["message"] == "Sign in first: send `Authorization: Bearer <token>`."


def test_fields_of_one_query_share_the_signed_in_account(api: Api, user: User) -> None:
    query = "{ me { id } documents(first: 1) { edges { cursor } } again: me { email } }"

    body = api.raw(query, token=user.token)

    assert body == {"data": {"me": {"id": user.id}, "documents": {"edges": []}, "again": {"email": user.email}}}
