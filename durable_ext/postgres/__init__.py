"""The relational provider: the MSSQL provider's design on PostgreSQL (tables for instances, history,
instance messages and activity messages; row locks instead of partitions; LISTEN/NOTIFY wake-ups)."""
