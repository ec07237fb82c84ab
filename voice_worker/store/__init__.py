"""Sessions and their history: one `ChatStore` Protocol (`base`), implemented once with
SQLAlchemy Core over aiosqlite (the embedded default) and asyncpg (PostgreSQL, for
workers on many machines); see `sql` for why, and `migrations` for the schema."""
