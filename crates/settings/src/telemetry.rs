//! Log output and traces: one subscriber for both binaries, pretty for people or JSON for
//! shippers, and OTLP trace export when the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set.
//!
//! Export is HTTP/protobuf from the OpenTelemetry SDK's batch span processor: a span that ends
//! goes into a bounded queue (`OTEL_BSP_MAX_QUEUE_SIZE`, 2048) with a non-blocking send and a
//! background thread posts batches to the collector, so a slow or dead collector costs
//! requests nothing; when the queue is full, spans are dropped and the drop is logged (once
//! when it starts, with the total at shutdown). [`Telemetry`] flushes what is queued when it is
//! dropped, for at most [`FLUSH_TIMEOUT`].

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use protocol::{SpanId, TraceId, TraceParent};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};
use url::Url;

use crate::LogFormat;
use crate::log_writer::{LogWriterGuard, log_writer};

/// How long shutdown waits for queued spans to reach the collector.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// A bad `OTEL_*` variable: the binaries print it as their one startup error line.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The endpoint is not an http(s) URL.
    #[error("{variable} must be an http:// or https:// URL ({reason})")]
    Endpoint {
        /// The variable that holds it.
        variable: &'static str,
        /// What is wrong with it (never the value: it may carry credentials).
        reason: String,
    },
    /// A transport other than HTTP/protobuf was asked for.
    #[error("OTEL_EXPORTER_OTLP_PROTOCOL={0} is not supported; use http/protobuf (or leave it unset)")]
    Protocol(String),
    /// The exporter could not be built.
    #[error("cannot start the OTLP trace exporter: {0}")]
    Exporter(String),
    /// The log writer's thread could not be started.
    #[error("cannot start the log writer thread: {0}")]
    LogWriter(String),
}

/// What the environment asks of trace export (the OpenTelemetry SDK's standard variables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpConfig {
    /// Where spans are posted: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as it is, else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` with `/v1/traces` appended.
    pub endpoint: Url,
    /// `OTEL_SERVICE_NAME`, else `recipe-relay-<binary>`.
    pub service_name: String,
}

impl OtlpConfig {
    /// Reads the variables through `var` (the process environment in [`init`]). `None` when
    /// export is off: no endpoint set, or `OTEL_SDK_DISABLED=true`, or `OTEL_TRACES_EXPORTER=none`.
    /// Headers (`OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TRACES_HEADERS`), timeouts and
    /// the batch processor's `OTEL_BSP_*` are read by the SDK itself.
    ///
    /// # Errors
    /// [`TelemetryError`] naming the variable that is wrong.
    pub fn from_vars(
        var: impl Fn(&str) -> Option<String>,
        binary: &str,
    ) -> Result<Option<Self>, TelemetryError> {
        // The specification treats an empty variable as unset.
        let var = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
            || var("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"))
        {
            return Ok(None);
        }
        let endpoint = match (var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"), var("OTEL_EXPORTER_OTLP_ENDPOINT")) {
            (Some(traces), _) => http_url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &traces)?,
            (None, Some(base)) => {
                let base = http_url("OTEL_EXPORTER_OTLP_ENDPOINT", &base)?;
                let path = format!("{}/v1/traces", base.path().trim_end_matches('/'));
                let mut endpoint = base;
                endpoint.set_path(&path);
                endpoint
            }
            (None, None) => return Ok(None),
        };
        let protocol =
            var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"));
        if let Some(protocol) = protocol.filter(|p| p != "http/protobuf") {
            return Err(TelemetryError::Protocol(protocol));
        }
        let service_name = var("OTEL_SERVICE_NAME").unwrap_or_else(|| format!("recipe-relay-{binary}"));
        Ok(Some(Self { endpoint, service_name }))
    }
}

fn http_url(variable: &'static str, value: &str) -> Result<Url, TelemetryError> {
    let url = Url::parse(value).map_err(|e| TelemetryError::Endpoint { variable, reason: e.to_string() })?;
    if !matches!(url.scheme(), "http" | "https") {
        let reason = format!("the scheme is {:?}", url.scheme());
        return Err(TelemetryError::Endpoint { variable, reason });
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(TelemetryError::Endpoint { variable, reason: "no host".into() });
    }
    Ok(url)
}

