"""bank_entries: the bank's own reference and the movement's fingerprint, so that an entry already seen is
checked (same key, same direction, amount, currency and date), not trusted on its key alone

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bank_entries") as batch:
        batch.add_column(sa.Column("bank_reference", sa.String(length=120), nullable=True))
        batch.add_column(sa.Column("fingerprint", sa.String(length=80), nullable=True))
        batch.create_index("ix_bank_entries_bank_reference", ["bank_reference"])


def downgrade() -> None:
    with op.batch_alter_table("bank_entries") as batch:
        batch.drop_index("ix_bank_entries_bank_reference")
        batch.drop_column("fingerprint")
        batch.drop_column("bank_reference")
