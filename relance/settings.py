"""Settings from environment variables; the worker and every CLI command read the same ones."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True, env_ignore_empty=True)

    temporal_address: str = Field("localhost:7233", validation_alias=_env("TEMPORAL_ADDRESS"))
    temporal_namespace: str = Field("default", validation_alias=_env("TEMPORAL_NAMESPACE"))
    # a name, never quoted text: it goes into visibility queries (`relance account sync-holds`)
    task_queue: str = Field("relance", pattern=r"^[A-Za-z0-9._-]{1,200}$", validation_alias=_env("RELANCE_TASK_QUEUE"))
    database_url: str = Field("sqlite:///var/relance.db", validation_alias=_env("RELANCE_DATABASE_URL"))
    email_backend: Literal["outbox", "sendgrid"] = Field("outbox", validation_alias=_env("RELANCE_EMAIL_BACKEND"))
    outbox_dir: Path = Field(Path("var/outbox"), validation_alias=_env("RELANCE_OUTBOX_DIR"))
    sendgrid_api_key: SecretStr | None = Field(None, validation_alias=_env("SENDGRID_API_KEY"))
    sendgrid_api_host: str = Field("https://api.sendgrid.com", validation_alias=_env("SENDGRID_API_HOST"))
    # SendGrid's Event Webhook: the verification key of its signed requests (Mail Settings), and the most a
    # batch may weigh (SendGrid batches events; a body over this is refused, 413)
    sendgrid_webhook_public_key: str | None = Field(None, validation_alias=_env("RELANCE_SENDGRID_WEBHOOK_PUBLIC_KEY"))
    sendgrid_events_max_bytes: int = Field(
        5 * 1024 * 1024, ge=1024, validation_alias=_env("RELANCE_SENDGRID_EVENTS_MAX_BYTES")
    )
    # Replies: every message carries a Reply-To of its own on this domain (r+<token>@domain, the domain whose MX
    # points at SendGrid's Inbound Parse), and Inbound Parse posts to /webhooks/sendgrid/inbound/<secret>. The
    # secret also signs the tokens. Without both, messages carry no Reply-To and the inbound door is closed.
    reply_domain: str | None = Field(None, validation_alias=_env("RELANCE_REPLY_DOMAIN"))
    sendgrid_inbound_secret: SecretStr | None = Field(
        None, min_length=16, validation_alias=_env("RELANCE_SENDGRID_INBOUND_SECRET")
    )
    sendgrid_inbound_max_bytes: int = Field(  # SendGrid posts up to 30 MB (a message with its attachments)
        30 * 1024 * 1024, ge=1024, validation_alias=_env("RELANCE_SENDGRID_INBOUND_MAX_BYTES")
    )
    # SMS: "outbox" writes each one as a file (embedded default), "twilio" sends through Twilio's official client
    sms_backend: Literal["outbox", "twilio"] = Field("outbox", validation_alias=_env("RELANCE_SMS_BACKEND"))
    sms_outbox_dir: Path = Field(Path("var/sms"), validation_alias=_env("RELANCE_SMS_OUTBOX_DIR"))
    twilio_account_sid: str | None = Field(None, validation_alias=_env("TWILIO_ACCOUNT_SID"))
    twilio_auth_token: SecretStr | None = Field(None, validation_alias=_env("TWILIO_AUTH_TOKEN"))
    twilio_from: str | None = Field(None, validation_alias=_env("TWILIO_FROM"))  # a number or a Messaging Service
    twilio_api_base: str = Field("https://api.twilio.com", validation_alias=_env("TWILIO_API_BASE"))
    # The address Twilio reaches `relance serve` at (https://…): status callbacks are asked there, and Twilio's
    # signature covers the URL it called, so the webhooks check it against this
    public_url: str | None = Field(None, validation_alias=_env("RELANCE_PUBLIC_URL"))
    # The debtor's own page (/portal/<link>): links signed with this secret, valid this many days
    portal_secret: SecretStr | None = Field(None, validation_alias=_env("RELANCE_PORTAL_SECRET"))
    portal_days: int = Field(60, ge=1, le=366, validation_alias=_env("RELANCE_PORTAL_DAYS"))
    # Card payment on the debtor's page through Stripe Checkout (absent without the secret key)
    stripe_secret_key: SecretStr | None = Field(None, validation_alias=_env("STRIPE_SECRET_KEY"))
    stripe_webhook_secret: SecretStr | None = Field(None, validation_alias=_env("STRIPE_WEBHOOK_SECRET"))
    stripe_api_base: str = Field("https://api.stripe.com", validation_alias=_env("STRIPE_API_BASE"))
    policy_dir: Path = Field(Path("policies"), validation_alias=_env("RELANCE_POLICY_DIR"))
    email_from: str = Field("relances@example.com", validation_alias=_env("RELANCE_EMAIL_FROM"))
    creditor_name: str = Field("Relance Demo SAS", validation_alias=_env("RELANCE_CREDITOR_NAME"))
    creditor_iban: str | None = Field(None, validation_alias=_env("RELANCE_CREDITOR_IBAN"))
    build_id: str = Field("relance-dev", validation_alias=_env("RELANCE_BUILD_ID"))
    creditor_address: str = Field(
        "10 rue de l'Exemple, 75001 Paris, France", validation_alias=_env("RELANCE_CREDITOR_ADDRESS")
    )
    creditor_siren: str | None = Field(None, validation_alias=_env("RELANCE_CREDITOR_SIREN"))
    rates_file: Path = Field(Path("rates/france.yaml"), validation_alias=_env("RELANCE_RATES_FILE"))
    # French e-invoicing: our address in the platforms' directory (scheme 0225), where the CDAR we owe ("212
    # Encaissée", with RELANCE_CREDITOR_SIREN set) are written, and the platform's API they are posted to
    einvoicing_address: str | None = Field(None, validation_alias=_env("RELANCE_EINVOICING_ADDRESS"))
    einvoicing_outbox_dir: Path = Field(Path("var/einvoicing"), validation_alias=_env("RELANCE_EINVOICING_OUTBOX_DIR"))
    einvoicing_platform_url: str | None = Field(None, validation_alias=_env("RELANCE_EINVOICING_PLATFORM_URL"))
    einvoicing_platform_token: SecretStr | None = Field(
        None, validation_alias=_env("RELANCE_EINVOICING_PLATFORM_TOKEN")
    )
    # the credential the platform itself presents (Bearer) to post statuses to POST /einvoicing/statuses
    einvoicing_inbound_secret: SecretStr | None = Field(
        None, validation_alias=_env("RELANCE_EINVOICING_INBOUND_SECRET")
    )
    # The ECB Data Portal's SDMX web service, where `relance rates update` reads the MRO rate history.
    ecb_api_url: str = Field("https://data-api.ecb.europa.eu/service", validation_alias=_env("RELANCE_ECB_API_URL"))
    documents_dir: Path = Field(Path("var/documents"), validation_alias=_env("RELANCE_DOCUMENTS_DIR"))
    letter_outbox_dir: Path = Field(Path("var/letters"), validation_alias=_env("RELANCE_LETTER_OUTBOX_DIR"))
    # SEPA direct debits presented again: the creditor identifier (ICS) and where pain.008 files go for the bank
    sepa_creditor_id: str | None = Field(None, validation_alias=_env("RELANCE_SEPA_CREDITOR_ID"))
    creditor_bic: str | None = Field(None, validation_alias=_env("RELANCE_CREDITOR_BIC"))
    sepa_dir: Path = Field(Path("var/sepa"), validation_alias=_env("RELANCE_SEPA_DIR"))
    # Our bank accounts (IBANs or the bank's ids, comma-separated): a statement of any other is refused. Empty:
    # the creditor's IBAN alone when it is set, else any account.
    bank_accounts: str = Field("", validation_alias=_env("RELANCE_BANK_ACCOUNTS"))
    # Workflows a worker keeps in memory between their tasks; one evicted is replayed from its history when it
    # wakes. A burst keeps two per case busy (the case and its customer's account) for several seconds each:
    # bench/burst.py measured 2,000 cases at 5.0, 6.4 and 7.6 cases/s with 1,000, 2,000 and 4,000 (peak RSS
    # 361, 534 and 727 MB) before generation v13, 7.6 to 8.4 cases/s with 1,000 since; with 1,000 a worker held
    # 10,000 sleeping cases at 381 MB. Never 0: a worker without a cache livelocks on local activities
    # (temporalio/sdk-rust#1482).
    worker_cache_size: int = Field(1000, ge=1, le=100_000, validation_alias=_env("RELANCE_WORKER_CACHE_SIZE"))
    # Payload encryption (relance/encryption.py): every payload Temporal stores is AES-GCM encrypted. The keys
    # come from the environment only, inline or from a file; `required` (the default) refuses to start
    # without them, `off` is for a throwaway local server.
    payload_encryption: Literal["required", "off"] = Field(
        "required", validation_alias=_env("RELANCE_PAYLOAD_ENCRYPTION")
    )
    codec_keys: SecretStr | None = Field(None, validation_alias=_env("RELANCE_CODEC_KEYS"))
    codec_keys_file: Path | None = Field(None, validation_alias=_env("RELANCE_CODEC_KEYS_FILE"))
    codec_key_id: str | None = Field(None, validation_alias=_env("RELANCE_CODEC_KEY_ID"))
    # `relance codec-server`: lets the Temporal Web UI (at these origins) decrypt payloads for a caller that
    # presents one of these bearer tokens (comma-separated; several, so that one can be rotated).
    codec_server_tokens: SecretStr | None = Field(None, validation_alias=_env("RELANCE_CODEC_SERVER_TOKENS"))
    codec_server_origins: str = Field("http://localhost:8233", validation_alias=_env("RELANCE_CODEC_SERVER_ORIGINS"))
    # Prometheus: the worker serves /metrics at this address (host:port) when it is set; the open cases per
    # stage are read from the ledger every `metrics_refresh_seconds`.
    metrics_address: str | None = Field(None, validation_alias=_env("RELANCE_METRICS_ADDRESS"))
    metrics_refresh_seconds: float = Field(30.0, gt=0, validation_alias=_env("RELANCE_METRICS_REFRESH_SECONDS"))
    # `json`: one JSON object per log line (case id, step, Temporal's workflow/run/activity ids), for shippers.
    log_format: Literal["text", "json"] = Field("text", validation_alias=_env("RELANCE_LOG_FORMAT"))
    # `relance serve`: requests a minute one API token may make (bursts up to as many)
    api_rate_per_minute: int = Field(600, ge=1, le=100_000, validation_alias=_env("RELANCE_API_RATE_PER_MINUTE"))
    # Every HTTP door (relance/doors.py): bodies counted while they arrive and cut off at these limits, a
    # deadline for a request's headers and for its body, connections and requests in flight per caller capped.
    http_max_json_bytes: int = Field(1024 * 1024, ge=1024, validation_alias=_env("RELANCE_HTTP_MAX_JSON_BYTES"))
    http_max_batch_bytes: int = Field(10 * 1024 * 1024, ge=1024, validation_alias=_env("RELANCE_HTTP_MAX_BATCH_BYTES"))
    codec_max_bytes: int = Field(8 * 1024 * 1024, ge=1024, validation_alias=_env("RELANCE_CODEC_MAX_BYTES"))
    http_header_seconds: float = Field(10.0, gt=0, le=300, validation_alias=_env("RELANCE_HTTP_HEADER_SECONDS"))
    http_body_seconds: float = Field(30.0, gt=0, le=3600, validation_alias=_env("RELANCE_HTTP_BODY_SECONDS"))
    http_max_connections: int = Field(200, ge=1, validation_alias=_env("RELANCE_HTTP_MAX_CONNECTIONS"))
    http_in_flight_per_caller: int = Field(8, ge=1, validation_alias=_env("RELANCE_HTTP_IN_FLIGHT_PER_TOKEN"))
    http_buffered_bytes: int = Field(
        64 * 1024 * 1024, ge=1024 * 1024, validation_alias=_env("RELANCE_HTTP_BUFFERED_BYTES")
    )
    # Demo clocks (a case day in seconds, a shifted start) run only on a worker started for demos:
    # in production a data feed must never be able to fast-forward dunning.
    demo_mode: bool = Field(False, validation_alias=_env("RELANCE_DEMO_MODE"))

    @property
    def template_dir(self) -> Path:
        return Path(__file__).parent / "rendering" / "templates"

    @property
    def our_bank_accounts(self) -> frozenset[str]:
        """Accounts a statement may be for, compact and upper-case; empty: any."""
        listed = [a for a in self.bank_accounts.split(",") if a.strip()] or (
            [self.creditor_iban] if self.creditor_iban else []
        )
        return frozenset("".join(a.split()).upper() for a in listed)


class SettingsError(ValueError):
    """An environment variable holds a value the settings cannot take; the message names the variable."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as err:
        problems = []
        for error in err.errors(include_url=False):
            field = Settings.model_fields.get(str(error["loc"][0]))
            alias = field.validation_alias if field is not None else None
            name = alias.choices[0] if isinstance(alias, AliasChoices) else str(error["loc"][0])
            problems.append(f"{name}: {error['msg']}")
        raise SettingsError("invalid setting " + "; ".join(problems)) from None
