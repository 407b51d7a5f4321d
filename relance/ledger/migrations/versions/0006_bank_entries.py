"""bank_entries: every bank entry imported once, with its matching decision

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bank_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account", sa.String(length=60), nullable=False),
        sa.Column("reference", sa.String(length=120), nullable=False),
        sa.Column("statement", sa.String(length=200), nullable=False),
        sa.Column("booking_date", sa.Date(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("credit", sa.Boolean(), nullable=False),
        sa.Column("end_to_end_id", sa.String(length=120), nullable=True),
        sa.Column("debtor_name", sa.String(length=300), nullable=True),
        sa.Column("debtor_iban", sa.String(length=40), nullable=True),
        sa.Column("remittance", sa.Text(), nullable=False),
        sa.Column("decision", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=True),
        sa.Column("allocations", sa.JSON(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account", "reference"),
    )
    for column in ("end_to_end_id", "debtor_iban", "decision", "customer_id"):
        op.create_index(f"ix_bank_entries_{column}", "bank_entries", [column])


def downgrade() -> None:
    for column in ("end_to_end_id", "debtor_iban", "decision", "customer_id"):
        op.drop_index(f"ix_bank_entries_{column}", table_name="bank_entries")
    op.drop_table("bank_entries")
