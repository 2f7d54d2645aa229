//! Request ids and traces across the real binaries: the worker's log lines name the request
//! and trace the app started, a collector that is down or never answers slows no request, and
//! a bad endpoint is one startup line.

use std::process::Command;

use e2e::Stack;
use tokio::io::AsyncReadExt as _;
use tokio::net::TcpListener;

use crate::PASTA;

const TRACE: &str = "00-5b8efff798038103d269b633813fc60c-eee19b7ec3c1b174-01";
const TRACE_ID: &str = "5b8efff798038103d269b633813fc60c";

/// Requests sent while the collector is unusable: far more spans than the export queue holds.
const REQUESTS: usize = 60;

/// The batch processor tuned so that a stuck export fills its queue after a few spans.
const SMALL_QUEUE: [(&str, &str); 3] = [
    ("OTEL_BSP_MAX_QUEUE_SIZE", "4"),
    ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2"),
    ("OTEL_BSP_SCHEDULE_DELAY", "1"),
];

#[tokio::test]
async fn the_workers_log_lines_of_a_job_name_the_request_and_the_trace_the_app_sent() {
    // Export off, then on (to a collector that is down): the ids come from the gateway's own
    // context in the first case, from the OpenTelemetry span in the second.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let down = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    for (export, vars) in [("off", vec![]), ("on", vec![("OTEL_EXPORTER_OTLP_ENDPOINT", down.as_str())])] {
        let stack = Stack::new().await;
        let api = stack.api(0, &vars).await.unwrap();
        let mut worker = stack.worker(&vars).await.unwrap();
        let port = api.port.unwrap();
        let request_id = format!("e2e-report-export-{export}");

        let response = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{port}/scrape/async"))
            .bearer_auth(stack.token(uuid::Uuid::new_v4()))
            .header("traceparent", TRACE)
            .header("x-request-id", &request_id)
            .json(&serde_json::json!({"url": PASTA, "language": "en"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202, "export {export}");
        assert_eq!(response.headers()["x-request-id"], request_id.as_str());
        let task: serde_json::Value = response.json().await.unwrap();
        let task = task["task_id"].as_str().expect("a task id").to_owned();

        let saved = worker.wait_for_log("recipe saved").await.unwrap();
        for needle in [TRACE_ID, request_id.as_str(), task.as_str()] {
            assert!(saved.contains(needle), "export {export}: the worker's line names {needle}: {saved}");
        }
    }
}

/// Sends [`REQUESTS`] requests to the gateway; every one must be answered (the test's own
/// timeout is the only clock).
async fn every_request_is_answered(port: u16) {
    let http = reqwest::Client::new();
    for n in 0..REQUESTS {
        let response = http.get(format!("http://127.0.0.1:{port}/healthz")).send().await.unwrap();
        assert_eq!(response.status(), 200, "request {n}");
    }
}

#[tokio::test]
async fn a_collector_that_never_answers_costs_requests_nothing_and_spans_are_dropped_instead() {
    // Accepts every connection, reads the request head and never answers: each export hangs
    // until its timeout.
    let black_hole = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", black_hole.local_addr().unwrap());
    let (heads, mut exports) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = black_hole.accept().await {
            let heads = heads.clone();
            tokio::spawn(async move {
                let mut head = vec![0; 4096];
                let n = socket.read(&mut head).await.unwrap_or_default();
                let _ = heads.send(String::from_utf8_lossy(&head[..n]).into_owned());
                // Held open, unanswered, until the exporter gives up.
                let _ = socket.read(&mut head).await;
            });
        }
    });
    let stack = Stack::new().await;
    let vars = [&[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())][..], &SMALL_QUEUE].concat();
    let mut api = stack.api(0, &vars).await.unwrap();

    every_request_is_answered(api.port.unwrap()).await;

    let head = exports.recv().await.expect("the exporter reached the collector");
    assert!(head.starts_with("POST /v1/traces HTTP/1.1"), "the traces path of the base URL: {head}");
    assert!(head.to_ascii_lowercase().contains("content-type: application/x-protobuf"), "{head}");
    api.wait_for_log("BatchSpanProcessor.SpanDroppingStarted").await.expect("the full queue drops spans");
    assert_eq!(api.terminate().await.unwrap(), Some(0), "shutdown gives up on the flush and exits");
    let total =
        api.wait_for_log("BatchSpanProcessor.SpansDropped").await.expect("the drop count at shutdown");
    assert!(total.contains("dropped_span_count"), "{total}");
}

#[tokio::test]
async fn a_collector_that_is_down_costs_requests_nothing() {
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let stack = Stack::new().await;
    let vars = [&[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())][..], &SMALL_QUEUE].concat();
    let mut api = stack.api(0, &vars).await.unwrap();

    every_request_is_answered(api.port.unwrap()).await;

    api.wait_for_log("BatchSpanProcessor.ExportError").await.expect("the failed export is logged");
    assert_eq!(api.terminate().await.unwrap(), Some(0));
}

