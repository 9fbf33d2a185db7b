"""Settings: sources in order, one clear error per bad setting, secrets kept out of repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.config import load_settings
from ledger.errors import ConfigError


def test_later_sources_win(tmp_path: Path) -> None:
    file = tmp_path / "ledger.toml"
    file.write_text("[ledger]\nbatch_max_size = 10\nport = 9000\n")
    settings = load_settings(
        file=file, env={"LEDGER_PORT": "9100"}, overrides={"batch_max_age_s": 2.5}
    )
    assert (settings.batch_max_size, settings.port, settings.batch_max_age_s) == (10, 9100, 2.5)


def test_embedded_default_uses_sqlite_in_the_data_dir() -> None:
    settings = load_settings(env={}, overrides={"data_dir": "/srv/ledger"})
    assert settings.embedded_chain
    assert settings.database_url() == "sqlite+aiosqlite:////srv/ledger/ledger.db"


@pytest.mark.parametrize(
    ("env", "field"),
    [
        ({"LEDGER_PORT": "http"}, "port"),
        ({"LEDGER_PORT": "70000"}, "port"),
        ({"LEDGER_BATCH_MAX_SIZE": "0"}, "batch_max_size"),
        ({"LEDGER_DB_URL": "mysql://x"}, "db_url"),
        ({"LEDGER_RPC_URL": "http://node:8545"}, "anchorer_key"),
        ({"LEDGER_LOG_LEVEL": "loud"}, "log_level"),
        ({"LEDGER_ANCHOR_DEADLINE_S": "1", "LEDGER_BATCH_MAX_AGE_S": "5"}, "anchor_deadline_s"),
        ({"LEDGER_SERVE_PROCESSES": "0"}, "serve_processes"),
        ({"LEDGER_SERVE_PROCESSES": "65"}, "serve_processes"),
        ({"LEDGER_INTAKE_WORKERS": "-1"}, "intake_workers"),
        ({"LEDGER_EVIDENCE_DEPTH": "-1"}, "evidence_depth"),
        ({"LEDGER_EVIDENCE_DEPTH": "1000001"}, "evidence_depth"),
        ({"LEDGER_WEBHOOK_TIMEOUT_S": "0"}, "webhook_timeout_s"),
        ({"LEDGER_WEBHOOK_RETRY_FOR_S": "-1"}, "webhook_retry_for_s"),
        ({"LEDGER_WEBHOOK_CONCURRENCY": "0"}, "webhook_concurrency"),
        ({"LEDGER_WEBHOOK_URLS": "intranet"}, "webhook_urls"),
    ],
)
def test_bad_setting_names_itself(env: dict[str, str], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env=env)
    assert caught.value.field == field


def test_webhook_urls_default_to_public_on_an_external_chain() -> None:
    assert load_settings(env={}).webhooks.urls == "any"
    external = {"LEDGER_RPC_URL": "http://node:8545", "LEDGER_ANCHORER_KEY": "0x" + "11" * 32}
    assert load_settings(env=external).webhooks.urls == "public"
    assert load_settings(env={**external, "LEDGER_WEBHOOK_URLS": "any"}).webhooks.urls == "any"


def test_unknown_setting_in_file(tmp_path: Path) -> None:
    file = tmp_path / "ledger.toml"
    file.write_text("batch_size = 1\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(file=file, env={})
    assert caught.value.field == "batch_size"


def test_anchorer_key_never_in_repr() -> None:
    settings = load_settings(
        env={"LEDGER_RPC_URL": "http://node:8545", "LEDGER_ANCHORER_KEY": "0xsecret"}
    )
    assert "secret" not in repr(settings)
    assert settings.read_anchorer_key() == "0xsecret"


def test_intake_workers_may_be_zero_for_checks_in_the_serving_process() -> None:
    assert load_settings(env={"LEDGER_INTAKE_WORKERS": "0"}).intake_workers == 0


def test_evidence_depth_reaches_the_anchoring_section() -> None:
    # The embedded chain is final to nobody: its anchors' confirmations are the depth.
    assert load_settings(env={}).anchoring.evidence_depth == 2
    external = {"LEDGER_RPC_URL": "http://127.0.0.1:1", "LEDGER_DEPLOYMENT_FILE": "d.json",
                "LEDGER_ANCHORER_KEY": "0x" + "11" * 32}
    assert load_settings(env=external).anchoring.evidence_depth == 0  # the finalized block
    assert load_settings(env={"LEDGER_EVIDENCE_DEPTH": "12"}).anchoring.evidence_depth == 12
