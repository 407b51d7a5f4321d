"""The ledger: what happened to every invoice, in SQL (SQLite by default, PostgreSQL in production).

Written only by activities, idempotently (natural keys: case + sequence, case + payment reference,
case + step); read by reports and the work queue. Money is stored as integers scaled by 10^4 so
that sums in SQL stay exact on every database.
"""

from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    BindParameter,
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Dialect,
    Engine,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

MONEY_SCALE = Decimal(10_000)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Money(TypeDecorator[Decimal]):
    """A Decimal stored exactly as an integer number of 1/10000 units (covers every ISO 4217 exponent)."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        if value is None:
            return None
        scaled = value * MONEY_SCALE
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more than 4 decimals")
        return int(scaled)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else from_minor(value)


def from_minor(value: int | Decimal) -> Decimal:
    """A SQL sum of Money values back to a Decimal."""
    return (Decimal(value) / MONEY_SCALE).normalize() + Decimal("0.00")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware (UTC) datetimes out, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime refused: the ledger stores aware times")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class CaseRow(Base):
    """The latest known state of a case, for reports and lists."""

    __tablename__ = "cases"

    case_id: Mapped[str] = mapped_column(String(250), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(String(200), index=True)
    customer_id: Mapped[str] = mapped_column(String(200), index=True)
    customer_name: Mapped[str] = mapped_column(String(300))
    customer_kind: Mapped[str] = mapped_column(String(20))
    segment: Mapped[str | None] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(Money)
    balance: Mapped[Decimal] = mapped_column(Money)
    conceded: Mapped[Decimal] = mapped_column(Money, default=Decimal(0), server_default="0")  # settlements
    lateness_cause: Mapped[str | None] = mapped_column(String(30), index=True)  # relance.domain.lateness
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date, index=True)
    policy: Mapped[str | None] = mapped_column(String(120))
    stage: Mapped[str] = mapped_column(String(50), index=True)
    outcome: Mapped[str | None] = mapped_column(String(30))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @classmethod
    def open_of(cls, customer_id: str | BindParameter[str]) -> tuple[ColumnElement[bool], ...]:
        """What makes a row one of the customer's open cases (no outcome yet), for a query's `where(*...)`."""
        return cls.customer_id == customer_id, cls.outcome.is_(None)


class CaseEvent(Base):
    """Every entry of a case's history: steps, messages with provider ids, ops actions with who, rejections."""

    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(250), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    event: Mapped[str] = mapped_column(String(60), index=True)
    detail: Mapped[str] = mapped_column(Text)
    by: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PaymentRow(Base):
    __tablename__ = "payments"
    __table_args__ = (UniqueConstraint("case_id", "reference"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(250), index=True)
    reference: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    paid_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stage: Mapped[str | None] = mapped_column(String(50))
    channel: Mapped[str | None] = mapped_column(String(30))


class SideEffect(Base):
    """One debtor-facing side effect, keyed by case + step: the guard that makes a step run at most once."""

    __tablename__ = "side_effects"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(250), index=True)
    step_id: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20))  # sending | sent | failed
    provider_id: Mapped[str | None] = mapped_column(String(300))
    detail: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class BankEntryRow(Base):
    """Each bank entry once (account + the bank's reference, or a stable hash), with where it went and why."""

    __tablename__ = "bank_entries"
    __table_args__ = (UniqueConstraint("account", "reference"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(60))
    reference: Mapped[str] = mapped_column(String(120))
    statement: Mapped[str] = mapped_column(String(200))  # format and statement id of the file that brought it
    booking_date: Mapped[date | None] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    credit: Mapped[bool] = mapped_column(Boolean)
    end_to_end_id: Mapped[str | None] = mapped_column(String(120), index=True)
    debtor_name: Mapped[str | None] = mapped_column(String(300))
    debtor_iban: Mapped[str | None] = mapped_column(String(40), index=True)
    remittance: Mapped[str] = mapped_column(Text)
    decision: Mapped[str] = mapped_column(String(20), index=True)  # paid, split, unallocated, review, credit, return…
    customer_id: Mapped[str | None] = mapped_column(String(200), index=True)
    allocations: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [[invoice id, amount, payment reference]]
    detail: Mapped[str] = mapped_column(Text)
    task_id: Mapped[int | None] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    bank_reference: Mapped[str | None] = mapped_column(String(120), index=True)  # AcctSvcrRef, CFONB number
    fingerprint: Mapped[str | None] = mapped_column(String(80))  # "C 1250.00 EUR 2026-05-12"; None before 0008


class Task(Base):
    """Work for a person (a call to make, with its script), completed with an outcome that feeds the case."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(30), default="phone")
    case_id: Mapped[str] = mapped_column(String(250), index=True)
    invoice_id: Mapped[str] = mapped_column(String(200))
    step_id: Mapped[str] = mapped_column(String(100))
    customer_id: Mapped[str] = mapped_column(String(200))
    customer_name: Mapped[str] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(50))
    script: Mapped[str] = mapped_column(Text)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    assignee: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    outcome: Mapped[str | None] = mapped_column(String(30))
    outcome_detail: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # A debtor's request from their page that a person decides: {"action": <ops action name>, "fields": {...},
    # "lang": ...}; outcome `accepted` feeds it to the case, `declined` does not, and the debtor hears either.
    request: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Document(Base):
    """A document a case produced (formal notice, court dossier, agency case file), where it was written."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("case_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(String(250), index=True)
    step_id: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    path: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RejectedInput(Base):
    """Input refused before it reached a case: an ops update its validator refused, an unknown case, a bad row.

    Rejected signals are in `case_events` (they reach the case's history); these never do, so the
    command that was refused writes them here.
    """

    __tablename__ = "rejected_inputs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    source: Mapped[str] = mapped_column(String(30))  # ops_action | account_action | import | workflow_start
    invoice_id: Mapped[str | None] = mapped_column(String(200), index=True)
    action: Mapped[str | None] = mapped_column(String(60))
    line: Mapped[int | None] = mapped_column(Integer)
    file: Mapped[str | None] = mapped_column(String(500))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)
    by: Mapped[str | None] = mapped_column(String(200))


