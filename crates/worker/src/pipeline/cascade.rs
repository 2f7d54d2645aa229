//! Steps 2 and 3 as a cost-aware cascade: the cheapest inputs first, the video only when they do
//! not hold the recipe.
//!
//! - `never` (or no ffmpeg/tesseract): one scraper run for caption, subtitles and cover, one
//!   extraction.
//! - `auto`: the same first; only when that ends as `not_a_recipe` or [`is_thin`] (no
//!   ingredients or no steps) a second scraper run that downloads the video, the media pass
//!   (frames, OCR, speech) and a second extraction with those inputs. The second pass reports on
//!   step 3, so the app's progress bar never goes back.
//! - `always`: the first run already downloads the video, and the media pass runs in step 2.
//!
//! A permanent failure of the second pass (a video too large, unreadable, still no recipe) keeps
//! a thin first recipe rather than failing the task; with no first recipe it is the outcome.
//! Both scraper runs are remembered per task ([`super::TaskMemo`]), so a retry re-attaches to
//! each and never pays twice.

use protocol::{Recipe, Step};
use settings::MediaMode;

use super::{Interrupt, Run, TaskMemo};
use crate::providers::{ProviderError, ScrapeRequest, VideoData};
use crate::video::{MediaRead, VideoReader};

/// What the cascade spent and read to find a recipe, for the completion event and the logs.
pub(super) struct Found {
    pub(super) recipe: Recipe,
    /// The video the recipe was extracted from, with every input that was read.
    pub(super) video: VideoData,
    /// Scraper (Apify) runs this attempt used: 1 or 2.
    pub(super) scraper_runs: u32,
    /// Whether the audio was sent to the transcription API in this attempt.
    pub(super) transcribed: bool,
}

impl Found {
    /// The completion event's `details`: which inputs were read.
    pub(super) fn details(&self) -> String {
        format!("Read from the {}", self.video.inputs_phrase(self.video.frames.len()))
    }
}

/// No ingredient list or no steps: worth looking at the video in `auto` mode.
pub(crate) fn is_thin(recipe: &Recipe) -> bool {
    recipe.ingredients.is_empty() || recipe.steps.is_empty()
}

fn not_a_recipe(result: &Result<Recipe, Interrupt>) -> bool {
    matches!(
        result,
        Err(Interrupt::Provider { error: ProviderError::Permanent { code: "not_a_recipe", .. }, .. })
    )
}

