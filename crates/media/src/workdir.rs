//! A private temp folder per task, removed on drop and swept after a crash.

use std::io;
use std::path::{Path, PathBuf};

/// The marker file naming the owning process, so that [`Workdir::sweep`] in one worker never
/// deletes the folder of another live worker sharing the same root.
const OWNER_FILE: &str = ".owner";

/// A temp folder for one task's media files (video, audio, frames), removed with everything in
/// it when dropped: on success, on error and when the task's future is cancelled.
///
/// A crash skips `Drop`; [`Workdir::sweep`] at worker start removes what is left.
#[derive(Debug)]
pub struct Workdir {
    path: PathBuf,
}

impl Workdir {
    /// The conventional root: `$TMPDIR/recipe-relay-media`.
    pub fn default_root() -> PathBuf {
        std::env::temp_dir().join("recipe-relay-media")
    }

    /// Creates `root/name` (and `root`), empty: a leftover of an earlier attempt of the same
    /// task under that name is removed first.
    ///
    /// Blocking file-system calls (a few µs): fine from async code.
    ///
    /// # Errors
    /// `InvalidInput` when `name` is empty or not a single path component; any error creating
    /// the folder.
    pub fn create(root: &Path, name: &str) -> io::Result<Workdir> {
        let single = Path::new(name).components().count() == 1
            && !matches!(name, "" | "." | "..")
            && !name.contains('/')
            && name != OWNER_FILE;
        if !single {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("work folder name {name:?} is not a single path component"),
            ));
        }
        std::fs::create_dir_all(root)?;
        let path = root.join(name);
        match std::fs::remove_dir_all(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::fs::create_dir(&path)?;
        let dir = Workdir { path };
        std::fs::write(dir.path.join(OWNER_FILE), owner_tag())?;
        Ok(dir)
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes every folder under `root` whose owning process is gone (crash leftovers),
    /// keeping those of live processes. Returns how many were removed; a missing root is 0.
    ///
    /// # Errors
    /// Reading `root` failed, or removing a leftover failed.
    pub fn sweep(root: &Path) -> io::Result<usize> {
        let entries = match std::fs::read_dir(root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                let owner = std::fs::read_to_string(path.join(OWNER_FILE)).unwrap_or_default();
                if owner_alive(owner.trim()) {
                    continue;
                }
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
            removed += 1;
        }
        Ok(removed)
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        // A file operation of a cancelled task may still be finishing on tokio's blocking
        // pool and add an entry while we delete: a second pass then finds the folder empty.
        let mut result = Ok(());
        for _ in 0..3 {
            result = std::fs::remove_dir_all(&self.path);
            match &result {
                Ok(()) => return,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
            }
        }
        if let Err(e) = result {
            tracing::warn!(path = %self.path.display(), error = %e, "could not remove the media work folder");
        }
    }
}

/// Creates one folder inside a work folder, synchronously and without creating parents.
///
/// Not `tokio::fs::create_dir_all`: that runs on the blocking pool and goes on after a
/// cancelled task's future is dropped, so it could re-create the folder `Workdir::drop` just
/// removed and leave it behind.
pub(crate) fn make_subdir(path: &Path) -> io::Result<()> {
    match std::fs::create_dir(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

/// "PID STARTTIME": the start time (from /proc) tells a live owner from a new process that got
/// the same PID, which is common in containers where the worker is always PID 7 or so.
fn owner_tag() -> String {
    let pid = std::process::id();
    format!("{pid} {}", start_time(pid).unwrap_or_default())
}

fn owner_alive(tag: &str) -> bool {
    let mut parts = tag.split(' ');
    let (Some(pid), Some(start)) = (parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    start_time(pid).is_some_and(|now| now == start)
}

/// Field 22 of /proc/PID/stat (start time in clock ticks since boot); None when the process
/// does not exist or is a zombie.
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state).
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19).map(|s| (*s).to_owned())
}
