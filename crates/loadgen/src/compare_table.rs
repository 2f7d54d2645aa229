//! The table `loadgen compare` prints: each figure's median over the rounds with its spread
//! (min–max), on each side, and their ratio; then recipe-relay's exact per-task costs.

use std::collections::BTreeMap;

use crate::compare::{CompareArgs, SideRound};
use crate::report::Run;

/// What the table's first lines say about the run.
#[derive(Debug)]
pub(crate) struct Header {
    pub(crate) rounds: usize,
    pub(crate) cpus: usize,
    /// 1-minute load average at the start and at the end.
    pub(crate) load: (f64, f64),
    pub(crate) minutes: f64,
    pub(crate) commit: Option<String>,
}

/// Median, min and max of some values (the mean of the middle two for an even count).
fn spread(values: &[f64]) -> Option<(f64, f64, f64)> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 };
    Some((median, v[0], v[n - 1]))
}

fn number(x: f64, decimals: usize) -> String {
    let text = format!("{x:.decimals$}");
    let (int, frac) = text.split_once('.').map_or((text.as_str(), None), |(i, f)| (i, Some(f)));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

fn cell(values: &[f64], decimals: usize) -> String {
    match spread(values) {
        Some((median, min, max)) if values.len() > 1 => {
            format!("{} ({}–{})", number(median, decimals), number(min, decimals), number(max, decimals))
        }
        Some((median, ..)) => number(median, decimals),
        None => "–".to_owned(),
    }
}

/// The value of group `name` in a by-group list; the sum of all of them for `"all"`.
fn group(list: &[(String, f64)], name: &str) -> Option<f64> {
    if name == "all" {
        return (!list.is_empty()).then(|| list.iter().map(|(_, v)| v).sum());
    }
    list.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
}

/// One table row: a label, recipe-relay's values, the peer's values.
struct Row {
    label: String,
    relay: Vec<f64>,
    python: Vec<f64>,
    decimals: usize,
}

impl Row {
    fn new(label: &str, decimals: usize, relay: Vec<f64>, python: Vec<f64>) -> Self {
        Self { label: label.to_owned(), relay, python, decimals }
    }

    fn line(&self) -> String {
        // A ratio of figures that round to zero (or below) says nothing.
        let shown = |x: f64| x > 0.0 && !number(x, self.decimals).trim_start_matches(['0', '.']).is_empty();
        let ratio = match (spread(&self.relay), spread(&self.python)) {
            (Some((r, ..)), Some((p, ..))) if shown(r) && shown(p) => format!("{:.2}x", p / r),
            _ => "–".to_owned(),
        };
        format!(
            "{:<46} {:>28} {:>28} {:>9}",
            self.label,
            cell(&self.relay, self.decimals),
            cell(&self.python, self.decimals),
            ratio
        )
    }
}

/// The rows of a by-group figure: the total, then recipe-relay's groups beside the peer's.
fn grouped_rows(
    title: &str,
    unit: &str,
    decimals: usize,
    pairs: &[(&str, &str)],
    relay: &[SideRound],
    python: &[SideRound],
    get: fn(&SideRound) -> &Vec<(String, f64)>,
) -> Vec<Row> {
    let values = |rounds: &[SideRound], name: &str| -> Vec<f64> {
        if name.is_empty() {
            return Vec::new();
        }
        rounds.iter().filter_map(|r| group(get(r), name)).collect()
    };
    let mut rows =
        vec![Row::new(&format!("{title} ({unit})"), decimals, values(relay, "all"), values(python, "all"))];
    for (r, p) in pairs {
        let label =
            format!("  {} | {}", if r.is_empty() { "–" } else { r }, if p.is_empty() { "–" } else { p });
        rows.push(Row::new(&label, decimals, values(relay, r), values(python, p)));
    }
    rows
}

/// A round's server CPU per task without what the offline providers' calls used: the peer's
/// worker does no provider work (it sleeps), recipe-relay's extracts a recipe from the fixture.
fn less_providers(round: &SideRound) -> Option<f64> {
    Some(group(&round.cpu_per_task_us, "all")? - round.provider_cpu_per_task_us?)
}

/// Prints the whole table.
pub(crate) fn print(
    header: &Header,
    args: &CompareArgs,
    log_filter: &str,
    relay: &[SideRound],
    python: &[SideRound],
) {
    println!(
        "recipe-relay vs the Python peer: {} rounds alternating sides, fresh processes per measurement, \
         {} cores, load average {:.2} -> {:.2}, {:.1} min{}",
        header.rounds,
        header.cpus,
        header.load.0,
        header.load.1,
        header.minutes,
        header.commit.as_deref().map(|c| format!(", commit {c}")).unwrap_or_default()
    );
    println!(
        "bench.py e2e --n {} (all at once, after {} to warm up) | sockets --n {} --hold {} | poll --concurrency {} --seconds {}; \
         provider work {} ms/step (relay {} ms/call), recipe cache off; relay: 1 worker x {}, log filter {log_filter}, \
         Postgres fsync on; peer: celery prefork x2, uvicorn x1",
        args.tasks,
        args.warm_up,
        args.sockets,
        args.hold_secs,
        args.poll_concurrency,
        args.poll_secs,
        args.step_sleep_ms,
        args.step_sleep_ms * 5 / 2,
        args.relay_concurrency
    );
    println!(
        "server CPU = utime+stime of every process of the side (/proc), its idle rate taken off; median (min–max)"
    );
    println!();
    println!("{:<46} {:>28} {:>28} {:>9}", "figure", "recipe-relay", "python peer", "py/relay");
    let pairs = [("api", "uvicorn"), ("worker", "celery"), ("redis", "redis"), ("postgres", "")];
    let mut rows = grouped_rows("server CPU per task, all processes", "µs", 0, &pairs, relay, python, |r| {
        &r.cpu_per_task_us
    });
    rows.push(Row::new(
        "    of worker: offline providers' calls | –",
        0,
        relay.iter().filter_map(|r| r.provider_cpu_per_task_us).collect(),
        Vec::new(),
    ));
    rows.push(Row::new(
        "server CPU per task less providers (µs)",
        0,
        relay.iter().filter_map(less_providers).collect(),
        python.iter().filter_map(|r| group(&r.cpu_per_task_us, "all")).collect(),
    ));
    rows.push(Row::new(
        "tasks/s, all submitted at once",
        0,
        relay.iter().map(|r| r.tasks_per_s).collect(),
        python.iter().map(|r| r.tasks_per_s).collect(),
    ));
    rows.push(Row::new(
        "  bench.py's own CPU per task (µs, the client)",
        0,
        relay.iter().map(|r| r.client_cpu_per_task_us).collect(),
        python.iter().map(|r| r.client_cpu_per_task_us).collect(),
    ));
    let rss_pairs = [("api", "uvicorn"), ("redis", "redis"), ("worker", "celery"), ("postgres", "")];
    rows.extend(grouped_rows("RSS per idle socket", "KiB", 1, &rss_pairs, relay, python, |r| {
        &r.rss_per_socket_kib
    }));
    rows.extend(grouped_rows("GET /task/{id} CPU per request", "µs", 1, &pairs, relay, python, |r| {
        &r.get_cpu_us
    }));
    rows.push(Row::new(
        "  GET requests/s (bench.py-bound, for reference)",
        0,
        relay.iter().map(|r| r.get_rps).collect(),
        python.iter().map(|r| r.get_rps).collect(),
    ));
    rows.push(Row::new(
        "Redis commands per task (commandstats)",
        2,
        relay.iter().map(|r| r.redis.commands).collect(),
        python.iter().map(|r| r.redis.commands).collect(),
    ));
    rows.push(Row::new(
        "Redis reads per task (reads processed)",
        2,
        relay.iter().map(|r| r.redis.reads).collect(),
        python.iter().map(|r| r.redis.reads).collect(),
    ));
    for row in &rows {
        println!("{}", row.line());
    }
    let held = |rounds: &[SideRound]| {
        rounds.iter().map(|r| r.sockets_held.to_string()).collect::<Vec<_>>().join("/")
    };
    let done = |rounds: &[SideRound]| {
        rounds.iter().map(|r| format!("{}+{}", r.completed, r.failed)).collect::<Vec<_>>().join(" ")
    };
    println!(
        "tasks completed+failed per round: relay {}, python {}; sockets held: relay {}, python {}",
        done(relay),
        done(python),
        held(relay),
        held(python)
    );
    println!();
    print_costs(args, relay);
}

/// recipe-relay's per-task costs: Redis (all commands, scripts, client commands, round trips)
/// and Postgres statements.
fn print_costs(args: &CompareArgs, relay: &[SideRound]) {
    let line = |label: &str, values: Vec<f64>| println!("{label:<66} {:>28}", cell(&values, 2));
    println!("recipe-relay, cost per task (exact counters; median (min–max) over the rounds)");
    println!("e2e batch, {} tasks at once:", args.tasks);
    line(
        "  Redis commands, all, inside scripts too (INFO commandstats)",
        relay.iter().map(|r| r.redis.commands).collect(),
    );
    line("    scripts run (EVALSHA/EVAL calls)", relay.iter().map(|r| r.redis.scripts).collect());
    line(
        "  Redis reads (total_reads_processed; concurrent tasks share reads)",
        relay.iter().map(|r| r.redis.reads).collect(),
    );
    let counted: Vec<_> = relay.iter().filter_map(|r| r.counted.as_ref()).collect();
    if !counted.is_empty() {
        let total = |m: &BTreeMap<String, f64>| m.values().sum::<f64>();
        println!("MONITOR batch, {} tasks at once:", args.monitor_tasks);
        line(
            "  Redis commands sent by clients (round trips, less pipelining)",
            counted.iter().map(|c| total(&c.client)).collect(),
        );
        println!("      {}", breakdown(counted.iter().map(|c| &c.client)));
        line("  Redis commands run inside scripts", counted.iter().map(|c| total(&c.in_scripts)).collect());
        println!("      {}", breakdown(counted.iter().map(|c| &c.in_scripts)));
    }
    println!(
        "e2e batch, all Redis commands by name: {}",
        breakdown(relay.iter().map(|r| &r.redis.by_command))
    );
    let pg: Vec<_> = relay.iter().filter_map(|r| r.postgres.as_ref()).collect();
    line(
        "  Postgres statements sent (pg_stat_statements, top level)",
        pg.iter().map(|p| p.statements).collect(),
    );
    line("  Postgres statements nested in functions and triggers", pg.iter().map(|p| p.nested).collect());
    let mut by_statement: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for p in &pg {
        for (text, per) in &p.by_statement {
            by_statement.entry(text).or_default().push(*per);
        }
    }
    let mut statements: Vec<(&str, Vec<f64>)> = by_statement.into_iter().collect();
    statements.sort_by(|a, b| {
        let m = |v: &[f64]| spread(v).map_or(0.0, |s| s.0);
        m(&b.1).total_cmp(&m(&a.1)).then_with(|| a.0.cmp(b.0))
    });
    for (text, values) in statements {
        println!("    {:>8}  {text}", cell(&values, 2));
    }
}

/// `name median, ...` over the rounds' per-name maps, largest first.
fn breakdown<'a>(maps: impl Iterator<Item = &'a BTreeMap<String, f64>>) -> String {
    let mut by_name: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for map in maps {
        for (name, value) in map {
            by_name.entry(name).or_default().push(*value);
        }
    }
    let mut medians: Vec<(&str, f64)> =
        by_name.into_iter().filter_map(|(name, v)| Some((name, spread(&v)?.0))).collect();
    medians.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    medians.iter().map(|(name, m)| format!("{name} {m:.2}")).collect::<Vec<_>>().join(", ")
}

