//! Streaming a video URL into a file, under a size cap and a timeout.

use std::path::Path;

use tokio::io::AsyncWriteExt;

use crate::{Limits, MediaError};

/// Streams `url` into `dest` (created or truncated) and returns the number of bytes written.
///
/// The size cap is checked twice: against `Content-Length` before any byte is read (an
/// honest server costs us nothing), then against the bytes actually received (a lying or
/// chunked one is cut off at `max_bytes + 1`). The whole transfer, headers included, must end
/// within `limits.timeout`. On any error the partial file is removed.
///
/// # Errors
/// [`MediaError::TooLarge`] past `max_bytes`; [`MediaError::DownloadRefused`] for a 4xx other
/// than 408/429; [`MediaError::Download`] for network errors, 408, 429 and 5xx;
/// [`MediaError::Timeout`]; [`MediaError::Io`] writing the file.
#[tracing::instrument(skip_all, fields(host = url.host_str().unwrap_or("")))]
pub async fn download(
    client: &reqwest::Client,
    url: &url::Url,
    dest: &Path,
    limits: &Limits,
) -> Result<u64, MediaError> {
    let result = match tokio::time::timeout(limits.timeout, fetch(client, url, dest, limits)).await {
        Ok(result) => result,
        Err(_) => Err(MediaError::Timeout { what: "download", after: limits.timeout }),
    };
    if result.is_err() {
        let _ = tokio::fs::remove_file(dest).await;
    }
    result
}

async fn fetch(
    client: &reqwest::Client,
    url: &url::Url,
    dest: &Path,
    limits: &Limits,
) -> Result<u64, MediaError> {
    let response = client.get(url.clone()).send().await.map_err(|e| MediaError::Download(describe(e)))?;
    save(response, dest, limits).await
}

/// Streams the body of an answer someone else opened into `dest`, under `limits.max_bytes`
/// (the worker opens scraped links itself, to check every redirect hop against its URL
/// policy). The caller bounds the time; on any error the partial file is removed.
///
/// # Errors
/// As [`download`], except [`MediaError::Timeout`].
pub async fn save(response: reqwest::Response, dest: &Path, limits: &Limits) -> Result<u64, MediaError> {
    let result = write(response, dest, limits).await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(dest).await;
    }
    result
}

async fn write(mut response: reqwest::Response, dest: &Path, limits: &Limits) -> Result<u64, MediaError> {
    let status = response.status();
    if !status.is_success() {
        let code = status.as_u16();
        return Err(if status.is_client_error() && code != 408 && code != 429 {
            MediaError::DownloadRefused { status: code }
        } else {
            MediaError::Download(format!("HTTP {status}"))
        });
    }
    if response.content_length().is_some_and(|len| len > limits.max_bytes) {
        return Err(MediaError::TooLarge { limit: limits.max_bytes });
    }
    let mut file = tokio::fs::File::create(dest).await?;
    let mut written: u64 = 0;
    while let Some(chunk) = response.chunk().await.map_err(|e| MediaError::Download(describe(e)))? {
        written += chunk.len() as u64;
        if written > limits.max_bytes {
            return Err(MediaError::TooLarge { limit: limits.max_bytes });
        }
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    tracing::debug!(bytes = written, "video downloaded");
    Ok(written)
}

/// The error with its causes: reqwest's top-level text alone ("error sending request") hides
/// the useful part. The URL is left out: Apify's carry a token.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
