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


def test_observability_is_on_by_default_and_cloudwatch_off() -> None:
    settings = Settings.from_env({})

    assert (settings.metrics_enabled, settings.log_format, settings.access_log) == (True, "json", True)
    assert (settings.cloudwatch_namespace, settings.cloudwatch_interval_seconds) == (None, 60.0)


def test_observability_variables_are_read() -> None:
    settings = Settings.from_env(
        {
            "DOCSTORE_METRICS": "false",
            "DOCSTORE_LOG_FORMAT": "TEXT",
            "DOCSTORE_ACCESS_LOG": "no",
            "DOCSTORE_CLOUDWATCH_NAMESPACE": " DocStore/Prod ",
            "DOCSTORE_CLOUDWATCH_INTERVAL_SECONDS": "15",
        }
    )

    assert (settings.metrics_enabled, settings.log_format, settings.access_log) == (False, "text", False)
    assert (settings.cloudwatch_namespace, settings.cloudwatch_interval_seconds) == ("DocStore/Prod", 15.0)


def test_the_load_limits_of_the_workers_and_the_embedded_aws_are_read() -> None:
    defaults = Settings.from_env({})
    settings = Settings.from_env(
        {"DOCSTORE_WORKER_CONCURRENCY": "4", "DOCSTORE_EMBEDDED_THREADS": "8", "DOCSTORE_EMBEDDED_CONNECTIONS": "50"}
    )

    assert (defaults.worker_concurrency, defaults.embedded_threads, defaults.embedded_connections) == (32, 32, 1000)
    assert (settings.worker_concurrency, settings.embedded_threads, settings.embedded_connections) == (4, 8, 50)


def test_the_rate_and_concurrency_limits_are_read() -> None:
    names = (
        "HASHING_THREADS",
        "HASHING_QUEUE",
        "AUTH_ATTEMPTS_PER_IP",
        "AUTH_ATTEMPTS_PER_EMAIL",
        "AUTH_WINDOW_SECONDS",
        "WS_CONNECTIONS_PER_ACCOUNT",
        "WS_SUBSCRIPTIONS_PER_CONNECTION",
    )
    defaults = Settings.from_env({})
    settings = Settings.from_env({f"DOCSTORE_{name}": str(number) for number, name in enumerate(names, start=3)})

    assert [getattr(defaults, name.lower()) for name in names] == [2, 16, 10, 5, 60, 10, 20]
    assert [getattr(settings, name.lower()) for name in names] == [3, 4, 5, 6, 7, 8, 9]


def test_the_heap_is_reclaimed_once_its_frozen_objects_doubled_unless_told_otherwise() -> None:
    assert Settings.from_env({}).heap_reclaim_percent == 100
    assert Settings.from_env({"DOCSTORE_HEAP_RECLAIM_PERCENT": "50"}).heap_reclaim_percent == 50
    assert Settings.from_env({"DOCSTORE_HEAP_RECLAIM_PERCENT": "0"}).heap_reclaim_percent == 0


def test_staging_objects_are_kept_a_day_unless_told_otherwise() -> None:
    assert Settings.from_env({}).staging_days == 1
    assert Settings.from_env({"DOCSTORE_STAGING_DAYS": "7"}).staging_days == 7


def test_thumbnails_are_256_and_1024_px_made_within_20_s_unless_told_otherwise() -> None:
    defaults = Settings.from_env({})
    settings = Settings.from_env(
        {"DOCSTORE_THUMBNAIL_SMALL_PX": "128", "DOCSTORE_THUMBNAIL_LARGE_PX": "128", "DOCSTORE_THUMBNAIL_SECONDS": "5"}
    )

    names = ("thumbnail_small_px", "thumbnail_large_px", "thumbnail_seconds")
    assert [getattr(defaults, name) for name in names] == [256, 1024, 20]
    assert [getattr(settings, name) for name in names] == [128, 128, 5]


