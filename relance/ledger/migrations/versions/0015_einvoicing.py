"""einvoices, einvoice_statuses, einvoice_outbox: invoices that came as e-invoices, the platforms' lifecycle
statuses, and the CDAR we owe them ("212 Encaissée")

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "einvoices",
        sa.Column("invoice_id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("type_code", sa.String(length=3), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("buyer_name", sa.String(length=300), nullable=False),
        sa.Column("siren", sa.String(length=9), nullable=True),
        sa.Column("electronic_address", sa.String(length=200), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("vat", sa.JSON(), nullable=False),
        sa.Column("corrects", sa.String(length=200), nullable=True),
        sa.Column("document", sa.String(length=1000), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("invoice_id"),
    )
    op.create_index("ix_einvoices_customer_id", "einvoices", ["customer_id"])
    op.create_table(
        "einvoice_statuses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("status_id", sa.String(length=250), nullable=False),
        sa.Column("invoice_id", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=10), nullable=False),
        sa.Column("reason_code", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("status_id"),
    )
    op.create_index("ix_einvoice_statuses_invoice_id", "einvoice_statuses", ["invoice_id"])
    op.create_table(
        "einvoice_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("invoice_id", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("xml", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_index("ix_einvoice_outbox_invoice_id", "einvoice_outbox", ["invoice_id"])
    op.create_index("ix_einvoice_outbox_state", "einvoice_outbox", ["state"])


def downgrade() -> None:
    op.drop_table("einvoice_outbox")
    op.drop_table("einvoice_statuses")
    op.drop_index("ix_einvoices_customer_id", table_name="einvoices")
    op.drop_table("einvoices")
