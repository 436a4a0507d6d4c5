"""Settings come from DOCSTORE_* variables, once, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from settings import Settings, SettingsError


def test_defaults_are_the_embedded_laptop_setup() -> None:
    settings = Settings.from_env({})

    assert settings.embedded
    assert (settings.region, settings.bucket, settings.table_name("documents")) == (
        "us-west-2",
        "docstore-us-west-2",
        "docstore-documents",
    )
    assert (settings.upload_form_seconds, settings.download_url_seconds) == (90, 300)
    assert settings.data_dir == Path("docstore-data")


def test_an_endpoint_url_means_that_endpoint() -> None:
    settings = Settings.from_env(
        {
            "DOCSTORE_AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
            "DOCSTORE_REGION": "ap-southeast-2",
            "DOCSTORE_TABLE_PREFIX": "prod",
            "DOCSTORE_REDIRECT_ORIGINS": "https://a.example, https://b.example/",
        }
    )

    assert (settings.aws_mode, settings.aws_endpoint_url) == ("endpoint", "http://127.0.0.1:4566")
    assert settings.bucket == "docstore-ap-southeast-2"
    assert settings.table_name("accounts") == "prod-accounts"
    assert settings.redirect_origins == ("https://a.example", "https://b.example")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DOCSTORE_AWS_MODE": "cloud"}, "DOCSTORE_AWS_MODE must be embedded, endpoint or aws"),
        ({"DOCSTORE_AWS_MODE": "endpoint"}, "DOCSTORE_AWS_MODE=endpoint needs DOCSTORE_AWS_ENDPOINT_URL"),
        ({"DOCSTORE_PORT": "x"}, "DOCSTORE_PORT must be a whole number, not 'x'"),
        ({"DOCSTORE_UPLOAD_FORM_SECONDS": "0"}, "DOCSTORE_UPLOAD_FORM_SECONDS must be at least 1"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env)

    assert str(raised.value) == message
