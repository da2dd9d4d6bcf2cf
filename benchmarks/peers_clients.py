"""The clients benchmarks/peers.py compares: each SDK set up, fed and shut down its documented way.

Every adapter points its SDK at the URL it is given (127.0.0.1 only), leaves its other
defaults alone except the queue bound (raised to ``capacity`` where the SDK has one, so that
a figure is not a drop count), and turns off the SDK's own reports about itself. A payload
is what a user hands to the call: our ``TaskCompletionEvent``, a properties dict with the
same 26 fields for the others (or the SDK's event object wrapping it). This module imports
nothing heavy at import time: the cold-start child imports it before the SDK it measures.
"""

# The peer SDKs live in the throwaway venv only, never where mypy runs:
# mypy: disable-error-code="import-not-found"
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any

API_KEY = "ab" * 32  # the same key as benchmarks/_util.py (not imported: it pulls statistics)
INSTANCE_ID = "12345678-1234-4234-8234-123456789abc"
EVENT_NAME = "task_completed"


def event_properties(i: int) -> dict[str, Any]:
    """A fresh event as a dict: new ``event_id`` and timestamp, the wire shape of our event."""
    import uuid
    from datetime import datetime, timezone

    return {
        "instance_id": INSTANCE_ID,
        "event_id": str(uuid.uuid4()),
        "schema_version": "1.0",
        "timestamp": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "task_duration_ms": 60_000 + i,
        "task_type": "implementation",
        "complexity": "medium",
        "harness": "claude_code",
        "model": "claude-sonnet-4-5",
        "provider": "anthropic",
        "estimated_input_tokens": 10_000 + i,
        "estimated_output_tokens": 2_000 + i,
        "actual_input_tokens": 11_000 + i,
        "actual_output_tokens": 2_500 + i,
        "estimated_cost_usd_micros": 40_000 + i,
        "actual_cost_usd_micros": 45_000 + i,
        "quality_gate_passed": False,
        "quality_gates_run": ["build", "lint"],
        "quality_gates_failed": ["lint"],
        "context_compactions": 1,
        "context_rotations": 0,
        "context_utilization_final": 0.5 + (i % 1000) / 10_000,
        "outcome": "success",
        "retry_count": 0,
        "language": "python",
        "repo_size_category": "medium",
    }


class Peer:
    """One client: how to build it, feed it one payload, and shut it down."""

    key = ""  # as --only spells it
    label = ""  # as the table names it (the key when empty)
    package = ""  # the distribution whose version the report prints
    call = ""  # what a tracked event costs the caller, as the table names it
    imports = ""  # the import statements a user writes to send events this way
    sends_in_call = False  # True: the call itself does the HTTP request (no queue)
    request_per_event = False  # True: one HTTP request per event (a smaller e2e run)

    @property
    def name(self) -> str:
        """The client's name in the table."""
        return self.label or self.key

    def make(self, url: str, capacity: int) -> Any:
        """A started client sending to ``url`` that can hold ``capacity`` events."""
        raise NotImplementedError

    def payload(self, i: int) -> Any:
        """A fresh, realistic payload (new id and timestamp) for :meth:`track`."""
        return event_properties(i)

    def track(self, client: Any, payload: Any) -> None:
        """Hand one payload to the client, the documented way."""
        raise NotImplementedError

    def shutdown(self, client: Any, timeout_s: float | None) -> None:
        """The documented shutdown (flushes); ``None``: with the SDK's own default timeout."""
        raise NotImplementedError


class Mosaic(Peer):
    key = "mosaic_telemetry"
    call = "TelemetryClient.track(event)"
    imports = "import mosaic_telemetry"

    def __init__(self) -> None:
        self._builder: Any = None

    def make(self, url: str, capacity: int) -> Any:
        from mosaic_telemetry import TelemetryClient, TelemetryConfig

        config = TelemetryConfig(
            server_url=url,
            api_key=API_KEY,
            instance_id=INSTANCE_ID,
            max_queue_size=max(1000, capacity),
        )
        client = TelemetryClient(config)
        client.start()
        return client

    def payload(self, i: int) -> Any:
        from mosaic_telemetry import QualityGate

        if self._builder is None:
            self._builder = _mosaic_builder()
        return (
            self._builder.duration_ms(60_000 + i)
            .tokens(
                estimated_in=10_000 + i,
                estimated_out=2_000 + i,
                actual_in=11_000 + i,
                actual_out=2_500 + i,
            )
            .cost(estimated=40_000 + i, actual=45_000 + i)
            .quality(
                passed=False,
                gates_run=[QualityGate.BUILD, QualityGate.LINT],
                gates_failed=[QualityGate.LINT],
            )
            .context(compactions=1, rotations=0, utilization=0.5 + (i % 1000) / 10_000)
            .build()
        )

    def track(self, client: Any, payload: Any) -> None:
        client.track(payload)

    def shutdown(self, client: Any, timeout_s: float | None) -> None:
        client.stop(timeout_s)


