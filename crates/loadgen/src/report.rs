//! Percentiles, figures and the report: one summary line per figure, and JSON for comparing
//! commits.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

/// Latency samples, summarized (in the unit the samples were in).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Summary {
    /// How many samples.
    pub(crate) count: usize,
    /// Their mean.
    pub(crate) mean: f64,
    /// Median.
    pub(crate) p50: f64,
    /// 90th percentile.
    pub(crate) p90: f64,
    /// 99th percentile.
    pub(crate) p99: f64,
    /// The largest sample.
    pub(crate) max: f64,
}

impl Summary {
    /// Sorts the samples and summarizes them; `None` when there are none.
    pub(crate) fn of(samples: &mut [f64]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_by(f64::total_cmp);
        let count = samples.len();
        Some(Self {
            count,
            mean: samples.iter().sum::<f64>() / count as f64,
            p50: percentile(samples, 0.50),
            p90: percentile(samples, 0.90),
            p99: percentile(samples, 0.99),
            max: samples[count - 1],
        })
    }

    /// Summarizes microsecond samples in milliseconds.
    pub(crate) fn of_micros_as_ms(samples: &[u64]) -> Option<Self> {
        let mut ms: Vec<f64> = samples.iter().map(|&us| us as f64 / 1000.0).collect();
        Self::of(&mut ms)
    }
}

/// Nearest-rank percentile of sorted samples: the smallest sample with at least `q` of all
/// samples at or below it. `q` is in 0..=1.
pub(crate) fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// What a figure should be.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Target {
    /// At most this value.
    AtMost(f64),
    /// At least this value.
    AtLeast(f64),
}

impl Target {
    fn met(self, value: f64) -> bool {
        match self {
            Self::AtMost(limit) => value <= limit,
            Self::AtLeast(limit) => value >= limit,
        }
    }
}

/// One measured number.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Figure {
    /// `scenario.what`, e.g. `latency.p99`.
    pub(crate) name: String,
    /// The number.
    pub(crate) value: f64,
    /// Its unit.
    pub(crate) unit: &'static str,
    /// The target, if the issue sets one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) target: Option<Target>,
    /// Whether the target was met.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) met: Option<bool>,
}

impl Figure {
    /// The summary line printed for this figure.
    pub(crate) fn line(&self) -> String {
        let mut line = format!("{:<36} {:>12} {:<8}", self.name, format_value(self.value), self.unit);
        if let Some(target) = self.target {
            let (op, limit) = match target {
                Target::AtMost(limit) => ("<=", limit),
                Target::AtLeast(limit) => (">=", limit),
            };
            let verdict = if target.met(self.value) { "met" } else { "MISSED" };
            let _ = write!(line, " target {op} {} {}: {verdict}", format_value(limit), self.unit);
        }
        line.trim_end().to_owned()
    }
}

fn format_value(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else if value.abs() >= 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}")
    }
}

/// The figures of one scenario run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Run {
    /// The scenario, e.g. `latency`.
    pub(crate) scenario: String,
    /// Its parameters as given.
    pub(crate) params: serde_json::Value,
    /// What was measured.
    pub(crate) figures: Vec<Figure>,
    /// Extra detail worth keeping (per-command Redis counts, ...).
    pub(crate) details: serde_json::Value,
}

