//! Picks the providers from the settings: real clients where keys are set (or required), the
//! offline fixture scraper and rule-based extractor otherwise.

use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret;
use settings::{ProviderMode, Settings};

use crate::providers::apify::{ApifyConfig, ApifyScraper};
use crate::providers::fixtures::FixtureScraper;
use crate::providers::llm::{LlmConfig, LlmExtractor};
use crate::providers::rules::RuleExtractor;
use crate::providers::{Extractor, ProviderError, Providers, ScrapeRequest, Scraper, VideoData};
use protocol::{Language, Recipe};

/// The providers the settings ask for.
///
/// # Errors
/// When a real client cannot be built from its settings.
pub(crate) fn providers(settings: &Settings) -> anyhow::Result<Providers> {
    let offline = settings.worker.providers == ProviderMode::Offline;
    let delay = Duration::from_millis(settings.worker.offline_delay_ms);
    let scraper: Arc<dyn Scraper> = match (&settings.apify.token, offline) {
        (Some(token), false) => {
            let apify = &settings.apify;
            Arc::new(ApifyScraper::new(ApifyConfig {
                base_url: apify.base_url.clone(),
                token: token.clone(),
                actor: apify.actor.clone(),
                poll_wait_secs: apify.poll_wait_secs,
                request_timeout: Duration::from_secs(apify.request_timeout_secs),
                max_wait: Duration::from_secs(apify.max_wait_secs),
            })?)
        }
        _ if delay.is_zero() => Arc::new(FixtureScraper::new()),
        _ => Arc::new(Delayed(FixtureScraper::new(), delay)),
    };
    let extractor: Arc<dyn Extractor> = match (&settings.llm.api_key, offline) {
        (Some(key), false) => {
            let llm = &settings.llm;
            Arc::new(LlmExtractor::new(LlmConfig {
                base_url: llm.base_url.clone(),
                api_key: key.expose_secret().to_owned(),
                model: llm.model.clone(),
                request_timeout: Duration::from_secs(llm.request_timeout_secs),
                max_tokens: llm.max_tokens,
            })?)
        }
        _ if delay.is_zero() => Arc::new(RuleExtractor::new()),
        _ => Arc::new(Delayed(RuleExtractor::new(), delay)),
    };
    tracing::info!(
        scraper = if offline || settings.apify.token.is_none() { "fixtures (offline)" } else { "apify" },
        extractor = if offline || settings.llm.api_key.is_none() { "rules (offline)" } else { "llm" },
        "providers selected"
    );
    Ok(Providers { scraper, extractor })
}

/// An offline provider that takes its time, like the real ones, so the demo's progress is visible.
struct Delayed<P>(P, Duration);

#[async_trait::async_trait]
impl<P: Scraper> Scraper for Delayed<P> {
    async fn scrape(&self, request: ScrapeRequest<'_>) -> Result<VideoData, ProviderError> {
        tokio::time::sleep(self.1).await;
        self.0.scrape(request).await
    }
}

#[async_trait::async_trait]
impl<P: Extractor> Extractor for Delayed<P> {
    fn details(&self) -> String {
        self.0.details()
    }

    async fn extract(&self, video: &VideoData, language: &Language) -> Result<Recipe, ProviderError> {
        tokio::time::sleep(self.1).await;
        self.0.extract(video, language).await
    }
}
