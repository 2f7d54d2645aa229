//! Every provider call counted and timed: a wrapper around each provider that records
//! `relay_provider_calls_total`, `relay_provider_errors_total` and
//! `relay_provider_call_duration_seconds` by the provider's name, so no client repeats it.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

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
    let result = call.await;
    crate::stats::provider_call(provider, started.elapsed(), result.as_ref().err());
    result
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
