"""Alembic migrations of the state store; `Store.open` applies them."""
