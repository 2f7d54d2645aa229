//! Every provider call counted and timed: a wrapper around each provider that records
//! `relay_provider_calls_total`, `relay_provider_errors_total`,
//! `relay_provider_call_duration_seconds` and `relay_provider_call_cpu_seconds` by the provider's
//! name, so no client repeats it.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use protocol::{Language, Recipe};
use url::Url;

use super::{Extractor, ProviderError, ScrapeRequest, Scraper, Transcriber, VideoData};

/// The `provider` label of video downloads, whichever scraper stored the file.
const DOWNLOAD: &str = "media_download";

/// A provider whose calls are recorded.
pub(crate) struct Metered<P: ?Sized>(pub(crate) Arc<P>);

async fn timed<T>(
    provider: &'static str,
    call: impl Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    let started = Instant::now();
    let (result, cpu) = cpu_timed(call).await;
    crate::stats::provider_call(provider, started.elapsed(), cpu, result.as_ref().err());
    result
}

/// Runs `call` and adds up the thread's CPU time while it polls the call, and only then: what
/// other jobs on the thread do while the call waits is theirs. Work the call hands to another
/// thread or process (a download's, ffmpeg's) is not in it.
async fn cpu_timed<T>(call: impl Future<Output = T>) -> (T, Duration) {
    let mut call = std::pin::pin!(call);
    let mut cpu = Duration::ZERO;
    let output = std::future::poll_fn(|cx| {
        let before = thread_cpu();
        let poll = call.as_mut().poll(cx);
        cpu += thread_cpu().saturating_sub(before);
        poll
    })
    .await;
    (output, cpu)
}

/// The CPU time the calling thread has used.
fn thread_cpu() -> Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(now.tv_sec.unsigned_abs(), u32::try_from(now.tv_nsec).unwrap_or_default())
}

#[async_trait]
impl Scraper for Metered<dyn Scraper> {
    fn provider(&self) -> &'static str {
        self.0.provider()
    }

    async fn scrape(&self, request: ScrapeRequest<'_>) -> Result<VideoData, ProviderError> {
        timed(self.0.provider(), self.0.scrape(request)).await
    }

    async fn download(&self, url: &Url, dest: &Path, limits: &media::Limits) -> Result<u64, ProviderError> {
        timed(DOWNLOAD, self.0.download(url, dest, limits)).await
    }
}

#[async_trait]
impl Extractor for Metered<dyn Extractor> {
    fn provider(&self) -> &'static str {
        self.0.provider()
    }

    fn details(&self, video: &VideoData) -> String {
        self.0.details(video)
    }

    async fn extract(&self, video: &VideoData, language: &Language) -> Result<Recipe, ProviderError> {
        timed(self.0.provider(), self.0.extract(video, language)).await
    }
}

#[async_trait]
impl Transcriber for Metered<dyn Transcriber> {
    fn provider(&self) -> &'static str {
        self.0.provider()
    }

    async fn transcribe(&self, audio: &Path, language: Option<&str>) -> Result<String, ProviderError> {
        timed(self.0.provider(), self.0.transcribe(audio, language)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn burn(cpu: Duration) {
        let start = thread_cpu();
        while thread_cpu().saturating_sub(start) < cpu {}
    }

    #[tokio::test]
    async fn a_call_is_charged_the_cpu_it_uses_not_what_the_thread_does_while_it_waits() {
        // Arrange: on this test's one thread, another job burns 40 ms while the call waits.
        let (done, waited) = tokio::sync::oneshot::channel();
        let other = tokio::spawn(async move {
            burn(Duration::from_millis(40));
            done.send(()).expect("the call waits");
        });

        // Act: 10 ms of work, a wait, 10 ms more.
        let ((), cpu) = cpu_timed(async {
            burn(Duration::from_millis(10));
            waited.await.expect("sent");
            burn(Duration::from_millis(10));
        })
        .await;
        other.await.expect("the other job ran");

        // Assert
        assert!(cpu >= Duration::from_millis(20), "both parts of the call: {cpu:?}");
        assert!(cpu < Duration::from_millis(40), "none of the other job: {cpu:?}");
    }
}