/// Keeps trace export and the log writer running; dropping it flushes the queued spans (for at
/// most [`FLUSH_TIMEOUT`]), stops the exporter and writes the last log lines. Hold it until the
/// process ends.
#[must_use = "dropping it stops trace export"]
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    /// Flushes the log writer's last lines when dropped (after the provider's shutdown, which
    /// may log).
    _log_writer: Option<LogWriterGuard>,
}

/// Set once the installed subscriber exports spans.
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether this process exports spans over OTLP (its subscriber, installed by [`init`], has the
/// OpenTelemetry layer). Without export a span has no trace context of its own, so callers can
/// make the ids themselves before they create it.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown_with_timeout(FLUSH_TIMEOUT)
        {
            tracing::warn!(error = %error, "trace export did not flush before shutdown");
        }
    }
}

/// Targets whose spans and events never become OpenTelemetry spans: the exporter's own
/// logging and HTTP stack, which would otherwise trace their own exports.
fn exported(target: &str) -> bool {
    !["opentelemetry", "hyper", "reqwest", "h2", "tower"].iter().any(|t| target.starts_with(t))
}

/// Installs the global subscriber: log lines on stderr (`RUST_LOG` wins over `filter`), and
/// OTLP export of the spans `filter` lets through when the environment turns it on (see
/// [`OtlpConfig::from_vars`]). Safe to call twice (tests): the second call changes nothing.
///
/// # Errors
/// [`TelemetryError`] for a bad `OTEL_*` variable.
pub fn init(format: LogFormat, filter: &str) -> Result<Telemetry, TelemetryError> {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "relay".into());
    let otlp = OtlpConfig::from_vars(|name| std::env::var(name).ok(), &binary)?;
    let provider = otlp.as_ref().map(tracer_provider).transpose()?;

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    // Colours only for a person at a terminal, never in log files or pipes.
    let ansi = std::io::stderr().is_terminal();
    // Lines are written to stderr in batches by a thread of their own (see `log_writer`).
    let (writer, guard) =
        log_writer(std::io::stderr()).map_err(|e| TelemetryError::LogWriter(e.to_string()))?;
    let lines = tracing_subscriber::fmt::layer().with_writer(writer).with_ansi(ansi);
    let lines = match format {
        LogFormat::Pretty => lines.with_target(false).boxed(),
        // The span list holds every open span with its fields, the current one last; the
        // separate `span` object would repeat the current one on every line.
        LogFormat::Json => lines.json().flatten_event(true).with_current_span(false).boxed(),
    };
    let spans = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("recipe-relay"))
            .with_filter(filter_fn(|meta| exported(meta.target())))
    });
    // try_init fails only when a subscriber is already set, which is fine.
    let exports = spans.is_some();
    let installed = tracing_subscriber::registry().with(filter).with(lines).with(spans).try_init().is_ok();
    if installed {
        EXPORTING.store(exports, Ordering::Relaxed);
    }
    if let Some(config) = &otlp {
        // The endpoint without its path and query, which may carry a token.
        let collector = config.endpoint.origin().ascii_serialization();
        tracing::info!(service = %config.service_name, %collector, "exporting traces over OTLP");
    }
    Ok(Telemetry { provider, _log_writer: installed.then_some(guard) })
}

/// The SDK's tracer provider with a batch processor over the HTTP/protobuf exporter.
fn tracer_provider(config: &OtlpConfig) -> Result<SdkTracerProvider, TelemetryError> {
    use opentelemetry_otlp::WithExportConfig as _;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(config.endpoint.as_str())
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    let resource = Resource::builder().with_service_name(config.service_name.clone()).build();
    Ok(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build())
}