#[test]
fn an_invalid_otlp_endpoint_stops_either_binary_with_one_line_naming_it() {
    let settings = [
        ("REDIS_URL", "redis://127.0.0.1:1"),
        ("DATABASE_URL", "postgres://x@127.0.0.1:1/db"),
        ("SUPABASE_JWT_SECRET", "s"),
    ];
    for binary in ["api", "worker"] {
        for endpoint in ["collector:4318", "not a url", "ftp://token@collector"] {
            let output = Command::new(e2e::bin_dir().join(binary))
                .env_clear()
                .envs(settings)
                .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
                .output()
                .unwrap_or_else(|e| panic!("run {binary}: {e}"));
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{binary}, {endpoint}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{binary}, {endpoint}: one line, got {stderr}");
            assert!(stderr.starts_with("error: OTEL_EXPORTER_OTLP_ENDPOINT "), "{binary}: {stderr}");
            assert!(!stderr.contains("token@"), "{binary}: the value is not echoed: {stderr}");
        }
    }
}

/// One exported span, as the stand-in collector decoded it.
#[derive(Debug, Clone)]
struct Exported {
    service: String,
    name: String,
    trace_id: String,
    span_id: String,
    parent_id: String,
    attributes: Vec<(String, String)>,
}

impl Exported {
    fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(value: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> String {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    match value.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        Some(Value::IntValue(n)) => n.to_string(),
        Some(Value::BoolValue(b)) => b.to_string(),
        other => format!("{other:?}"),
    }
}

/// Decodes one OTLP/HTTP protobuf export into its spans.
fn decode(body: &[u8]) -> Vec<Exported> {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message as _;
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP trace export");
    let mut spans = Vec::new();
    for resource in request.resource_spans {
        let service = resource
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .map(|kv| text(kv.value.as_ref()))
            .unwrap_or_default();
        for span in resource.scope_spans.into_iter().flat_map(|s| s.spans) {
            spans.push(Exported {
                service: service.clone(),
                name: span.name,
                trace_id: hex(&span.trace_id),
                span_id: hex(&span.span_id),
                parent_id: hex(&span.parent_span_id),
                attributes: span
                    .attributes
                    .iter()
                    .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
                    .collect(),
            });
        }
    }
    spans
}

/// A stand-in OTLP/HTTP collector: answers every POST with 200 and sends the spans it decoded.
async fn collector() -> (String, tokio::sync::mpsc::UnboundedReceiver<Exported>) {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (spans, received) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let spans = spans.clone();
            tokio::spawn(async move {
                let mut socket = BufReader::new(socket);
                loop {
                    // One request: the head, then Content-Length bytes of protobuf.
                    let mut length = 0;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if socket.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some((name, value)) = line.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    if socket.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    for span in decode(&body) {
                        let _ = spans.send(span);
                    }
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
                    if socket.get_mut().write_all(ok).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (endpoint, received)
}

#[tokio::test]
async fn one_trace_runs_from_the_apps_request_through_the_gateway_and_the_job_to_the_saved_recipe() {
    let (endpoint, mut received) = collector().await;
    let stack = Stack::new().await;
    let vars = [("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()), ("OTEL_BSP_SCHEDULE_DELAY", "50")];
    let api = stack.api(0, &vars).await.unwrap();
    let mut worker = stack.worker(&vars).await.unwrap();

    let response = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{}/scrape/async", api.port.unwrap()))
        .bearer_auth(stack.token(uuid::Uuid::new_v4()))
        .header("traceparent", TRACE)
        .header("x-request-id", "e2e-collector")
        .json(&serde_json::json!({"url": PASTA, "language": "en"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    worker.wait_for_log("recipe saved").await.unwrap();

    // Spans arrive in batches as they end; collect the trace until the job's four steps are in.
    let mut trace: Vec<Exported> = Vec::new();
    let complete = |trace: &[Exported]| {
        trace.iter().any(|s| s.name == "request" && s.attribute("uri") == Some("/scrape/async"))
            && trace.iter().any(|s| s.name == "job")
            && trace.iter().filter(|s| s.name == "step").count() == 4
    };
    let mut others = Vec::new();
    let collected = tokio::time::timeout(crate::TASK_TIME, async {
        while !complete(&trace) {
            let span = received.recv().await.expect("the collector runs");
            if span.trace_id == TRACE_ID {
                trace.push(span);
            } else {
                others.push(span);
            }
        }
    })
    .await;
    assert!(collected.is_ok(), "the trace's spans in time; got {trace:?}, other traces: {others:?}");

    let request = trace.iter().find(|s| s.name == "request").unwrap();
    assert_eq!(request.service, "recipe-relay-api");
    assert_eq!(request.parent_id, "eee19b7ec3c1b174", "under the app's span");
    assert_eq!(request.attribute("request_id"), Some("e2e-collector"));
    let job = trace.iter().find(|s| s.name == "job").unwrap();
    assert_eq!(job.service, "recipe-relay-worker");
    assert_eq!(job.parent_id, request.span_id, "the job hangs under the request that queued it");
    assert_eq!(job.attribute("request_id"), Some("e2e-collector"));
    for step in trace.iter().filter(|s| s.name == "step") {
        assert_eq!(step.parent_id, job.span_id, "{step:?}");
    }
}