impl Run<'_> {
    /// Scrapes and extracts, reading the video only when the settings and the first answer
    /// say it is worth its cost.
    pub(super) async fn find_recipe(&mut self) -> Result<Found, Interrupt> {
        let ctx = self.ctx;
        let reader = ctx.providers.video.clone();
        let mode = reader.as_deref().map_or(MediaMode::Never, VideoReader::mode);
        let always = mode == MediaMode::Always;
        let details = if always {
            "Fetching caption, subtitles and cover, and downloading the video"
        } else {
            "Fetching caption, subtitles and cover"
        };
        self.step(Step::Scraping, Some(details.into())).await?;
        let mut video = self.scrape(Step::Scraping, always).await?;
        let mut transcribed = false;
        let mut read = None;
        if let (true, Some(reader)) = (always, reader.as_deref()) {
            read = match self.read_video(reader, &mut video, Step::Scraping).await {
                // The item's video link may not be fetched (outbound URL policy): the caption
                // and subtitles may still hold the recipe.
                Err(Interrupt::Provider {
                    error: ProviderError::Permanent { code: "video_url_refused", message },
                    ..
                }) => {
                    tracing::warn!(%message, "reading caption and subtitles only");
                    None
                }
                other => other?,
            };
            transcribed = read.as_ref().is_some_and(|r| r.transcribed);
        }
        self.step(Step::Extracting, Some(ctx.providers.extractor.details(&video))).await?;
        let first = self.extract(&video, read.as_ref()).await;
        let worth_the_video = mode == MediaMode::Auto
            && match &first {
                Ok(recipe) => is_thin(recipe),
                Err(_) => not_a_recipe(&first),
            };
        let Some(reader) = reader.filter(|_| worth_the_video) else {
            return first.map(|recipe| Found { recipe, video, scraper_runs: 1, transcribed });
        };

        tracing::info!(thin = first.is_ok(), "caption and subtitles are not enough; reading the video");
        let second = Box::pin(self.second_pass(&reader, &video)).await;
        match (first, second) {
            (_, Ok(Some(mut found))) => {
                found.scraper_runs = 2;
                Ok(found)
            }
            // The scraper named no video file: nothing more to read.
            (first, Ok(None)) => first.map(|recipe| Found { recipe, video, scraper_runs: 2, transcribed }),
            (
                Ok(thin),
                Err(Interrupt::Provider { error: ProviderError::Permanent { code, message }, .. }),
            ) => {
                tracing::info!(code, %message, "the media pass found nothing better; keeping the thin recipe");
                Ok(Found { recipe: thin, video, scraper_runs: 2, transcribed })
            }
            (_, Err(interrupt)) => Err(interrupt),
        }
    }

    /// The video-downloading scrape, the media pass and the extraction with their inputs.
    /// `Ok(None)` when the scraper named no video file.
    async fn second_pass(
        &mut self,
        reader: &VideoReader,
        text_only: &VideoData,
    ) -> Result<Option<Found>, Interrupt> {
        let ctx = self.ctx;
        let details = "Not enough in the caption and subtitles; downloading the video to read it";
        self.step(Step::Extracting, Some(details.into())).await?;
        let mut video = self.scrape(Step::Extracting, true).await?;
        if video.video_file.is_none() {
            tracing::warn!("the scraper returned no video file; keeping the first answer");
            return Ok(None);
        }
        // The first run's subtitles stand, should the second run's download of them fail.
        if video.transcript.is_none() {
            video.transcript.clone_from(&text_only.transcript);
        }
        let Some(read) = self.read_video(reader, &mut video, Step::Extracting).await? else {
            return Ok(None);
        };
        self.step(Step::Extracting, Some(ctx.providers.extractor.details(&video))).await?;
        let recipe = self.extract(&video, Some(&read)).await?;
        Ok(Some(Found { recipe, video, scraper_runs: 2, transcribed: read.transcribed }))
    }

    async fn scrape(&mut self, step: Step, with_video: bool) -> Result<VideoData, Interrupt> {
        let ctx = self.ctx;
        let job = self.attempt.job();
        let memo = TaskMemo(&ctx.tasks);
        let request = ScrapeRequest { task_id: job.task_id, url: &job.url, memo: &memo, video: with_video };
        self.call(step, ctx.providers.scraper.scrape(request)).await
    }

    /// The media pass over `video`, its inputs added to it.
    async fn read_video(
        &mut self,
        reader: &VideoReader,
        video: &mut VideoData,
        step: Step,
    ) -> Result<Option<MediaRead>, Interrupt> {
        let ctx = self.ctx;
        let job = self.attempt.job();
        let cache = TaskMemo(&ctx.tasks);
        let scraper = ctx.providers.scraper.as_ref();
        let read = self
            .call(step, Box::pin(reader.read(job.task_id, video, &job.language, scraper, &cache)))
            .await?;
        if let Some(read) = &read {
            read.apply(video);
        }
        Ok(read)
    }

    /// One extraction; a `not_a_recipe` after a media pass that left speech unread says so.
    async fn extract(&self, video: &VideoData, read: Option<&MediaRead>) -> Result<Recipe, Interrupt> {
        let ctx = self.ctx;
        let result = self
            .call(Step::Extracting, ctx.providers.extractor.extract(video, &self.attempt.job().language))
            .await;
        match result {
            Err(Interrupt::Provider {
                step,
                error: ProviderError::Permanent { code: "not_a_recipe", .. },
            }) if read.is_some_and(|r| r.speech_unread) => Err(Interrupt::Provider {
                step,
                error: ProviderError::permanent(
                    "not_a_recipe",
                    "No recipe in the caption, subtitles or on-screen text; the video's speech \
                         was not read because no transcription provider is configured",
                ),
            }),
            other => other,
        }
    }
}
