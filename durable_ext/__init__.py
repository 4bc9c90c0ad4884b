"""durable-ext: a pure-Python Durable Functions host on an Azure Storage task hub."""

from importlib import metadata

try:
    __version__ = metadata.version("durable-ext")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
