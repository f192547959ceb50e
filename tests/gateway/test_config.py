"""Settings: defaults, file, environment and overrides, each documented in README."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from gateway.config import SETTINGS_DOC, ConfigError, ServiceToken, Settings, load_settings

REPO = Path(__file__).resolve().parents[2]


def test_defaults_give_the_embedded_sqlite_setup() -> None:
    settings = load_settings(environ={})
    assert settings.database_url == "sqlite+aiosqlite:///data/mlmeta.db"
    assert settings.catalog_folder == "data/catalog"
    assert settings.allow_anonymous is False


def test_environment_overrides_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "mlmeta.toml"
    config.write_text('[mlmeta]\nport = 9000\nlog_level = "debug"\nmax_depth = 7\n')
    settings = load_settings(environ={"MLMETA_PORT": "9100"}, config_file=config)
    assert (settings.port, settings.log_level, settings.max_depth) == (9100, "debug", 7)


def test_backstage_url_derives_jwks_and_userinfo() -> None:
    settings = load_settings(environ={"MLMETA_BACKSTAGE_URL": "https://portal.example.com/"})
    assert settings.jwks_url == "https://portal.example.com/api/auth/.well-known/jwks.json"
    assert settings.userinfo_url == "https://portal.example.com/api/auth/v1/userinfo"


def test_service_tokens_are_kept_hashed() -> None:
    plain = "a-very-long-service-token"
    settings = load_settings(environ={"MLMETA_SERVICE_TOKENS": f"ci:token:{plain}:write"})
    assert settings.service_tokens == (
        ServiceToken("ci", hashlib.sha256(plain.encode()).hexdigest(), can_write=True),
    )
    assert plain not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MLMETA_PORT", "eighty"),
        ("MLMETA_ALLOW_ANONYMOUS", "maybe"),
        ("MLMETA_SERVICE_TOKENS", "ci:sha256:nothex"),
        ("MLMETA_SERVICE_TOKENS", "ci:token:short"),
        ("MLMETA_CATALOG_BACKEND", "ldap"),
    ],
)
def test_bad_values_name_the_setting(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=r"MLMETA_|service token"):
        load_settings(environ={name: value})


def test_annotation_keys_are_comma_separated_lists_that_replace_the_defaults() -> None:
    environ = {"MLMETA_ANNOTATIONS_STEP_FUNCTIONS": " portal.example.com/sfn , mlmeta.io/x "}
    settings = load_settings(environ=environ)
    assert settings.annotations_step_functions == ("portal.example.com/sfn", "mlmeta.io/x")
    assert "aws.amazon.com/step-functions-state-machine-arn" in (
        load_settings(environ={}).annotations_step_functions
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("MLMETA_ANNOTATIONS_DATASET_URI", " , "), ("MLMETA_BACKSTAGE_BATCH_SIZE", "0")],
)
def test_an_empty_key_list_or_batch_is_refused(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings(environ={name: value})


def test_unknown_key_in_config_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "mlmeta.toml"
    config.write_text("[mlmeta]\nprot = 9000\n")
    with pytest.raises(ConfigError, match="prot"):
        load_settings(environ={}, config_file=config)


def test_every_setting_is_documented_in_readme() -> None:
    readme = (REPO / "README.md").read_text()
    names = [f.name for f in dataclasses.fields(Settings)]
    assert sorted(SETTINGS_DOC) == sorted(names)
    for name in names:
        assert f"`MLMETA_{name.upper()}`" in readme, name
