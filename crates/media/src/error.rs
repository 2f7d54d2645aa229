//! The one error type of the crate, split into permanent and transient failures.

use std::time::Duration;

/// Why a media step failed.
///
/// The worker ends a task at once on a [permanent](MediaError::is_permanent) error and retries
/// the others with backoff; [`code`](MediaError::code) is the task's machine-readable reason.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The video is larger than `Limits::max_bytes` (by its Content-Length or by the bytes
    /// actually received). Permanent: the same file will be as large on a retry.
    #[error("the video is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit that was exceeded, in bytes.
        limit: u64,
    },
    /// The video lasts longer than `Limits::max_secs`. Permanent.
    #[error("the video lasts {secs:.1} s, longer than the limit of {limit} s")]
    TooLong {
        /// The duration ffprobe reported.
        secs: f64,
        /// The limit, in seconds.
        limit: u32,
    },
    /// ffprobe/ffmpeg cannot read the file as a video (corrupt, not a video, no video
    /// stream). Permanent; the text says what was wrong.
    #[error("the video is unreadable: {0}")]
    Unreadable(String),
    /// A child process or the download took longer than `Limits::timeout` and was killed.
    /// Transient: a loaded machine or a slow network may do better on a retry.
    #[error("{what} did not finish within {} s", after.as_secs())]
    Timeout {
        /// What timed out: "ffmpeg", "ffprobe", "tesseract" or "download".
        what: &'static str,
        /// The timeout that elapsed.
        after: Duration,
    },
    /// A tool exited with an error or was killed by a signal (say the OOM killer) on a file
    /// that ffprobe had accepted. Transient: such failures come from the machine, not the file.
    #[error("{tool} failed: {message}")]
    ToolFailed {
        /// The tool's name.
        tool: &'static str,
        /// Its exit status and the last lines of its stderr.
        message: String,
    },
    /// A local file operation failed (disk full, permissions). Transient.
    #[error("media file operation failed: {0}")]
    Io(#[from] std::io::Error),
    /// The download failed on the network (connection reset, DNS, 5xx, 429). Transient.
    #[error("video download failed: {0}")]
    Download(String),
    /// The server answered the download with a client error (403, 404, 410 ...): the stored
    /// video is gone or the URL is wrong. Permanent; 408 and 429 are [`MediaError::Download`].
    #[error("video download refused with HTTP {status}")]
    DownloadRefused {
        /// The HTTP status code.
        status: u16,
    },
}

impl MediaError {
    /// True when retrying cannot help: the task should fail at once.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::TooLarge { .. } | Self::TooLong { .. } | Self::Unreadable(_) | Self::DownloadRefused { .. }
        )
    }

    /// The machine-readable reason, stable for tasks and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "video_too_large",
            Self::TooLong { .. } => "video_too_long",
            Self::Unreadable(_) => "video_unreadable",
            Self::Timeout { .. } => "media_timeout",
            Self::ToolFailed { .. } => "media_tool_failed",
            Self::Io(_) => "media_io",
            Self::Download(_) => "video_download_failed",
            Self::DownloadRefused { .. } => "video_download_refused",
        }
    }
}
