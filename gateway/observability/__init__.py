"""What the gateway shows its operators: Prometheus metrics, OpenTelemetry traces, logs."""
