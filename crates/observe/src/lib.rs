//! The metrics both binaries share: one Prometheus recorder per process, the latency buckets,
//! `relay_build_info` and the process metrics (CPU, memory, open files).
//!
//! Each binary records with the `metrics` macros (`counter!`, `gauge!`, `histogram!`) wherever
//! the event happens and serves [`Registry::render`] on its own `/metrics`.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Bucket bounds, in seconds, of every `*_seconds` histogram: from sub-millisecond event
/// deliveries and HTTP requests up to multi-minute provider runs and whole tasks.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
    300.0, 600.0,
];

/// How often histograms are compacted when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process's metrics, ready to render.
#[derive(Clone)]
pub struct Registry {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

static GLOBAL: OnceLock<Registry> = OnceLock::new();

impl Registry {
    /// The process-wide registry, installed on the first call as the `metrics` recorder, with
    /// `relay_build_info{service, version}` set to 1. Later calls return the same registry (tests
    /// build several apps in one process); `service` is "api" or "worker".
    ///
    /// # Panics
    /// When another `metrics` recorder was installed before: a programming error.
    pub fn install(service: &'static str) -> Self {
        GLOBAL
            .get_or_init(|| {
                let handle = PrometheusBuilder::new()
                    .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                    .expect("the bucket list is not empty")
                    .install_recorder()
                    .expect("no other metrics recorder is installed");
                let upkeep = handle.clone();
                std::thread::Builder::new()
                    .name("metrics-upkeep".into())
                    .spawn(move || {
                        loop {
                            std::thread::sleep(UPKEEP_EVERY);
                            upkeep.run_upkeep();
                        }
                    })
                    .expect("a thread can be started at startup");
                let process = metrics_process::Collector::default();
                process.describe();
                metrics::describe_gauge!("relay_build_info", "Always 1; the labels name the running build.");
                metrics::gauge!("relay_build_info", "service" => service, "version" => env!("CARGO_PKG_VERSION"))
                    .set(1.0);
                Self { handle, process }
            })
            .clone()
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric, process metrics freshly
    /// read.
    pub fn render(&self) -> String {
        self.process.collect();
        self.handle.render()
    }
}

/// The `Content-Type` of [`Registry::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_histogram_renders_with_the_shared_buckets() {
        Registry::install("test");
        metrics::histogram!("relay_test_duration_seconds", "step" => "x").record(0.003);
        metrics::counter!("relay_test_total").increment(2);
        let text = Registry::install("other").render();
        assert!(text.contains("relay_build_info{service=\"test\""), "{text}");
        assert!(text.contains("relay_test_duration_seconds_bucket{step=\"x\",le=\"0.005\"} 1"), "{text}");
        assert!(text.contains("relay_test_duration_seconds_bucket{step=\"x\",le=\"0.0025\"} 0"), "{text}");
        assert!(text.contains("relay_test_total 2"), "{text}");
        assert!(text.contains("process_cpu_seconds_total"), "{text}");
    }
}
