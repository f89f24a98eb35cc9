"""The table-backed store: schema, database, bulk reads, inheritance."""
