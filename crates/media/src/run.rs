//! Running one external tool: killed on drop and on timeout, output bounded.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use crate::MediaError;

/// Enough of stderr for an error message: ffmpeg repeats itself, the last lines say why.
const STDERR_TAIL: usize = 4 * 1024;
/// Tools whose stdout we read (ffprobe's JSON, tesseract's text) print kilobytes; the cap
/// only guards memory against a misbehaving tool.
const STDOUT_CAP: usize = 8 * 1024 * 1024;

/// A command for one of the tools, with the flags every ffmpeg call shares when `program` is
/// ffmpeg: no stdin interaction, errors only (our stderr tail is for the reason, not progress).
pub(crate) fn ffmpeg(program: &std::path::Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"]);
    cmd
}

/// What a successful run printed.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) stdout: Vec<u8>,
}

/// Runs `cmd` with stdin closed, stdout and the tail of stderr captured, and waits at most
/// `timeout`. The child is killed when the timeout passes and when the returned future is
/// dropped (`kill_on_drop`), so a cancelled task never leaves an ffmpeg running.
///
/// # Errors
/// [`MediaError::Timeout`]; [`MediaError::ToolFailed`] for a spawn error, a non-zero exit or a
/// signal, with the stderr tail.
pub(crate) async fn run(
    tool: &'static str,
    mut cmd: Command,
    timeout: Duration,
) -> Result<Output, MediaError> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| MediaError::ToolFailed {
        tool,
        message: format!("could not start {:?}: {e}", cmd.as_std().get_program()),
    })?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let work = async {
        let (out, err) = tokio::join!(read_head(stdout, STDOUT_CAP), read_tail(stderr, STDERR_TAIL));
        let status = child.wait().await;
        (status, out, err)
    };
    let Ok((status, stdout, stderr)) = tokio::time::timeout(timeout, work).await else {
        // Dropping `work` released the borrow; kill and reap now rather than leave it to
        // kill_on_drop's background reaping.
        let _ = child.kill().await;
        return Err(MediaError::Timeout { what: tool, after: timeout });
    };
    let status = status
        .map_err(|e| MediaError::ToolFailed { tool, message: format!("waiting for it failed: {e}") })?;
    if status.success() {
        Ok(Output { stdout })
    } else {
        Err(MediaError::ToolFailed { tool, message: failure(status, &stderr) })
    }
}

/// "exit status 1: <last stderr line(s)>" or "killed by signal 9 (SIGKILL): ...".
pub(crate) fn failure(status: ExitStatus, stderr: &[u8]) -> String {
    let how = match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}{}", signal_name(sig)),
        (None, None) => "ended abnormally".to_owned(),
    };
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" | ");
    if tail.is_empty() { how } else { format!("{how}: {tail}") }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        9 => " (SIGKILL; out of memory or killed from outside)",
        15 => " (SIGTERM)",
        6 => " (SIGABRT)",
        11 => " (SIGSEGV)",
        _ => "",
    }
}

async fn read_head<R: AsyncRead + Unpin>(reader: Option<R>, cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let Some(mut reader) = reader else { return out };
    let mut buf = [0u8; 8192];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            // Keep draining past the cap so the child never blocks on a full pipe.
            Ok(n) => {
                let room = cap.saturating_sub(out.len()).min(n);
                out.extend_from_slice(&buf[..room]);
            }
        }
    }
    out
}

async fn read_tail<R: AsyncRead + Unpin>(reader: Option<R>, cap: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let Some(mut reader) = reader else { return out };
    let mut buf = [0u8; 4096];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() > cap * 2 {
                    out.drain(..out.len() - cap);
                }
            }
        }
    }
    if out.len() > cap {
        out.drain(..out.len() - cap);
    }
    out
}
