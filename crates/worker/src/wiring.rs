//! Picks the providers from the settings: real clients where keys are set (or required), the
//! offline fixture scraper and rule-based extractor otherwise.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use settings::{MediaMode, ProviderMode, Settings};

use crate::providers::apify::{ApifyConfig, ApifyScraper};
use crate::providers::fixtures::FixtureScraper;
use crate::providers::llm::{LlmConfig, LlmExtractor};
use crate::providers::rules::RuleExtractor;
use crate::providers::transcribe::{TranscriptionConfig, WhisperTranscriber};
use crate::providers::{Extractor, ProviderError, Providers, ScrapeRequest, Scraper, Transcriber, VideoData};
use crate::video::{VideoReader, VideoReaderConfig};
use protocol::{Language, Recipe};

/// Longest side of a kept frame: one 768 px low-detail tile is what the LLM looks at anyway.
const FRAME_LONG_SIDE: u32 = 768;

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
                trusted_origins: apify.trusted_origins(),
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
                max_input_tokens: llm.max_input_tokens,
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
    let providers = Providers::new(scraper, extractor);
    Ok(match video_reader(settings, offline)? {
        Some(reader) => providers.with_video(reader),
        None => providers,
    })
}

/// The media pass, unless `worker.media = "never"` or a tool is missing (then the worker says so
/// in one line and reads caption and subtitles only, as `never` would).
fn video_reader(settings: &Settings, offline: bool) -> anyhow::Result<Option<VideoReader>> {
    let worker = &settings.worker;
    if worker.media == MediaMode::Never {
        return Ok(None);
    }
    let timeout = Duration::from_secs(worker.media_timeout_secs);
    let limits = media::Limits {
        max_bytes: worker.media_max_bytes,
        max_secs: u32::try_from(worker.media_max_secs).unwrap_or(u32::MAX),
        max_frames: worker.media_max_frames,
        frame_long_side: FRAME_LONG_SIDE,
        timeout,
    };
    let config = VideoReaderConfig {
        mode: worker.media,
        root: worker.media_root(),
        limits,
        transcriber: transcriber(settings, offline)?,
        cache_ttl: Duration::from_secs(worker.media_cache_hours * 3600),
    };
    let transcribes = config.transcriber.is_some();
    match VideoReader::new(config) {
        Ok(reader) => {
            reader.sweep();
            let missing = reader.missing_ocr_languages();
            if !missing.is_empty() {
                tracing::warn!(
                    "tesseract has no data for {}; on-screen text in those languages is read as English \
                     (Debian: apt-get install tesseract-ocr-<lang>)",
                    missing.join(", ")
                );
            }
            tracing::info!(
                mode = ?worker.media,
                root = %worker.media_root().display(),
                transcription = if transcribes { settings.transcription.model.as_str() } else { "none" },
                "media analysis enabled"
            );
            Ok(Some(reader))
        }
        Err(missing) => {
            tracing::warn!(
                "media analysis disabled: {missing}; reading caption and subtitles only (RELAY__WORKER__MEDIA={:?} acts as \"never\")",
                worker.media
            );
            Ok(None)
        }
    }
}

/// The speech-to-text client: `[transcription]`, falling back to the LLM's base URL and key.
/// None offline, or when no key is set anywhere.
fn transcriber(settings: &Settings, offline: bool) -> anyhow::Result<Option<Arc<dyn Transcriber>>> {
    let transcription = &settings.transcription;
    let key = transcription.api_key.clone().or_else(|| settings.llm.api_key.clone());
    let Some(key) = key.filter(|_| !offline) else { return Ok(None) };
    let base_url = transcription.base_url.clone().unwrap_or_else(|| settings.llm.base_url.clone());
    let client = WhisperTranscriber::new(TranscriptionConfig {
        base_url,
        api_key: SecretString::from(key.expose_secret().to_owned()),
        model: transcription.model.clone(),
        request_timeout: Duration::from_secs(transcription.request_timeout_secs),
    })?;
    Ok(Some(Arc::new(client)))
}

/// An offline provider that takes its time, like the real ones, so the demo's progress is visible.
struct Delayed<P>(P, Duration);

#[async_trait::async_trait]
impl<P: Scraper> Scraper for Delayed<P> {
    fn provider(&self) -> &'static str {
        self.0.provider()
    }

    async fn scrape(&self, request: ScrapeRequest<'_>) -> Result<VideoData, ProviderError> {
        tokio::time::sleep(self.1).await;
        self.0.scrape(request).await
    }

    async fn download(
        &self,
        url: &url::Url,
        dest: &std::path::Path,
        limits: &media::Limits,
    ) -> Result<u64, ProviderError> {
        self.0.download(url, dest, limits).await
    }
}

#[async_trait::async_trait]
impl<P: Extractor> Extractor for Delayed<P> {
    fn provider(&self) -> &'static str {
        self.0.provider()
    }

    fn details(&self, video: &VideoData) -> String {
        self.0.details(video)
    }

    async fn extract(&self, video: &VideoData, language: &Language) -> Result<Recipe, ProviderError> {
        tokio::time::sleep(self.1).await;
        self.0.extract(video, language).await
    }
}

#[cfg(test)]
mod tests {
    use settings::Role;

    use super::*;

    fn settings(extra: &[(&str, &str)]) -> Settings {
        let mut vars = vec![
            ("REDIS_URL".to_owned(), "redis://127.0.0.1:6379/0".to_owned()),
            ("DATABASE_URL".to_owned(), "postgres://relay@127.0.0.1/relay".to_owned()),
            ("RELAY_CONFIG_DIR".to_owned(), "/nonexistent".to_owned()),
        ];
        vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        Settings::load_from(Role::Worker, vars).expect("valid settings")
    }

    #[test]
    fn transcription_falls_back_to_the_llm_key_and_is_off_offline_or_without_any_key() {
        type Case<'a> = (&'a [(&'a str, &'a str)], bool, bool, &'a str);
        let cases: [Case; 4] = [
            (&[("OPENAI_API_KEY", "sk-llm")], false, true, "the LLM's key serves transcription too"),
            (&[("RELAY__TRANSCRIPTION__API_KEY", "gsk-groq")], false, true, "a key of its own"),
            (&[("OPENAI_API_KEY", "sk-llm")], true, false, "offline never transcribes"),
            (&[], false, false, "no key anywhere"),
        ];
        for (vars, offline, expected, why) in cases {
            let found = transcriber(&settings(vars), offline).expect("builds");
            assert_eq!(found.is_some(), expected, "{why}");
        }
    }

    #[test]
    fn never_builds_no_video_reader() {
        let never = settings(&[("RELAY__WORKER__MEDIA", "never")]);
        assert!(video_reader(&never, true).unwrap().is_none());
    }
}