def _mosaic_builder() -> Any:
    """The builder of benchmarks/_util.realistic_builder, without importing _util (statistics)."""
    from mosaic_telemetry import (
        Complexity,
        EventBuilder,
        Harness,
        Outcome,
        Provider,
        RepoSizeCategory,
        TaskType,
    )

    return (
        EventBuilder(INSTANCE_ID)
        .task_type(TaskType.IMPLEMENTATION)
        .complexity_level(Complexity.MEDIUM)
        .harness_type(Harness.CLAUDE_CODE)
        .model("claude-sonnet-4-5")
        .provider(Provider.ANTHROPIC)
        .outcome_value(Outcome.SUCCESS)
        .language("python")
        .repo_size(RepoSizeCategory.MEDIUM)
    )


class Posthog(Peer):
    key = "posthog"
    package = "posthog"
    call = "Posthog.capture()"
    imports = "from posthog import Posthog"

    def make(self, url: str, capacity: int) -> Any:
        from posthog import Posthog

        # No personal/secret key: no feature-flag polling; geoip is off by default.
        return Posthog("phc_benchmark", host=url, max_queue_size=max(10_000, capacity))

    def track(self, client: Any, payload: Any) -> None:
        client.capture(EVENT_NAME, distinct_id=payload["instance_id"], properties=payload)

    def shutdown(self, client: Any, timeout_s: float | None) -> None:
        client.shutdown()  # flush + join; it takes no timeout


class Segment(Peer):
    key = "segment"
    package = "segment-analytics-python"
    call = "Client.track()"
    imports = "from segment.analytics import Client"

    def make(self, url: str, capacity: int) -> Any:
        from segment.analytics import Client

        return Client("benchmark-write-key", host=url, max_queue_size=max(10_000, capacity))

    def track(self, client: Any, payload: Any) -> None:
        client.track(user_id=payload["instance_id"], event=EVENT_NAME, properties=payload)

    def shutdown(self, client: Any, timeout_s: float | None) -> None:
        client.shutdown()  # flush (queue.join) + join; it takes no timeout


def _sentry_init(url: str, **options: Any) -> Any:
    import sentry_sdk

    port = url.rsplit(":", 1)[1]
    sentry_sdk.init(
        dsn=f"http://benchmarkpublickey@127.0.0.1:{port}/1", send_client_reports=False, **options
    )
    return sentry_sdk.get_client()


class SentryLogs(Peer):
    key = "sentry-logs"
    label = "sentry-sdk logs"
    package = "sentry-sdk"
    call = "sentry_sdk.logger.info()"
    imports = "import sentry_sdk"

    def make(self, url: str, capacity: int) -> Any:
        return _sentry_init(url, enable_logs=True)  # its log buffer bound is a class constant

    def track(self, client: Any, payload: Any) -> None:
        import sentry_sdk

        sentry_sdk.logger.info(EVENT_NAME, attributes=payload)

    def shutdown(self, client: Any, timeout_s: float | None) -> None:
        client.close(timeout=timeout_s)  # flushes logs, then the transport


class SentryEvents(Peer):
    key = "sentry-events"
    label = "sentry-sdk events"
    package = "sentry-sdk"
    call = "sentry_sdk.capture_event()"
    imports = "import sentry_sdk"
    request_per_event = True

    def make(self, url: str, capacity: int) -> Any:
        return _sentry_init(url, transport_queue_size=max(100, capacity))

    def track(self, client: Any, payload: Any) -> None:
        import sentry_sdk

        sentry_sdk.capture_event({"message": EVENT_NAME, "level": "info", "extra": payload})

    def shutdown(self, client: Any, timeout_s: float | None) -> None:
        client.close(timeout=timeout_s)


