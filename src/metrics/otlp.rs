//! Optional OpenTelemetry trace export (OTLP over gRPC) of the server's spans: one `grpc`
//! span per call (opened by [`super::GrpcMetricsLayer`], with the caller's organisation once
//! authenticated and the status code at the end) and the handlers' spans beneath it. No span
//! field carries a token, a key or a report's content.

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// The exporter; keep it for the life of the process and [`Tracing::shutdown`] it at exit
/// so the last spans are sent.
pub struct Tracing {
    provider: SdkTracerProvider,
}

impl Tracing {
    /// Builds the exporter to `endpoint` (`http://host:4317`, a collector or agent) and the
    /// tracing layer that feeds it. Must run inside the tokio runtime.
    pub fn start<S>(
        endpoint: &str,
    ) -> anyhow::Result<(
        Tracing,
        tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>,
    )>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .with_context(|| format!("building the OTLP exporter to {endpoint}"))?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                opentelemetry_sdk::Resource::builder()
                    .with_service_name("fenghuo")
                    .build(),
            )
            .build();
        let tracer = provider.tracer("fenghuo");
        Ok((
            Tracing { provider },
            tracing_opentelemetry::layer().with_tracer(tracer),
        ))
    }

    /// Sends what is buffered and stops the exporter.
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            eprintln!("warning: flushing the OTLP trace exporter: {e}");
        }
    }
}
