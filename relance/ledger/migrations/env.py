"""Alembic environment: runs on the connection handed over by relance.ledger.db.migrate (or the URL setting)."""

from alembic import context
from sqlalchemy import create_engine

from relance.ledger.db import Base

config = context.config
connection = config.attributes.get("connection")

if connection is None:
    from relance.settings import get_settings

    with create_engine(get_settings().database_url).begin() as own:
        context.configure(connection=own, target_metadata=Base.metadata, render_as_batch=True)
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    context.run_migrations()