/// Makes `span` continue `parent`, a span of another process (the gateway's request, for a
/// job): the exported span gets `parent` as its parent. Call it right after creating `span`,
/// before anything is logged in it. Without export it does nothing.
pub fn continue_trace(span: &tracing::Span, parent: &TraceParent) {
    let carrier = HashMap::from([("traceparent".to_owned(), parent.to_string())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    // Fails only when export is off (no OpenTelemetry layer) or the span is disabled.
    let _ = span.set_parent(context);
}

/// The `traceparent` naming `span` as the parent, to hand on to another process; `None` when
/// the span has no OpenTelemetry ids (export off, or the span filtered out).
pub fn traceparent_of(span: &tracing::Span) -> Option<TraceParent> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    if !span_context.is_valid() {
        return None;
    }
    Some(TraceParent {
        trace_id: TraceId::from_bytes(span_context.trace_id().to_bytes())?,
        parent_id: SpanId::from_bytes(span_context.span_id().to_bytes())?,
        flags: span_context.trace_flags().to_u8(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Option<OtlpConfig>, TelemetryError> {
        let vars: HashMap<String, String> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        OtlpConfig::from_vars(|name| vars.get(name).cloned(), "api")
    }

    #[test]
    fn export_is_off_unless_an_endpoint_is_set() {
        assert_eq!(config(&[]).unwrap(), None);
        assert_eq!(config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]).unwrap(), None, "empty is unset");
        let disabled = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), ("OTEL_SDK_DISABLED", "true")];
        assert_eq!(config(&disabled).unwrap(), None);
        let none = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"), ("OTEL_TRACES_EXPORTER", "none")];
        assert_eq!(config(&none).unwrap(), None);
    }

    #[test]
    fn the_base_endpoint_gets_the_traces_path_and_the_traces_endpoint_is_used_as_it_is() {
        let cases = [
            (
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")][..],
                "http://collector:4318/v1/traces",
            ),
            (
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://c.example/otlp/")][..],
                "https://c.example/otlp/v1/traces",
            ),
            (
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:4318"),
                    ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:9999/custom"),
                ][..],
                "http://c:9999/custom",
            ),
        ];
        for (vars, expected) in cases {
            assert_eq!(config(vars).unwrap().unwrap().endpoint.as_str(), expected, "{vars:?}");
        }
    }

    #[test]
    fn the_service_name_defaults_to_the_binary() {
        let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318");
        assert_eq!(config(&[base]).unwrap().unwrap().service_name, "recipe-relay-api");
        let named = config(&[base, ("OTEL_SERVICE_NAME", "relay-eu")]).unwrap().unwrap();
        assert_eq!(named.service_name, "relay-eu");
    }

    #[test]
    fn a_bad_endpoint_or_protocol_is_one_line_naming_the_variable_without_its_value() {
        let cases = [
            (("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"), "OTEL_EXPORTER_OTLP_ENDPOINT"),
            (("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url"), "OTEL_EXPORTER_OTLP_ENDPOINT"),
            (("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://secret@c:21"), "OTEL_EXPORTER_OTLP_ENDPOINT"),
            (("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "grpc://c"), "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        ];
        for ((name, value), expected) in cases {
            let message = config(&[(name, value)]).unwrap_err().to_string();
            assert!(message.contains(expected), "{value}: {message}");
            assert!(!message.contains("secret") && !message.contains('\n'), "{message}");
        }
        let grpc =
            [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")];
        assert!(config(&grpc).unwrap_err().to_string().contains("OTEL_EXPORTER_OTLP_PROTOCOL"));
    }

    #[test]
    fn a_continued_span_is_exported_under_the_remote_parent_and_hands_on_its_own_id() {
        use opentelemetry_sdk::trace::InMemorySpanExporter;
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("t")));
        let parent = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();

        let handed_on = tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request");
            continue_trace(&span, &parent);
            traceparent_of(&span).expect("export on: the span has ids")
        });

        let [exported] = exporter.get_finished_spans().unwrap().try_into().expect("one span");
        assert_eq!(handed_on.trace_id, parent.trace_id, "the caller's trace");
        assert_eq!(exported.span_context.trace_id().to_bytes(), parent.trace_id.to_bytes());
        assert_eq!(
            exported.parent_span_id.to_bytes(),
            parent.parent_id.to_bytes(),
            "under the caller's span"
        );
        assert_eq!(handed_on.parent_id.to_bytes(), exported.span_context.span_id().to_bytes(), "its own id");
        assert!(handed_on.sampled());
    }

    #[test]
    fn without_export_a_span_has_no_trace_ids_to_hand_on() {
        let subscriber = tracing_subscriber::registry();
        let parent = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request");
            continue_trace(&span, &parent);
            assert_eq!(traceparent_of(&span), None);
        });
    }

    #[test]
    fn the_exporters_own_stack_is_never_traced() {
        assert!(exported("api::routes::tasks") && exported("worker"));
        assert!(
            !exported("opentelemetry_sdk")
                && !exported("hyper_util::client")
                && !exported("reqwest::connect")
        );
    }
}
