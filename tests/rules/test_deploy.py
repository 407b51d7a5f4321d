"""The deployable stack (issue: production), checked without a Docker engine (none runs here): the compose files
parsed, their services, health checks and start order, every setting the code reads passed, no secret written
in them, and the values `.env.example` would give accepted by the settings."""

import re
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices

from relance.settings import Settings
from tests.builders import ROOT

PRODUCTION = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
DEV = yaml.safe_load((ROOT / "compose.dev.yml").read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = PRODUCTION["services"]
RELANCE_SERVICES = ("relance-setup", "worker", "api", "codec-server")
ONE_SHOTS = ("temporal-schema", "temporal-namespace", "relance-setup")
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?([-?])([^}]*))?\}")
SECRET_NAME = re.compile(r"PASSWORD|PWD|KEY|TOKEN|SECRET")
NOT_SECRETS = ("RELANCE_CODEC_KEYS_FILE", "RELANCE_CODEC_KEY_ID", "TEMPORAL_CODEC_PASS_ACCESS_TOKEN")  # names, flags


def setting_names() -> list[str]:
    names = []
    for field in Settings.model_fields.values():
        assert isinstance(field.validation_alias, AliasChoices)
        names.append(str(field.validation_alias.choices[0]))
    return names


def env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def interpolate(text: str, values: dict[str, str]) -> str:
    """What `docker compose` makes of `${X}`, `${X:-default}` and `${X:?message}` (and `$$`)."""

    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        value = values.get(name, "")
        if kind == "-" and not value:
            return rest
        if kind == "?" and not value:
            raise AssertionError(f"{name} is required: {rest}")
        return value

    return VARIABLE.sub(one, text).replace("$$", "$")


def test_the_production_stack_has_its_services_and_no_deprecated_image():
    assert set(SERVICES) == {
        "postgresql", "temporal-schema", "temporal", "temporal-namespace", "relance-setup", "worker", "api",
        "codec-server", "temporal-ui", "prometheus",
    }  # fmt: skip
    images = {name: str(service.get("image", "")) for name, service in SERVICES.items()}
    assert not any("auto-setup" in image for image in images.values())
    assert images["temporal-schema"].startswith("temporalio/admin-tools:")
    assert images["temporal-namespace"].startswith("temporalio/admin-tools:")
    assert images["temporal"].startswith("temporalio/server:")
    assert images["temporal-ui"].startswith("temporalio/ui:")
    assert all(SERVICES[name]["build"] == "." for name in RELANCE_SERVICES)
    assert SERVICES["worker"]["deploy"]["replicas"] == 2
    assert SERVICES["worker"]["command"] == ["relance", "worker"]
    assert "relance setup" in " ".join(SERVICES["relance-setup"]["command"])
    assert SERVICES["api"]["command"][:2] == ["relance", "serve"]


