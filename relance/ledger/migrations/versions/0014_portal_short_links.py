"""portal_short_links: short codes for links to a debtor's page, for SMS and letters

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_short_links",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.String(length=200), nullable=False),
        sa.Column("lang", sa.String(length=2), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_index("ix_portal_short_links_customer_id", "portal_short_links", ["customer_id"])


def downgrade() -> None:
    op.drop_index("ix_portal_short_links_customer_id", table_name="portal_short_links")
    op.drop_table("portal_short_links")
