"""The ledger's migrations make the schema the models describe, on SQLite and PostgreSQL: a column added to a
model without its migration (or the reverse) fails here, not in production."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from relance.ledger.db import Base, engine_for


def test_the_migrations_make_the_models_schema(ledger_url: str) -> None:
    engine = engine_for(ledger_url)  # migrated to head on first use
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    assert [d for d in differences if not _alembic_version(d)] == []


def _alembic_version(difference: object) -> bool:
    """Alembic's own bookkeeping table is no model."""
    return isinstance(difference, tuple) and getattr(difference[1], "name", None) == "alembic_version"
