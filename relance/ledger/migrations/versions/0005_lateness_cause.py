"""lateness_cause: why each case's invoice is paid late, as last learned (for reports and the risk score)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("lateness_cause", sa.String(length=30), nullable=True))
        batch.create_index("ix_cases_lateness_cause", ["lateness_cause"])


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_lateness_cause")
        batch.drop_column("lateness_cause")