class MandateRow(Base):
    """A SEPA direct debit mandate a customer signed: what a returned debit is presented again on."""

    __tablename__ = "mandates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    umr: Mapped[str] = mapped_column(String(35), unique=True)  # référence unique du mandat
    customer_id: Mapped[str] = mapped_column(String(200), index=True)
    debtor_name: Mapped[str] = mapped_column(String(300))
    iban: Mapped[str] = mapped_column(String(34))
    bic: Mapped[str | None] = mapped_column(String(11))
    signed_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BankFileRow(Base):
    """Each statement file the watch took from its folder, once by content: what became of it and when."""

    __tablename__ = "bank_files"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(500))
    received_on: Mapped[date] = mapped_column(Date, index=True)  # the watch's day (the policy calendar's)
    outcome: Mapped[str] = mapped_column(String(20))  # imported, duplicate, refused, unknown_account
    accounts: Mapped[list[Any]] = mapped_column(JSON, default=list)
    statement: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text)
    archived_to: Mapped[str | None] = mapped_column(String(1000))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReplyAddress(Base):
    """The Reply-To token of a message sent (and its Message-ID): a reply to it finds the cases it spoke for."""

    __tablename__ = "reply_addresses"

    token: Mapped[str] = mapped_column(String(40), primary_key=True)
    message_key: Mapped[str] = mapped_column(String(300))
    message_id: Mapped[str] = mapped_column(String(300), index=True)
    case_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    customer_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SmsMessage(Base):
    """An SMS sent: the provider's id for it, the case and step it was for, the number (E.164)."""

    __tablename__ = "sms_messages"

    provider_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    message_key: Mapped[str] = mapped_column(String(300))
    case_id: Mapped[str] = mapped_column(String(250))
    phone: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SmsOptOut(Base):
    """A number that answered STOP: no SMS goes to it again."""

    __tablename__ = "sms_optouts"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    said: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PortalRevocation(Base):
    """Links to a customer's page signed before `revoked_at` no longer open it."""

    __tablename__ = "portal_revocations"

    customer_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EInvoiceRow(Base):
    """An invoice or credit note that came as an e-invoice (Factur-X, CII, UBL): what the case's input does not
    carry and the "212 Encaissée" needs (the buyer's SIREN and platform address, the VAT breakdown)."""

    __tablename__ = "einvoices"

    invoice_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # invoice | credit_note
    format: Mapped[str] = mapped_column(String(10))  # facturx | cii | ubl
    type_code: Mapped[str] = mapped_column(String(3))
    customer_id: Mapped[str] = mapped_column(String(200), index=True)
    buyer_name: Mapped[str] = mapped_column(String(300))
    siren: Mapped[str | None] = mapped_column(String(9))
    electronic_address: Mapped[str | None] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Money)
    issue_date: Mapped[date] = mapped_column(Date)
    vat: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)  # [{rate, base, tax, category}]
    corrects: Mapped[str | None] = mapped_column(String(200))  # a credit note: the invoice it reduces
    document: Mapped[str | None] = mapped_column(String(1000))  # the PDF, in the documents store
    sha256: Mapped[str] = mapped_column(String(64))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EInvoiceStatusRow(Base):
    """Each lifecycle status a platform sent, once (by its message and place), and what became of it."""

    __tablename__ = "einvoice_statuses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    status_id: Mapped[str] = mapped_column(String(250), unique=True)
    invoice_id: Mapped[str] = mapped_column(String(200), index=True)
    code: Mapped[str] = mapped_column(String(10))
    reason_code: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(20))  # applied | kept (for a person)
    detail: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EInvoiceOutboxRow(Base):
    """A CDAR we owe a platform ("212 Encaissée" per payment, negative for one that came back): queued with the
    payment in one transaction, then written to the outbox folder and posted, with the platform's answer."""

    __tablename__ = "einvoice_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(300), unique=True)  # case + payment reference: once per payment
    invoice_id: Mapped[str] = mapped_column(String(200), index=True)
    code: Mapped[str] = mapped_column(String(10))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    xml: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(20), index=True)  # pending | sent | failed
    path: Mapped[str | None] = mapped_column(String(1000))  # the file written to the outbox folder
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(Text)  # the platform's answer (status and body), or why not sent
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CustomerDay(Base):
    """A day a customer was written to, and the message (its idempotency key) that claimed it: one e-mail per
    customer per day, whichever sends it (a lone case, or the customer's account for several)."""

    __tablename__ = "customer_days"

    customer_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    claimed_by: Mapped[str] = mapped_column(String(300))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomerHoldRow(Base):
    """A customer held or excluded by its account: a case that opens meanwhile reads it here and holds itself
    (its account is not told of new cases; it finds the customer's open cases in `cases` when it acts)."""

    __tablename__ = "customer_holds"

    customer_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[date | None] = mapped_column(Date)
    by: Mapped[str | None] = mapped_column(String(200))
    since: Mapped[datetime] = mapped_column(UTCDateTime)


