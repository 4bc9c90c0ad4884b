"""durable-ext: a pure-Python Durable Functions host on an Azure Storage task hub."""

__version__ = "0.1.0"
