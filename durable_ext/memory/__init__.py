"""The in-memory task hub provider: everything in process, durable time on a virtual clock."""
