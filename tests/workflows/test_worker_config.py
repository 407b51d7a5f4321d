"""The worker's own settings: how many workflows it keeps in memory between their tasks, and the providers' credentials
its backends need."""

import pytest
from pydantic import ValidationError

from relance.settings import Settings, SettingsError, get_settings
from relance.worker_runtime import WorkerConfigError, build_worker


async def test_the_worker_keeps_as_many_workflows_in_memory_as_configured(env, settings):
    worker = build_worker(env.client, settings.model_copy(update={"worker_cache_size": 123}))
    assert worker.config()["max_cached_workflows"] == 123


@pytest.mark.parametrize(("value", "expected"), [("2500", 2500), ("", 1000)])
def test_the_cache_size_comes_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("RELANCE_WORKER_CACHE_SIZE", value)
    get_settings.cache_clear()
    try:
        assert get_settings().worker_cache_size == expected
    finally:
        get_settings.cache_clear()


def test_a_cache_size_out_of_range_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("RELANCE_WORKER_CACHE_SIZE", "0")  # no cache: livelocks on local activities
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError, match="RELANCE_WORKER_CACHE_SIZE"):
            get_settings()
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize(
    ("backends", "said"),
    [
        (
            {"email_backend": "sendgrid", "sendgrid_api_key": None},
            "RELANCE_EMAIL_BACKEND=sendgrid needs SENDGRID_API_KEY",
        ),
        (
            {"sms_backend": "twilio", "twilio_account_sid": "AC1", "twilio_auth_token": None},
            "the twilio SMS backend needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM",
        ),
    ],
)
async def test_a_provider_backend_without_its_credentials_stops_the_worker_naming_them(env, settings, backends, said):
    with pytest.raises(WorkerConfigError) as refused:
        build_worker(env.client, settings.model_copy(update=backends))
    assert str(refused.value) == said


@pytest.mark.parametrize("queue", ["relance' OR TaskQueue != '", "a b", "", "x" * 201])
def test_a_task_queue_that_is_not_a_plain_name_is_refused_naming_the_setting(queue):
    """The task queue goes into visibility queries (`relance account sync-holds`): a name, never quoted text."""
    with pytest.raises(ValidationError, match=r"RELANCE_TASK_QUEUE|task_queue"):
        Settings(task_queue=queue)
    assert Settings(task_queue="relance-prod_2.eu").task_queue == "relance-prod_2.eu"
