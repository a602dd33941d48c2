"""Operating reelserve: Prometheus metrics, structured logs with request and job ids, readiness, and optional
OpenTelemetry tracing.

Everything else imports this package; it imports nothing of the server's but its settings (what it needs of the
database, the storage or the workers is handed to it as plain callables), so that any layer can record a metric or
bind an id to its log lines without a cycle.
"""
