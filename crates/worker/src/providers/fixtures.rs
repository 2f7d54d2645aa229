//! The offline scraper: serves recorded Apify dataset items for a few known videos, so the demo
//! and the tests run without an Apify token or network.
//!
//! Each fixture is `crates/worker/fixtures/<video_id>.json` (a one-element array in exactly the
//! shape of the actor's dataset) and optionally `<video_id>.vtt` (the subtitle track the real
//! scraper would download). They are compiled into the binary, so the worker runs from any
//! directory, and they go through the same item mapping as [`ApifyScraper`], so they exercise
//! the real parsing.
//!
//! Two fixtures are about the video itself: their recipe is only on screen, or only spoken.
//! Instead of a binary in the repository they carry `<video_id>.media.json`, a
//! [`MediaScript`], and a video-downloading scrape renders it once with ffmpeg (and espeak-ng
//! for speech) into `<temp>/recipe-relay-fixture-videos/`, where later scrapes find it.
//!
//! [`ApifyScraper`]: super::apify::ApifyScraper

use std::path::PathBuf;
use std::sync::OnceLock;

use async_trait::async_trait;
use serde_json::Value;

use super::apify::items::{first_item, video_from_item};
use super::fixture_media::{self, MediaScript};
use super::vtt::vtt_to_text;
use super::{ProviderError, ScrapeRequest, Scraper, VideoData, VideoFile};

/// One recorded video.
struct Fixture {
    /// The numeric video id, which is how requests are matched.
    video_id: &'static str,
    /// The canonical link, for the demo and the "unknown video" message.
    url: &'static str,
    /// The dataset as the actor returned it.
    items_json: &'static str,
    /// The subtitle track, when the video has one worth reading.
    subtitle_vtt: Option<&'static str>,
    /// How to make the video file, for the fixtures whose recipe is in the video.
    media_json: Option<&'static str>,
}

macro_rules! fixture {
    ($user:literal, $id:literal, subtitle) => {
        Fixture {
            video_id: $id,
            url: concat!("https://www.tiktok.com/@", $user, "/video/", $id),
            items_json: include_str!(concat!("../../fixtures/", $id, ".json")),
            subtitle_vtt: Some(include_str!(concat!("../../fixtures/", $id, ".vtt"))),
            media_json: None,
        }
    };
    ($user:literal, $id:literal, media) => {
        Fixture {
            video_id: $id,
            url: concat!("https://www.tiktok.com/@", $user, "/video/", $id),
            items_json: include_str!(concat!("../../fixtures/", $id, ".json")),
            subtitle_vtt: None,
            media_json: Some(include_str!(concat!("../../fixtures/", $id, ".media.json"))),
        }
    };
    ($user:literal, $id:literal) => {
        Fixture {
            video_id: $id,
            url: concat!("https://www.tiktok.com/@", $user, "/video/", $id),
            items_json: include_str!(concat!("../../fixtures/", $id, ".json")),
            subtitle_vtt: None,
            media_json: None,
        }
    };
}

/// The recorded videos: a recipe in the caption (English, with subtitles), a German recipe in
/// the caption (no subtitle file), a teaser caption whose recipe is only spoken (in subtitles),
/// a dance video that is no recipe at all, a teaser whose recipe is only drawn on screen, and
/// one whose recipe is only spoken, without subtitles.
const FIXTURES: [Fixture; 6] = [
    fixture!("cozykitchenwithmia", "7311770584007226424", subtitle),
    fixture!("kochen.mit.lena", "7326497432544955876"),
    fixture!("brunchbydan", "7339557630099983671", subtitle),
    fixture!("jess.daily.vlogs", "7352260452192298766", subtitle),
    fixture!("sofia.cooks.fast", "7365108245337459974", media),
    fixture!("grillwithtom", "7368893312409817349", media),
];

/// A fixture as the scraper reads it: its dataset item and its subtitles as text.
type Parsed = Result<(Value, Option<String>), ProviderError>;

/// Each fixture parsed on first use, once per process: they are compiled in and never change,
/// and parsing one (a few KB of JSON, the subtitle track) was most of a scrape's cost.
static PARSED: [OnceLock<Parsed>; FIXTURES.len()] = [const { OnceLock::new() }; FIXTURES.len()];

fn parse(fixture: &Fixture) -> Parsed {
    let items: Vec<Value> = serde_json::from_str(fixture.items_json).map_err(|error| {
        ProviderError::permanent(
            "fixture_invalid",
            format!("The offline fixture for video {} is not a JSON array: {error}", fixture.video_id),
        )
    })?;
    Ok((first_item(items)?, fixture.subtitle_vtt.map(vtt_to_text)))
}

/// Scrapes from the recorded fixtures instead of Apify.
#[derive(Debug, Clone)]
pub struct FixtureScraper {
    /// Where rendered fixture videos are kept between tasks.
    video_dir: PathBuf,
}

impl Default for FixtureScraper {
    fn default() -> Self {
        Self::new()
    }
}

impl FixtureScraper {
    /// The offline scraper, rendering fixture videos into the system temp folder.
    pub fn new() -> Self {
        Self::with_video_dir(std::env::temp_dir().join("recipe-relay-fixture-videos"))
    }

