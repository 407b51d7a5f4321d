"""reply_addresses: the Reply-To token of every message sent, and the cases it speaks for (a reply finds them)

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reply_addresses",
        sa.Column("token", sa.String(length=40), nullable=False),
        sa.Column("message_key", sa.String(length=300), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("case_ids", sa.JSON(), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token"),
    )
    op.create_index("ix_reply_addresses_message_id", "reply_addresses", ["message_id"])


def downgrade() -> None:
    op.drop_table("reply_addresses")
