"""Operations: liveness and readiness checks, Prometheus metrics. Imports nothing of the product's apps: they
report into it (ops.metrics) and register their database gauges with it (docs/architecture.md)."""