    /// The offline scraper, rendering fixture videos into `dir`.
    pub fn with_video_dir(dir: impl Into<PathBuf>) -> Self {
        Self { video_dir: dir.into() }
    }

    /// Links of the videos this scraper knows, for the demo and tests.
    pub fn sample_urls() -> Vec<&'static str> {
        FIXTURES.iter().map(|fixture| fixture.url).collect()
    }

    /// The video file of a media fixture, rendered on first use.
    async fn video_file(&self, fixture: &Fixture, json: &str) -> Result<PathBuf, ProviderError> {
        let invalid = |error: String| {
            ProviderError::permanent(
                "fixture_invalid",
                format!("The offline video of fixture {} cannot be made: {error}", fixture.video_id),
            )
        };
        let script: MediaScript = serde_json::from_str(json).map_err(|e| invalid(e.to_string()))?;
        // The name changes with the script, so an edited fixture is rendered again.
        let version = json
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        let path = self.video_dir.join(format!("{}-{version:016x}.mp4", fixture.video_id));
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(path);
        }
        tokio::fs::create_dir_all(&self.video_dir).await.map_err(|e| invalid(e.to_string()))?;
        // Rendered under a private name, then renamed: two tasks at once never see half a file.
        let partial =
            self.video_dir.join(format!(".{}-{}.mp4", fixture.video_id, uuid::Uuid::new_v4().simple()));
        let rendered = fixture_media::render(&script, &partial).await;
        if let Err(error) = rendered {
            let _ = tokio::fs::remove_file(&partial).await;
            return Err(invalid(error.to_string()));
        }
        tokio::fs::rename(&partial, &path).await.map_err(|e| invalid(e.to_string()))?;
        tracing::info!(video_id = fixture.video_id, path = %path.display(), "rendered the offline fixture video");
        Ok(path)
    }
}

#[async_trait]
impl Scraper for FixtureScraper {
    fn provider(&self) -> &'static str {
        "offline"
    }

    #[tracing::instrument(skip_all, fields(task_id = %request.task_id))]
    async fn scrape(&self, request: ScrapeRequest<'_>) -> Result<VideoData, ProviderError> {
        // Short links carry no video id, and resolving them would need the network.
        let (index, fixture) = request
            .url
            .video_id()
            .and_then(|id| FIXTURES.iter().enumerate().find(|(_, fixture)| fixture.video_id == id))
            .ok_or_else(unknown_video)?;
        let (item, transcript) =
            PARSED[index].get_or_init(|| parse(fixture)).as_ref().map_err(Clone::clone)?;
        let mut video = video_from_item(item, request.url, transcript.clone());
        if let (true, Some(json)) = (request.video, fixture.media_json) {
            video.video_file = Some(VideoFile::Local(self.video_file(fixture, json).await?));
        }
        Ok(video)
    }
}

fn unknown_video() -> ProviderError {
    ProviderError::permanent(
        "video_unavailable",
        format!("Offline mode only knows the fixture videos: {}", FixtureScraper::sample_urls().join(", ")),
    )
}

#[cfg(test)]
mod tests {
    use protocol::{TaskId, TikTokUrl};

    use super::super::NoMemo;
    use super::super::apify::items::best_subtitle;
    use super::*;

    async fn scrape(link: &str) -> Result<VideoData, ProviderError> {
        let url = TikTokUrl::parse(link).unwrap_or_else(|e| panic!("{link}: {e}"));
        FixtureScraper::new()
            .scrape(ScrapeRequest { task_id: TaskId::new(), url: &url, memo: &NoMemo, video: false })
            .await
    }

    #[tokio::test]
    async fn the_english_caption_recipe_has_caption_ingredients_and_a_transcript() {
        let video = scrape(FixtureScraper::sample_urls()[0]).await.unwrap();
        assert_eq!(video.video_id.as_deref(), Some("7311770584007226424"));
        assert_eq!(video.author.as_deref(), Some("cozykitchenwithmia"));
        assert_eq!(video.text_language.as_deref(), Some("en"));
        assert_eq!(video.duration_secs, Some(58));
        for needle in [
            "Ingredients:",
            "200g spaghetti",
            "3 cloves garlic, minced",
            "½ cup parmesan",
            "Steps:",
            "Serves 2",
        ] {
            assert!(video.caption.contains(needle), "caption lacks {needle:?}");
        }
        assert_eq!(video.hashtags, ["pasta", "garlicpasta", "easyrecipe", "dinnerideas", "fyp"]);
        let transcript = video.transcript.unwrap();
        assert!(transcript.starts_with("this is the creamy garlic pasta"), "{transcript}");
        assert!(!transcript.contains("-->") && !transcript.contains("WEBVTT"), "{transcript}");
    }

