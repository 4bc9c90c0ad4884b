"""Sample durable apps, one pattern each, written with the official azure-functions-durable SDK."""
