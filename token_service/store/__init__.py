"""Persistence: SQLAlchemy models and the repository the services use."""