def test_multipart_uploads_take_16_mib_parts_and_a_day_unless_told_otherwise() -> None:
    defaults = Settings.from_env({})
    settings = Settings.from_env(
        {
            "DOCSTORE_MULTIPART_PART_BYTES": str(5 * 1024 * 1024),
            "DOCSTORE_MULTIPART_SIGN_MAX_PARTS": "10",
            "DOCSTORE_MULTIPART_PART_URL_SECONDS": "60",
            "DOCSTORE_MULTIPART_UPLOAD_SECONDS": "3600",
        }
    )

    names = (
        "multipart_part_bytes",
        "multipart_sign_max_parts",
        "multipart_part_url_seconds",
        "multipart_upload_seconds",
    )
    assert [getattr(defaults, name) for name in names] == [16 * 1024 * 1024, 100, 900, 86400]
    assert [getattr(settings, name) for name in names] == [5 * 1024 * 1024, 10, 60, 3600]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DOCSTORE_MULTIPART_PART_BYTES": "1048576"}, "DOCSTORE_MULTIPART_PART_BYTES must be at least 5242880"),
        ({"DOCSTORE_HASHING_THREADS": "0"}, "DOCSTORE_HASHING_THREADS must be at least 1"),
        ({"DOCSTORE_STAGING_DAYS": "0"}, "DOCSTORE_STAGING_DAYS must be at least 1"),
        ({"DOCSTORE_AUTH_WINDOW_SECONDS": "0"}, "DOCSTORE_AUTH_WINDOW_SECONDS must be at least 1"),
        ({"DOCSTORE_WORKER_CONCURRENCY": "0"}, "DOCSTORE_WORKER_CONCURRENCY must be at least 1"),
        ({"DOCSTORE_EMBEDDED_THREADS": "many"}, "DOCSTORE_EMBEDDED_THREADS must be a whole number, not 'many'"),
        ({"DOCSTORE_AWS_MODE": "cloud"}, "DOCSTORE_AWS_MODE must be embedded, endpoint or aws"),
        ({"DOCSTORE_AWS_MODE": "endpoint"}, "DOCSTORE_AWS_MODE=endpoint needs DOCSTORE_AWS_ENDPOINT_URL"),
        ({"DOCSTORE_PORT": "x"}, "DOCSTORE_PORT must be a whole number, not 'x'"),
        ({"DOCSTORE_UPLOAD_FORM_SECONDS": "0"}, "DOCSTORE_UPLOAD_FORM_SECONDS must be at least 1"),
        ({"DOCSTORE_LOG_FORMAT": "xml"}, "DOCSTORE_LOG_FORMAT must be json or text"),
        ({"DOCSTORE_METRICS": "maybe"}, "DOCSTORE_METRICS must be true or false, not 'maybe'"),
        ({"DOCSTORE_CLOUDWATCH_INTERVAL_SECONDS": "0"}, "DOCSTORE_CLOUDWATCH_INTERVAL_SECONDS must be at least 1"),
        ({"DOCSTORE_THUMBNAIL_SMALL_PX": "8"}, "DOCSTORE_THUMBNAIL_SMALL_PX must be at least 16"),
        (
            {"DOCSTORE_THUMBNAIL_SMALL_PX": "512", "DOCSTORE_THUMBNAIL_LARGE_PX": "256"},
            "DOCSTORE_THUMBNAIL_SMALL_PX must be at most DOCSTORE_THUMBNAIL_LARGE_PX",
        ),
        ({"DOCSTORE_THUMBNAIL_SECONDS": "0"}, "DOCSTORE_THUMBNAIL_SECONDS must be at least 1"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env)

    assert str(raised.value) == message


def test_the_attempts_of_each_kind_of_race_are_read() -> None:
    assert (Settings.from_env({}).plan_race_attempts, Settings.from_env({}).quota_level_attempts) == (10, 5)
    settings = Settings.from_env({"DOCSTORE_PLAN_RACE_ATTEMPTS": "4", "DOCSTORE_QUOTA_LEVEL_ATTEMPTS": "2"})

    assert (settings.plan_race_attempts, settings.quota_level_attempts) == (4, 2)
    with pytest.raises(SettingsError, match="DOCSTORE_PLAN_RACE_ATTEMPTS must be at least 1"):
        Settings.from_env({"DOCSTORE_PLAN_RACE_ATTEMPTS": "0"})


def test_changes_are_kept_30_days_unless_set() -> None:
    assert Settings.from_env({}).change_retention_days == 30
    assert Settings.from_env({"DOCSTORE_CHANGE_RETENTION_DAYS": "90"}).change_retention_days == 90
    assert Settings.from_env({"DOCSTORE_CHANGE_RETENTION_DAYS": "30"}).change_retention_days == 30


@pytest.mark.parametrize("days", ["29", "1", "0", "-30"])
def test_changes_kept_less_than_30_days_are_refused(days: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"DOCSTORE_CHANGE_RETENTION_DAYS": days})

    assert str(raised.value) == "DOCSTORE_CHANGE_RETENTION_DAYS must be at least 30"


def test_one_region_by_default_at_its_own_public_url() -> None:
    settings = Settings.from_env({"DOCSTORE_PORT": "9000"})

    assert settings.region_endpoints == {"us-west-2": "http://127.0.0.1:9000"}
    assert settings.peer_regions == ()


def test_regions_name_every_region_with_its_endpoint() -> None:
    settings = Settings.from_env(
        {
            "DOCSTORE_REGION": "ap-southeast-2",
            "DOCSTORE_PUBLIC_URL": "https://ignored.example/",
            "DOCSTORE_REGIONS": "us-west-2=https://us.example/ , ap-southeast-2=https://ap.example",
        }
    )

    assert settings.region_endpoints == {"us-west-2": "https://us.example", "ap-southeast-2": "https://ap.example"}
    assert settings.peer_regions == ("us-west-2",)
    assert settings.endpoint == "https://ignored.example"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"DOCSTORE_REGIONS": "ap-southeast-2=http://127.0.0.1:8001"},
            "DOCSTORE_REGIONS must name this instance's region, us-west-2",
        ),
        (
            {"DOCSTORE_REGIONS": "us-west-2=http://a,us-west-2=http://b"},
            "DOCSTORE_REGIONS names us-west-2 twice",
        ),
        (
            {"DOCSTORE_REGIONS": "us-west-2"},
            "DOCSTORE_REGIONS: 'us-west-2' is not region=http(s)://endpoint",
        ),
        (
            {"DOCSTORE_REGIONS": "us-west-2=ftp://a"},
            "DOCSTORE_REGIONS: 'us-west-2=ftp://a' is not region=http(s)://endpoint",
        ),
        ({"DOCSTORE_REGION": "US.West"}, "DOCSTORE_REGION must be a region name like us-west-2, not 'US.West'"),
        ({"DOCSTORE_PUBLIC_URL": "api.example"}, "DOCSTORE_PUBLIC_URL must start with http:// or https://"),
    ],
)
def test_bad_region_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env)

    assert str(raised.value) == message
