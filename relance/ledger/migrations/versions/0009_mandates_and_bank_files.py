"""mandates: the SEPA mandates customers signed (a returned direct debit is presented again on one);
bank_files: every statement file the watch took from its folder, by content, with what became of it

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mandates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("umr", sa.String(length=35), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("debtor_name", sa.String(length=300), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=False),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("umr"),
    )
    op.create_index("ix_mandates_customer_id", "mandates", ["customer_id"])
    op.create_table(
        "bank_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("accounts", sa.JSON(), nullable=False),
        sa.Column("statement", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("archived_to", sa.String(length=1000), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_bank_files_sha256", "bank_files", ["sha256"])
    op.create_index("ix_bank_files_received_on", "bank_files", ["received_on"])


def downgrade() -> None:
    op.drop_table("bank_files")
    op.drop_table("mandates")
