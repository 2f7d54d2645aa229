//! A trace submitted with the request continues in the worker's spans: the attempt's span is
//! a child of the request's span, the steps are children of the attempt, the provider calls
//! children of their step.

use std::sync::Arc;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Key, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use protocol::{Origin, RequestId, TraceParent};
use tracing_subscriber::layer::SubscriberExt as _;

use crate::fakes::{EchoExtractor, ScriptedScraper};
use crate::{Env, config, spawn, until_terminal};

const SUBMITTED: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes.iter().find(|kv| kv.key == Key::from(key.to_owned())).map(|kv| &kv.value)
}

#[tokio::test]
async fn the_spans_of_a_job_continue_the_trace_submitted_with_the_request() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("worker-test")));
    // This thread's subscriber: the test's runtime runs the worker's tasks on it.
    let _subscriber = tracing::subscriber::set_default(subscriber);
    let env = Env::new().await;
    let mut feed = env.feed().await;
    let (stop, worker) =
        spawn(env.worker(Arc::new(ScriptedScraper::ok()), Arc::new(EchoExtractor), config()));
    let submitted = TraceParent::parse(SUBMITTED).unwrap();
    let origin = Origin {
        traceparent: Some(submitted),
        request_id: Some(RequestId::parse("req-from-the-app").unwrap()),
    };

    let job = env.submit_from("https://www.tiktok.com/@chef/video/1", "de", origin).await;
    until_terminal(&mut feed, job.task_id).await;
    // Once the worker has stopped, every span of the job has ended (and so been exported).
    stop.cancel();
    worker.await.unwrap().unwrap();

    let spans = exporter.get_finished_spans().unwrap();
    let task = job.task_id.to_string();
    let attempt = spans
        .iter()
        .find(|s| s.name == "job" && attribute(s, "task_id").is_some_and(|v| v.as_str() == task))
        .unwrap_or_else(|| {
            panic!("an exported job span: {:?}", spans.iter().map(|s| &s.name).collect::<Vec<_>>())
        });
    assert_eq!(
        attempt.span_context.trace_id().to_bytes(),
        submitted.trace_id.to_bytes(),
        "the submitted trace"
    );
    assert_eq!(attempt.parent_span_id.to_bytes(), submitted.parent_id.to_bytes(), "under the request's span");
    assert_eq!(attribute(attempt, "request_id").map(Value::as_str).as_deref(), Some("req-from-the-app"));

    let in_trace: Vec<&SpanData> =
        spans.iter().filter(|s| s.span_context.trace_id() == attempt.span_context.trace_id()).collect();
    let steps: Vec<&SpanData> = in_trace
        .iter()
        .copied()
        .filter(|s| s.name == "step" && s.parent_span_id == attempt.span_context.span_id())
        .collect();
    let mut numbers: Vec<i64> = steps
        .iter()
        .map(|s| {
            let step = attribute(s, "step").expect("a step number");
            step.as_str().parse().unwrap_or_else(|_| panic!("a step number, got {step:?}"))
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, vec![1, 2, 3, 4], "a span per step, children of the attempt");
    let calls: Vec<&SpanData> = in_trace.iter().copied().filter(|s| s.name == "provider_call").collect();
    assert!(!calls.is_empty(), "the scraper and extractor calls have spans");
    for call in calls {
        assert!(
            steps.iter().any(|step| step.span_context.span_id() == call.parent_span_id),
            "a provider call hangs under its step"
        );
    }
}
