//! CPU time and resident memory of whole process trees, from /proc: what one side of the
//! comparison spent, children included (Postgres backends, Celery's prefork children).

use std::collections::HashMap;
use std::sync::OnceLock;

/// A named part of a deployment: the processes rooted at `roots`, with all their descendants.
#[derive(Debug, Clone)]
pub(crate) struct Group {
    /// `api`, `worker`, `redis`, `postgres`; `uvicorn`, `celery`.
    pub(crate) name: &'static str,
    /// Process ids whose trees make up the group.
    pub(crate) roots: Vec<u32>,
}

impl Group {
    /// A group of one process tree.
    pub(crate) fn new(name: &'static str, root: u32) -> Self {
        Self { name, roots: vec![root] }
    }
}

/// What /proc/<pid>/stat says of one process.
#[derive(Debug, Clone, Copy)]
struct Stat {
    ppid: u32,
    /// utime + stime + cutime + cstime, in clock ticks: the process's own CPU time and that of
    /// the children it has reaped, so a Postgres backend that exits inside a measurement window
    /// still counts (in the postmaster's cutime).
    ticks: u64,
}

fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: the fields that matter come after its closing paren.
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state); ppid is field 4, utime..cstime are fields 14..17.
    let ppid = fields.get(1)?.parse().ok()?;
    let ticks = fields.get(11..15)?.iter().filter_map(|f| f.parse::<u64>().ok()).sum();
    Some(Stat { ppid, ticks })
}

/// Every live process, by pid.
fn all() -> HashMap<u32, Stat> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return HashMap::new() };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, stat(pid)?)))
        .collect()
}

/// The live processes of `roots`' trees (roots first).
fn members(roots: &[u32], procs: &HashMap<u32, Stat>) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (pid, stat) in procs {
        children.entry(stat.ppid).or_default().push(*pid);
    }
    let mut out: Vec<u32> = roots.iter().copied().filter(|pid| procs.contains_key(pid)).collect();
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = children.get(&out[i]) {
            out.extend(kids.iter().filter(|k| !out.contains(k)).copied().collect::<Vec<_>>());
        }
        i += 1;
    }
    out
}

/// CPU seconds each group has used so far (user + system, reaped children included).
pub(crate) fn cpu_seconds(groups: &[Group]) -> Vec<f64> {
    let procs = all();
    let hz = clock_ticks() as f64;
    groups
        .iter()
        .map(|g| members(&g.roots, &procs).iter().map(|pid| procs[pid].ticks as f64 / hz).sum())
        .collect()
}

/// CPU seconds of this process's children that have exited and been waited for (cutime +
/// cstime of /proc/self): read around a `bench.py` run, what the client itself used.
pub(crate) fn reaped_children_cpu_seconds() -> f64 {
    let fields = || -> Option<u64> {
        let text = std::fs::read_to_string("/proc/self/stat").ok()?;
        let (_, rest) = text.rsplit_once(')')?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // cutime and cstime are fields 16 and 17; `rest` starts at field 3.
        Some(fields.get(13..15)?.iter().filter_map(|f| f.parse::<u64>().ok()).sum())
    };
    fields().unwrap_or(0) as f64 / clock_ticks() as f64
}

/// Every live process of each group, as (group name, pid).
pub(crate) fn pids(groups: &[Group]) -> Vec<(&'static str, u32)> {
    let procs = all();
    groups.iter().flat_map(|g| members(&g.roots, &procs).into_iter().map(|pid| (g.name, pid))).collect()
}

/// Clock ticks per second of /proc's times (USER_HZ, 100 on Linux), asked once.
pub(crate) fn clock_ticks() -> u64 {
    static HZ: OnceLock<u64> = OnceLock::new();
    *HZ.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_holds_its_children_and_their_cpu() {
        let mut child = std::process::Command::new("sleep").arg("5").spawn().unwrap();
        let me = Group::new("me", std::process::id());
        let found = pids(std::slice::from_ref(&me));
        let _ = child.kill();
        let _ = child.wait();
        assert!(found.contains(&("me", std::process::id())), "{found:?}");
        assert!(found.contains(&("me", child.id())), "the child is in its parent's tree: {found:?}");
        // Burn CPU until a clock tick of it shows (bounded: ticks are 10 ms).
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while cpu_seconds(std::slice::from_ref(&me))[0] == 0.0 && started.elapsed().as_secs() < 5 {
            x = (0..100_000u64).fold(x, |a, b| a.wrapping_mul(31).wrapping_add(b));
        }
        assert!(cpu_seconds(&[me])[0] > 0.0, "{x}");
    }
}