/// The medians as a report run (for `--json`), every round's figures in its details.
pub(crate) fn to_run(args: &CompareArgs, relay: &[SideRound], python: &[SideRound]) -> Run {
    let mut run = Run::new("compare", args);
    for (side, rounds) in [("relay", relay), ("python", python)] {
        let mut add = |what: &str, unit: &'static str, values: Vec<f64>| {
            if let Some((median, ..)) = spread(&values) {
                run.add(&format!("{side}.{what}"), median, unit);
            }
        };
        add("cpu_per_task", "us", rounds.iter().filter_map(|r| group(&r.cpu_per_task_us, "all")).collect());
        add("cpu_per_task_less_providers", "us", rounds.iter().filter_map(less_providers).collect());
        add(
            "provider_cpu_per_task",
            "us",
            rounds.iter().filter_map(|r| r.provider_cpu_per_task_us).collect(),
        );
        add("tasks_per_s", "tasks/s", rounds.iter().map(|r| r.tasks_per_s).collect());
        add(
            "rss_per_socket",
            "KiB",
            rounds.iter().filter_map(|r| group(&r.rss_per_socket_kib, "all")).collect(),
        );
        add("get_cpu_per_request", "us", rounds.iter().filter_map(|r| group(&r.get_cpu_us, "all")).collect());
        add("redis_commands_per_task", "cmds", rounds.iter().map(|r| r.redis.commands).collect());
        add("redis_reads_per_task", "", rounds.iter().map(|r| r.redis.reads).collect());
        add(
            "redis_client_commands_per_task",
            "cmds",
            rounds.iter().filter_map(|r| r.counted.as_ref().map(|c| c.client.values().sum())).collect(),
        );
        add(
            "postgres_statements_per_task",
            "",
            rounds.iter().filter_map(|r| r.postgres.as_ref().map(|p| p.statements)).collect(),
        );
        add(
            "postgres_nested_statements_per_task",
            "",
            rounds.iter().filter_map(|r| r.postgres.as_ref().map(|p| p.nested)).collect(),
        );
    }
    run.detail("relay_rounds", relay);
    run.detail("python_rounds", python);
    run
}

/// `git describe --always --dirty` of the current folder.
pub(crate) fn commit() -> Option<String> {
    std::process::Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_are_median_min_and_max() {
        assert_eq!(spread(&[3.0, 1.0, 2.0]), Some((2.0, 1.0, 3.0)));
        assert_eq!(spread(&[4.0, 1.0, 2.0, 3.0]), Some((2.5, 1.0, 4.0)));
        assert_eq!(spread(&[]), None);
    }

    #[test]
    fn cells_group_thousands_and_show_the_spread() {
        assert_eq!(cell(&[1520.4, 1480.0, 1600.9], 0), "1,520 (1,480–1,601)");
        assert_eq!(cell(&[15.25], 1), "15.2");
        assert_eq!(number(-1234.5, 1), "-1,234.5");
        assert_eq!(cell(&[], 0), "–");
    }
}
