"""Orchestrations, activities and entities written with the plain ``durabletask`` SDK, for the sidecar."""