class PortalShortLink(Base):
    """A short link to a customer's page (`/p/<code>`), for an SMS or a letter where the signed link is too long:
    a random code, dated like a signed link (it expires and is withdrawn the same way)."""

    __tablename__ = "portal_short_links"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(200), index=True)
    lang: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """A caller of the HTTP API: its name (recorded on every action it takes), its role, and a SHA-256 of its
    token (the token itself is shown once, when it is made). A revoked token stops working at once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def revoke(engine: Engine, key: Any, value: str) -> bool:
    """Set `revoked_at` on the active row whose `key` column holds `value` (a token, a mandate); False when
    there is none. What is revoked stays, for the record."""
    model = key.class_
    with Session(engine) as session, session.begin():
        row = session.scalar(select(model).where(key == value, model.revoked_at.is_(None)))
        if row is None:
            return False
        row.revoked_at = utcnow()
        return True


MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = int.from_bytes(b"rela")  # PostgreSQL advisory lock serialising concurrent migrations


def migrate(engine: Engine) -> None:
    """Bring the schema to the latest revision; safe to call from several processes at once."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One engine per database per process, its schema migrated on first use."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(conn, _record):  # type: ignore[no-untyped-def]
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            # Let BEGIN IMMEDIATE below serialise claims instead of pysqlite's deferred transactions.
            conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        engine = create_engine(url, pool_pre_ping=True)
    migrate(engine)
    return engine