def test_every_service_is_checked_or_runs_once_and_starts_after_what_it_needs():
    for name, service in SERVICES.items():
        if name in ONE_SHOTS:
            assert service["restart"] == "no" and "healthcheck" not in service, name
        else:
            assert service["restart"] == "unless-stopped", name
            if name != "prometheus":
                assert service["healthcheck"]["test"], name
    order = {name: service.get("depends_on", {}) for name, service in SERVICES.items()}
    for name, needs in order.items():
        for needed, how in needs.items():
            condition = how["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in SERVICES[needed], (name, needed)
            elif condition == "service_completed_successfully":
                assert needed in ONE_SHOTS, (name, needed)
    assert order["temporal-schema"] == {"postgresql": {"condition": "service_healthy"}}
    assert order["temporal"] == {"temporal-schema": {"condition": "service_completed_successfully"}}
    assert order["temporal-namespace"] == {"temporal": {"condition": "service_healthy"}}
    assert order["relance-setup"]["temporal-namespace"] == {"condition": "service_completed_successfully"}
    assert order["worker"] == {"relance-setup": {"condition": "service_completed_successfully"}}
    assert set(order["temporal-ui"]) == {"temporal", "codec-server"}

    def reaches(start: str, seen: tuple[str, ...] = ()) -> None:
        assert start not in seen, f"a cycle: {' -> '.join((*seen, start))}"
        for needed in order[start]:
            reaches(needed, (*seen, start))

    for name in SERVICES:
        reaches(name)


def test_every_setting_the_code_reads_is_passed_to_every_relance_service():
    names = setting_names()
    for name in RELANCE_SERVICES:
        environment = SERVICES[name]["environment"]
        assert sorted(set(names) - set(environment)) == [], name
        assert environment is SERVICES["worker"]["environment"]  # one anchor: the same settings everywhere
    environment = SERVICES["worker"]["environment"]
    assert environment["RELANCE_PAYLOAD_ENCRYPTION"] == "required" and environment["RELANCE_LOG_FORMAT"] == "json"
    assert environment["RELANCE_DATABASE_URL"].startswith("postgresql+psycopg://relance:${RELANCE_DB_PASSWORD")
    ui = SERVICES["temporal-ui"]["environment"]
    assert ui["TEMPORAL_CODEC_ENDPOINT"].startswith("${CODEC_SERVER_PUBLIC_URL")
    assert environment["RELANCE_CODEC_SERVER_ORIGINS"] == ui["TEMPORAL_CORS_ORIGINS"]


def all_environments(compose: dict[str, Any]) -> list[tuple[str, str, str]]:
    found = []
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            found.append((name, str(key), str(value)))
    return found


@pytest.mark.parametrize("compose", [PRODUCTION, DEV], ids=["production", "dev"])
def test_no_secret_is_written_in_a_compose_file(compose):
    for service, key, value in all_environments(compose):
        if SECRET_NAME.search(key) and key not in NOT_SECRETS:
            assert VARIABLE.fullmatch(value), f"{service}: {key} must come from the environment, not {value!r}"
        for match in re.finditer(r"://[^:/]+:([^@]+)@", value):
            assert VARIABLE.fullmatch(match.group(1)), f"{service}: {key} holds a password"


def test_the_env_example_names_every_variable_the_stack_needs_and_the_settings_accept_them():
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    required = {name for name, kind, _ in VARIABLE.findall(text) if kind == "?"}
    example = env_example()
    assert sorted(required - set(example)) == []
    used = {name for name, _, _ in VARIABLE.findall(text)}
    assert sorted(set(example) - used) == []
    filled = {name: value or f"filled-{name.lower()}" for name, value in example.items()}
    filled["RELANCE_CODEC_KEYS"] = "2026-11:" + "A" * 43 + "="
    environment = {
        key: interpolate(str(value), filled) for key, value in SERVICES["worker"]["environment"].items()
    }  # fmt: skip
    settings = Settings.model_validate({k: v for k, v in environment.items() if v != ""})
    assert settings.database_url == "postgresql+psycopg://relance:change-me@postgresql:5432/relance"
    assert (settings.metrics_address, settings.payload_encryption) == ("0.0.0.0:9464", "required")
    with pytest.raises(AssertionError, match="SENDGRID_API_KEY is required"):
        interpolate(str(SERVICES["worker"]["environment"]["SENDGRID_API_KEY"]), {})


def test_the_databases_and_the_image():
    script = (ROOT / "deploy" / "postgres" / "create-databases.sh").read_text(encoding="utf-8")
    assert re.findall(r"CREATE DATABASE (\w+)", script) == ["temporal", "temporal_visibility", "relance"]
    assert "PASSWORD :'" in script  # passed as psql variables from the environment, never written
    mounted = SERVICES["postgresql"]["volumes"][1]
    assert mounted.startswith("./deploy/postgres/create-databases.sh:/docker-entrypoint-initdb.d/")
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for package in ("relance", "workflows", "activities", "starter", "policies", "rates"):
        assert f"COPY {package} ./{package}" in dockerfile
    assert "USER relance" in dockerfile and 'CMD ["relance", "worker"]' in dockerfile
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    assert prometheus["scrape_configs"][0]["dns_sd_configs"][0] == {"names": ["worker"], "type": "A", "port": 9464}


def test_the_dev_stack_runs_the_dev_server_and_one_worker():
    services = DEV["services"]
    assert set(services) == {"temporal", "worker", "codec-server"}
    assert services["temporal"]["command"][:2] == ["server", "start-dev"]
    assert "--ui-codec-endpoint" in services["temporal"]["command"]
    assert services["worker"]["depends_on"] == {"temporal": {"condition": "service_healthy"}}
    assert services["worker"]["environment"]["RELANCE_CODEC_KEYS"].startswith("${RELANCE_CODEC_KEYS:?")
