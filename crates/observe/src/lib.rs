//! The metrics both binaries share: one Prometheus recorder per process, the latency buckets,
//! `relay_build_info` and the process metrics (CPU, memory, threads, open files).
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
                metrics::describe_gauge!("relay_build_info", "Always 1; the labels name the running build.");
                metrics::gauge!("relay_build_info", "service" => service, "version" => env!("CARGO_PKG_VERSION"))
                    .set(1.0);
                Self { handle }
            })
            .clone()
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric, the process metrics
    /// freshly read.
    pub fn render(&self) -> String {
        let mut text = self.handle.render();
        process::render(&mut text);
        text
    }
}

/// The `Content-Type` of [`Registry::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

mod process {
    //! The standard `process_*` series of Prometheus' client libraries, read from /proc/self at
    //! each scrape. Rendered as text, not recorded: `metrics` counters are integers, and
    //! `process_cpu_seconds_total` needs its fraction of a second.

    /// Appends the process series to `text`; on other systems, or when /proc cannot be read,
    /// there are none.
    pub(super) fn render(text: &mut String) {
        #[cfg(target_os = "linux")]
        if let Some(samples) = read() {
            use std::fmt::Write as _;
            for (name, kind, help, value) in samples {
                let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
            }
        }
    }

    #[cfg(target_os = "linux")]
    fn read() -> Option<Vec<(&'static str, &'static str, &'static str, f64)>> {
        let me = procfs::process::Process::myself().ok()?;
        let stat = me.stat().ok()?;
        let ticks = procfs::ticks_per_second() as f64;
        let mut samples = vec![
            (
                "process_cpu_seconds_total",
                "counter",
                "User and system CPU time spent, in seconds.",
                (stat.utime + stat.stime) as f64 / ticks,
            ),
            (
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size, in bytes.",
                (stat.rss * procfs::page_size()) as f64,
            ),
            ("process_virtual_memory_bytes", "gauge", "Virtual memory size, in bytes.", stat.vsize as f64),
            ("process_threads", "gauge", "Threads of the process.", stat.num_threads as f64),
        ];
        if let Ok(boot) = procfs::boot_time_secs() {
            samples.push((
                "process_start_time_seconds",
                "gauge",
                "Start time of the process since the Unix epoch, in seconds.",
                boot as f64 + stat.starttime as f64 / ticks,
            ));
        }
        if let Ok(open) = me.fd_count() {
            samples.push(("process_open_fds", "gauge", "Open file descriptors.", open as f64));
        }
        if let Ok(limits) = me.limits()
            && let procfs::process::LimitValue::Value(max) = limits.max_open_files.soft_limit
        {
            samples.push(("process_max_fds", "gauge", "Most open file descriptors allowed.", max as f64));
        }
        Some(samples)
    }
}

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
        let cpu = text.lines().find_map(|l| l.strip_prefix("process_cpu_seconds_total ")).expect("cpu line");
        assert!(cpu.parse::<f64>().is_ok_and(|s| s >= 0.0), "{cpu}");
        assert!(text.contains("\nprocess_resident_memory_bytes "), "{text}");
        assert!(text.contains("\nprocess_open_fds "), "{text}");
    }
}
