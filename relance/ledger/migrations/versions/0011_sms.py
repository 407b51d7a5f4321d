"""sms_messages: every SMS sent (the provider's id, the case and step, the number), which a delivery status or a
reply finds; sms_optouts: numbers that answered STOP (no SMS to them again)

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sms_messages",
        sa.Column("provider_id", sa.String(length=100), nullable=False),
        sa.Column("message_key", sa.String(length=300), nullable=False),
        sa.Column("case_id", sa.String(length=250), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider_id"),
    )
    op.create_index("ix_sms_messages_phone", "sms_messages", ["phone"])
    op.create_table(
        "sms_optouts",
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("said", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phone"),
    )


def downgrade() -> None:
    op.drop_table("sms_optouts")
    op.drop_table("sms_messages")
