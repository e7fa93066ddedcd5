"""cairn.sql: PostgreSQL's dialect executed on cairn.db."""