    #[tokio::test]
    async fn the_german_recipe_is_in_the_caption_with_german_units_and_has_no_transcript() {
        let video = scrape("https://www.tiktok.com/@kochen.mit.lena/video/7326497432544955876?lang=de")
            .await
            .unwrap();
        assert_eq!(video.url, "https://www.tiktok.com/@kochen.mit.lena/video/7326497432544955876");
        assert_eq!(video.text_language.as_deref(), Some("de"));
        for needle in [
            "Zutaten",
            "Zubereitung:",
            "4 Stk. Eier",
            "250 ml Milch",
            "125 g Mehl",
            "2 EL Zucker",
            "1 Prise Salz",
            "1 TL Zucker",
        ] {
            assert!(video.caption.contains(needle), "caption lacks {needle:?}");
        }
        assert!(video.hashtags.contains(&"österreich".to_owned()), "{:?}", video.hashtags);
        assert_eq!(video.transcript, None, "this fixture has no subtitle file");
    }

    #[tokio::test]
    async fn the_teaser_caption_has_its_recipe_only_in_the_transcript() {
        let video = scrape(FixtureScraper::sample_urls()[2]).await.unwrap();
        assert_eq!(
            video.caption,
            "Best pancakes ever 🥞 full recipe in the video #pancakes #breakfast #brunch #fluffypancakes"
        );
        assert!(!video.caption.contains("flour"), "the caption is only a teaser");
        let transcript = video.transcript.unwrap();
        for needle in
            ["1 1/2 cups flour", "2 eggs", "3/4 cup milk", "3 tablespoons of melted butter", "8 pancakes"]
        {
            assert!(transcript.contains(needle), "transcript lacks {needle:?}: {transcript}");
        }
    }

    #[tokio::test]
    async fn the_dance_video_has_talk_but_no_recipe() {
        let video = scrape(FixtureScraper::sample_urls()[3]).await.unwrap();
        assert!(video.caption.contains("#dancechallenge"), "{}", video.caption);
        let transcript = video.transcript.unwrap();
        assert!(transcript.contains("one more time from the top"), "{transcript}");
        assert!(!transcript.contains("[Music]"), "sound annotations are dropped: {transcript}");
        for word in ["Ingredients", "cup", "tbsp"] {
            assert!(
                !video.caption.contains(word) && !transcript.contains(word),
                "{word:?} would make it look like a recipe"
            );
        }
    }

    #[tokio::test]
    async fn every_fixture_is_a_realistic_apify_item_for_its_link() {
        for fixture in &FIXTURES {
            let items: Vec<Value> = serde_json::from_str(fixture.items_json).unwrap();
            assert_eq!(items.len(), 1, "{}: one item per dataset", fixture.video_id);
            let item = &items[0];
            assert_eq!(item["id"], fixture.video_id, "{}: item id", fixture.video_id);
            assert_eq!(item["webVideoUrl"], fixture.url, "{}: item link", fixture.video_id);
            assert_eq!(fixture.video_id.len(), 19, "{}: TikTok ids have 19 digits", fixture.video_id);
            if fixture.media_json.is_none() {
                assert!(best_subtitle(item).is_some(), "{}: offers a subtitle track", fixture.video_id);
            } else {
                assert!(
                    best_subtitle(item).is_none(),
                    "{}: the media fixtures have no subtitles",
                    fixture.video_id
                );
                assert!(
                    super::super::apify::items::video_file_of(item).is_some(),
                    "{}: names its video file",
                    fixture.video_id
                );
            }

            let video = scrape(fixture.url).await.unwrap_or_else(|e| panic!("{}: {e}", fixture.url));
            assert_eq!(video.url, fixture.url);
            assert!(!video.caption.is_empty() && !video.hashtags.is_empty(), "{}", fixture.url);
            assert!(video.cover_url.as_deref().is_some_and(|c| c.starts_with("https://")), "{}", fixture.url);
            assert!(video.duration_secs.is_some_and(|d| d > 0), "{}", fixture.url);
            assert_eq!(video.transcript.is_some(), fixture.subtitle_vtt.is_some(), "{}", fixture.url);
        }
    }

    #[tokio::test]
    async fn links_outside_the_fixtures_are_unavailable_and_the_error_lists_the_known_ones() {
        let cases = [
            ("https://www.tiktok.com/@someone/video/7000000000000000001", "unknown video id"),
            ("https://vm.tiktok.com/ZMabc123/", "short link without a video id"),
        ];
        for (link, why) in cases {
            let error = scrape(link).await.expect_err(why);
            let ProviderError::Permanent { code, message } = &error else { panic!("{why}: {error:?}") };
            assert_eq!(*code, "video_unavailable", "{why}");
            assert!(message.starts_with("Offline mode only knows the fixture videos"), "{why}: {message}");
            for known in FixtureScraper::sample_urls() {
                assert!(message.contains(known), "{why}: {known} is listed");
            }
        }
    }

    #[test]
    fn sample_urls_are_distinct_canonical_video_links() {
        let urls = FixtureScraper::sample_urls();
        assert_eq!(urls.len(), FIXTURES.len());
        for url in &urls {
            let parsed = TikTokUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(parsed.as_str(), *url, "already canonical");
        }
        let mut ids: Vec<_> = FIXTURES.iter().map(|f| f.video_id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), FIXTURES.len(), "ids are distinct");
    }
}
