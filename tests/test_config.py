"""Settings come from the environment, then the BIOTRACKER_CONFIG file, then defaults."""

from pathlib import Path

import pytest

from biotracker.config import load_settings
from biotracker.errors import ConfigError


def test_defaults_put_everything_under_var(tmp_path):
    settings = load_settings({}, home=str(tmp_path))
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'biotracker.db'}"
    assert settings.raw_dir == tmp_path / "raw"
    assert settings.replay_dir is None


def test_environment_overrides_the_config_file(tmp_path):
    config = tmp_path / "biotracker.toml"
    config.write_text('database_url = "sqlite:///from-file.db"\nhttp_retries = 5\n')
    env = {"BIOTRACKER_CONFIG": str(config), "BIOTRACKER_DATABASE_URL": "sqlite:///from-env.db"}
    settings = load_settings(env)
    assert settings.database_url == "sqlite:///from-env.db"
    assert settings.http_retries == 5


def test_bad_values_and_unknown_keys_say_what_to_fix(tmp_path):
    with pytest.raises(ConfigError, match="BIOTRACKER_HTTP_RETRIES"):
        load_settings({"BIOTRACKER_HTTP_RETRIES": "many"})
    config = tmp_path / "c.toml"
    config.write_text("databse_url = 'x'\n")
    with pytest.raises(ConfigError, match="unknown keys"):
        load_settings({"BIOTRACKER_CONFIG": str(config)})
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings({"BIOTRACKER_CONFIG": str(tmp_path / "missing.toml")})


def test_replay_dir_is_a_path():
    assert load_settings({"BIOTRACKER_REPLAY_DIR": "/tmp/rec"}).replay_dir == Path("/tmp/rec")
