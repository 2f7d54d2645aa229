//! Scripted stand-ins for the paid providers.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use protocol::{Ingredient, Language, Recipe, RecipeSource};
use tokio::sync::Notify;
use worker::providers::{Extractor, ProviderError, ScrapeRequest, Scraper, VideoData};

/// What one scrape call does.
// A handful per test: their size does not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Act {
    Return(Result<VideoData, ProviderError>),
    /// Never returns (until aborted): a job "in flight".
    Hang,
}

/// A scraper that plays a script, then repeats its last act; counts calls and announces them.
pub(crate) struct ScriptedScraper {
    script: Mutex<VecDeque<Act>>,
    last_hangs: bool,
    pub(crate) calls: AtomicU32,
    pub(crate) called: Notify,
}

impl ScriptedScraper {
    pub(crate) fn new(script: Vec<Act>) -> Self {
        let last_hangs = matches!(script.last(), Some(Act::Hang));
        Self {
            script: Mutex::new(script.into()),
            last_hangs,
            calls: AtomicU32::new(0),
            called: Notify::new(),
        }
    }

    pub(crate) fn ok() -> Self {
        Self::new(vec![Act::Return(Ok(video()))])
    }
}

pub(crate) fn video() -> VideoData {
    VideoData {
        url: "https://www.tiktok.com/@chef/video/1".into(),
        video_id: Some("1".into()),
        caption: "Tomato soup".into(),
        ..VideoData::default()
    }
}

#[async_trait]
impl Scraper for ScriptedScraper {
    async fn scrape(&self, _request: ScrapeRequest<'_>) -> Result<VideoData, ProviderError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.called.notify_waiters();
        let act = {
            let mut script = self.script.lock().unwrap();
            if script.len() > 1 { script.pop_front() } else { None }
        };
        let act = match act {
            Some(act) => act,
            None if self.last_hangs => Act::Hang,
            None => match self.script.lock().unwrap().front() {
                Some(Act::Return(result)) => Act::Return(result.clone()),
                _ => Act::Return(Ok(video())),
            },
        };
        match act {
            Act::Return(result) => result,
            Act::Hang => std::future::pending().await,
        }
    }
}

/// An extractor that turns the caption into a one-ingredient recipe.
pub(crate) struct EchoExtractor;

#[async_trait]
impl Extractor for EchoExtractor {
    fn details(&self, _video: &VideoData) -> String {
        "Using the echo extractor".into()
    }

    async fn extract(&self, video: &VideoData, language: &Language) -> Result<Recipe, ProviderError> {
        Ok(Recipe {
            title: video.caption.clone(),
            description: None,
            servings: None,
            prep_minutes: None,
            cook_minutes: None,
            total_minutes: None,
            ingredients: vec![Ingredient {
                raw: "1 tomato".into(),
                quantity: Some(1.0),
                unit: None,
                name: "tomato".into(),
                ..Ingredient::default()
            }],
            steps: vec!["Cook.".into()],
            tags: vec![],
            source: RecipeSource { url: video.url.clone(), video_id: video.video_id.clone(), author: None },
            cover_url: None,
            language: language.to_string(),
        })
    }
}
