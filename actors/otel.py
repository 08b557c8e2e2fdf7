"""actors.otel: OpenTelemetry export of actor message traces (needs ``trio-actors[otel]``)."""

from ._otel import OpenTelemetrySink as OpenTelemetrySink

__all__ = ["OpenTelemetrySink"]
