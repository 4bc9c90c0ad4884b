"""The Azure Storage bindings: queue, blob and table triggers, inputs and outputs."""
