"""rejected inputs: refused ops actions and import rows, which never reach a case's history

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rejected_inputs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.Column("invoice_id", sa.String(length=200), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=True),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("file", sa.String(length=500), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_rejected_inputs_at", "rejected_inputs", ["at"])
    op.create_index("ix_rejected_inputs_invoice_id", "rejected_inputs", ["invoice_id"])


def downgrade() -> None:
    op.drop_index("ix_rejected_inputs_invoice_id", table_name="rejected_inputs")
    op.drop_index("ix_rejected_inputs_at", table_name="rejected_inputs")
    op.drop_table("rejected_inputs")
