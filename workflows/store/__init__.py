"""The database: engine and sessions, the engine tables, schema migrations, audit, paging, JSON values."""
