"""The Durable Task gRPC protocol: ``TaskHubSidecarService`` for durabletask workers and clients.

Every Durable Task SDK (and ``azure-functions-durable`` 2.x) reaches its backend through this service:
workers stream work items from ``GetWorkItems`` and report each one back, clients start and manage
instances. Here the service runs on the engine's own work items and providers; the protobuf messages
come from the ``durabletask`` package, so the wire format is the SDKs' own.
"""