class OtelLogs(Peer):
    key = "otel-logs"
    label = "OpenTelemetry logs"
    package = "opentelemetry-sdk"
    call = "Logger.emit(event_name=...)"
    imports = (
        "from opentelemetry._logs import SeverityNumber\n"
        "from opentelemetry.sdk._logs import LoggerProvider\n"
        "from opentelemetry.sdk._logs.export import BatchLogRecordProcessor\n"
        "from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter"
    )

    def make(self, url: str, capacity: int) -> Any:
        from opentelemetry._logs import SeverityNumber
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

        provider = LoggerProvider()
        exporter = OTLPLogExporter(endpoint=f"{url}/v1/logs")
        processor = BatchLogRecordProcessor(exporter, max_queue_size=max(2048, capacity))
        provider.add_log_record_processor(processor)
        return provider, provider.get_logger("mosaic.benchmark"), SeverityNumber.INFO

    def track(self, client: Any, payload: Any) -> None:
        _, logger, info = client
        logger.emit(event_name=EVENT_NAME, severity_number=info, attributes=payload)

    def shutdown(self, client: Any, timeout_s: float | None) -> None:
        client[0].shutdown()


class OtelSpans(Peer):
    key = "otel-spans"
    label = "OpenTelemetry spans"
    package = "opentelemetry-sdk"
    call = "start_span().end()"
    imports = (
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import BatchSpanProcessor\n"
        "from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter"
    )

    def make(self, url: str, capacity: int) -> Any:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        provider = TracerProvider()
        exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces")
        provider.add_span_processor(
            BatchSpanProcessor(exporter, max_queue_size=max(2048, capacity))
        )
        return provider, provider.get_tracer("mosaic.benchmark")

    def track(self, client: Any, payload: Any) -> None:
        client[1].start_span(EVENT_NAME, attributes=payload).end()

    def shutdown(self, client: Any, timeout_s: float | None) -> None:
        client[0].shutdown()


class Amplitude(Peer):
    key = "amplitude"
    package = "amplitude-analytics"
    call = "Amplitude.track(BaseEvent)"
    imports = "from amplitude import Amplitude, BaseEvent, Config"

    def make(self, url: str, capacity: int) -> Any:
        from amplitude import Amplitude, Config

        return Amplitude("benchmark-api-key", Config(server_url=f"{url}/2/httpapi"))

    def payload(self, i: int) -> Any:
        from amplitude import BaseEvent

        props = event_properties(i)
        return BaseEvent(event_type=EVENT_NAME, user_id=INSTANCE_ID, event_properties=props)

    def track(self, client: Any, payload: Any) -> None:
        client.track(payload)

    def shutdown(self, client: Any, timeout_s: float | None) -> None:
        client.shutdown()  # flush + wait for its sender pool; it takes no timeout


class Mixpanel(Peer):
    key = "mixpanel"
    package = "mixpanel"
    call = "Mixpanel.track() (sends)"
    imports = "from mixpanel import Consumer, Mixpanel"
    sends_in_call = True
    request_per_event = True

    def make(self, url: str, capacity: int) -> Any:
        from mixpanel import Consumer, Mixpanel

        # The default Consumer: one synchronous request per track(); no timeout by default.
        return Mixpanel("benchmark-token", consumer=Consumer(events_url=f"{url}/track"))

    def track(self, client: Any, payload: Any) -> None:
        client.track(payload["instance_id"], EVENT_NAME, payload)

    def shutdown(self, client: Any, timeout_s: float | None) -> None:
        pass  # nothing is held: every track() already sent its event


class MixpanelBuffered(Peer):
    key = "mixpanel-buffered"
    label = "mixpanel buffered"
    package = "mixpanel"
    call = "track(), BufferedConsumer"
    imports = "from mixpanel import BufferedConsumer, Mixpanel"
    sends_in_call = True

    def make(self, url: str, capacity: int) -> Any:
        from mixpanel import BufferedConsumer, Mixpanel

        consumer = BufferedConsumer(events_url=f"{url}/track")  # sends every 50th track()
        return Mixpanel("benchmark-token", consumer=consumer), consumer

    def track(self, client: Any, payload: Any) -> None:
        client[0].track(payload["instance_id"], EVENT_NAME, payload)

    def shutdown(self, client: Any, timeout_s: float | None) -> None:
        client[1].flush()


PEERS: dict[str, Peer] = {
    peer.key: peer
    for peer in (
        Mosaic(),
        Posthog(),
        Segment(),
        SentryLogs(),
        SentryEvents(),
        OtelLogs(),
        OtelSpans(),
        Amplitude(),
        Mixpanel(),
        MixpanelBuffered(),
    )
}
OURS = Mosaic.key


def cold_start(key: str, url: str) -> None:
    """What a hook or CLI run does: build the client, track one event, shut down, exit."""
    import time

    peer = PEERS[key]
    client = peer.make(url, 0)
    peer.track(client, peer.payload(0))
    peer.shutdown(client, None)
    print(f"delivered {time.time():.6f}", flush=True)  # the rest is interpreter exit
