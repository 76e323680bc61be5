"""Target URLs: libpq forms, masking, and clear connection errors."""

from pathlib import Path

import pytest

from guardian.errors import ConfigError, TargetError
from guardian.targets import Target, database_url, mask_url


def test_libpq_url_uses_psycopg3() -> None:
    assert database_url("postgresql://u@h:5433/db").drivername == "postgresql+psycopg"
    assert database_url("postgres://u@h/db").drivername == "postgresql+psycopg"


def test_full_sqlalchemy_url_is_kept() -> None:
    url = database_url("postgresql+psycopg://u@h/db")
    assert url.drivername == "postgresql+psycopg"


def test_password_is_masked_everywhere() -> None:
    url = database_url("postgresql://user:s3cret@h/db")
    assert "s3cret" not in mask_url(url)
    assert mask_url("postgresql://user:s3cret@h/db") == "postgresql://user:***@h/db"


@pytest.mark.parametrize("text", ["not a url", "mysql://u:s3cret@h/db", ""])
def test_bad_urls_are_refused_without_echoing_passwords(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        database_url(text)
    assert "s3cret" not in str(info.value)


def test_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    target = Target.from_url(f"sqlite:///{tmp_path / 'absent.db'}")
    with pytest.raises(TargetError, match="no SQLite database"), target.connect():
        pass
    assert not (tmp_path / "absent.db").exists()


def test_unreachable_server_names_host_and_port_not_password() -> None:
    target = Target.from_url("postgresql://u:s3cret@127.0.0.1:9/db")
    with pytest.raises(TargetError) as info, target.connect():
        pass
    message = str(info.value)
    assert "127.0.0.1:9" in message
    assert "s3cret" not in message
    assert info.value.exit_code == 3


def test_reaches_a_real_server(pg_url: str) -> None:
    target = Target.from_url(pg_url)
    with target.connect() as conn:
        assert conn.exec_driver_sql("select 1").scalar() == 1
    assert target.name == pg_url.rsplit("/", 1)[1]
    target.dispose()


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("postgresql://u@h/db?password=QSECRETQ", "QSECRETQ"),
        ("postgresql://u:pw1@h/db?sslmode=require&password=QSECRETQ", "QSECRETQ"),
        ("host=h user=u password=QSECRETQ dbname=db", "QSECRETQ"),
        ("host=h password='QSECRETQ x' dbname=db", "QSECRETQ"),
        ("u:QSECRETQ@127.0.0.1/db", "QSECRETQ"),
    ],
)
def test_every_form_of_password_is_masked(text: str, secret: str) -> None:
    assert secret not in mask_url(text)
    assert "***" in mask_url(text)


def test_urls_without_secrets_are_shown_as_they_are() -> None:
    for text in ("postgresql://u@h/db", "sqlite:///x.db", "sqlite:////abs/x.db"):
        assert mask_url(text) == text


def test_password_in_query_is_masked_in_parsed_urls() -> None:
    url = database_url("postgresql://u@h/db?password=QSECRETQ")
    assert mask_url(url) == "postgresql+psycopg://u@h/db?password=***"


def test_libpq_connection_strings_are_taken(pg_url: str) -> None:
    database = pg_url.rsplit("/", 1)[1]
    text = f"host=127.0.0.1 port=5432 user=postgres dbname={database}"
    url = database_url(text)
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database) == ("127.0.0.1", 5432, database)
    target = Target.from_url(text)
    with target.connect() as conn:
        assert conn.exec_driver_sql("select current_database()").scalar() == database
    target.dispose()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("postgresql+psycopg2://u@h/db", "driver 'psycopg2'"),
        ("postgresql+asyncpg://u@h/db", "driver 'asyncpg'"),
        ("postgresql://u:s3cret@h:99999/db", "port 99999 is out of range"),
    ],
)
def test_unusable_urls_are_configuration_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        database_url(text)
    assert message in str(info.value)
    assert "s3cret" not in str(info.value)
    assert info.value.exit_code == 2


def test_a_setting_the_driver_refuses_is_a_configuration_error(pg_url: str) -> None:
    target = Target.from_url(pg_url + "?sslmode=bogus")
    with pytest.raises(ConfigError) as info, target.connect():
        pass
    assert "bad connection setting" in str(info.value)
    assert "sslmode" in str(info.value)
    assert info.value.exit_code == 2