impl Run {
    /// An empty run of `scenario`.
    pub(crate) fn new(scenario: &str, params: impl Serialize) -> Self {
        Self {
            scenario: scenario.to_owned(),
            params: serde_json::to_value(params).unwrap_or_default(),
            figures: Vec::new(),
            details: serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    /// Adds a figure without a target.
    pub(crate) fn add(&mut self, what: &str, value: f64, unit: &'static str) {
        self.push(what, value, unit, None);
    }

    /// Adds a figure with a target.
    pub(crate) fn add_target(&mut self, what: &str, value: f64, unit: &'static str, target: Target) {
        self.push(what, value, unit, Some(target));
    }

    fn push(&mut self, what: &str, value: f64, unit: &'static str, target: Option<Target>) {
        let name = format!("{}.{what}", self.scenario);
        let met = target.map(|t| t.met(value));
        self.figures.push(Figure { name, value, unit, target, met });
    }

    /// Adds p50/p99/max (and the count) of a latency summary in milliseconds; the target, if
    /// any, applies to p99.
    pub(crate) fn add_latency(&mut self, what: &str, summary: Option<Summary>, p99_target: Option<f64>) {
        let Some(s) = summary else {
            self.add(&format!("{what}.samples"), 0.0, "");
            return;
        };
        self.add(&format!("{what}.samples"), s.count as f64, "");
        self.add(&format!("{what}.p50"), s.p50, "ms");
        match p99_target {
            Some(limit) => self.add_target(&format!("{what}.p99"), s.p99, "ms", Target::AtMost(limit)),
            None => self.add(&format!("{what}.p99"), s.p99, "ms"),
        }
        self.add(&format!("{what}.max"), s.max, "ms");
    }

    /// Records extra detail under `key`.
    pub(crate) fn detail(&mut self, key: &str, value: impl Serialize) {
        if let serde_json::Value::Object(map) = &mut self.details {
            map.insert(key.to_owned(), serde_json::to_value(value).unwrap_or_default());
        }
    }

    /// Prints one line per figure.
    pub(crate) fn print(&self) {
        for figure in &self.figures {
            println!("{}", figure.line());
        }
    }
}

/// Writes every run as one JSON document.
///
/// # Errors
/// When the file cannot be written.
pub(crate) fn write_json(path: &Path, runs: &[Run]) -> anyhow::Result<()> {
    let commit = std::process::Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let doc = serde_json::json!({
        "tool": "loadgen",
        "commit": commit,
        "unix_time": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default(),
        "machine": { "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0) },
        "runs": runs,
    });
    std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&sorted, 0.50), 50.0);
        assert_eq!(percentile(&sorted, 0.99), 99.0);
        assert_eq!(percentile(&sorted, 1.0), 100.0);
        assert_eq!(percentile(&sorted, 0.0), 1.0, "rank 0 is clamped to the smallest sample");
        assert_eq!(percentile(&[7.0], 0.99), 7.0);
        // 10 samples: p99 is the 10th (the largest), p90 the 9th.
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&ten, 0.99), 10.0);
        assert_eq!(percentile(&ten, 0.90), 9.0);
    }

    #[test]
    fn summaries_sort_their_samples() {
        let mut samples = vec![5.0, 1.0, 4.0, 2.0, 3.0];
        let s = Summary::of(&mut samples).unwrap();
        assert_eq!((s.count, s.p50, s.max, s.mean), (5, 3.0, 5.0, 3.0));
        assert_eq!(Summary::of(&mut []), None);
        let ms = Summary::of_micros_as_ms(&[1500, 500, 2500]).unwrap();
        assert_eq!((ms.p50, ms.max), (1.5, 2.5));
    }

    #[test]
    fn figures_report_their_targets() {
        let mut run = Run::new("latency", serde_json::json!({}));
        run.add_target("p99", 4.2, "ms", Target::AtMost(5.0));
        run.add_target("jobs_per_s", 900.0, "jobs/s", Target::AtLeast(1000.0));
        run.add("sent", 10000.0, "events");
        assert_eq!(run.figures[0].met, Some(true));
        assert_eq!(run.figures[1].met, Some(false));
        assert_eq!(run.figures[2].met, None);
        assert!(run.figures[0].line().ends_with("target <= 5 ms: met"), "{}", run.figures[0].line());
        assert!(run.figures[1].line().contains("MISSED"));
        assert!(run.figures[2].line().starts_with("latency.sent"));
    }

    #[test]
    fn latency_figures_cover_p50_p99_and_max() {
        let mut run = Run::new("poll", serde_json::json!({}));
        run.add_latency("get", Summary::of(&mut [1.0, 2.0, 3.0]), Some(10.0));
        let names: Vec<&str> = run.figures.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["poll.get.samples", "poll.get.p50", "poll.get.p99", "poll.get.max"]);
        assert_eq!(run.figures[2].met, Some(true));
    }
}
