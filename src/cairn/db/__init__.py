"""cairn.db: the transactional database (DDIA ch. 7, PostgreSQL internals)."""
