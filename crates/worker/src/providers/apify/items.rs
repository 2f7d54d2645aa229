//! From one dataset item of the TikTok actor to our [`VideoData`]: the lenient field reading,
//! the choice of subtitle track and where the video file is stored. Shared with the offline
//! [`FixtureScraper`](crate::providers::fixtures::FixtureScraper), so the fixtures exercise the
//! real parsing.

use protocol::TikTokUrl;
use serde_json::Value;
use url::Url;

use crate::outbound::public_cover;
use crate::providers::{ProviderError, VideoData};

/// What the app shows when there is no video to read.
pub(super) const VIDEO_UNAVAILABLE: &str = "The video is private, deleted or unavailable";

/// The stored video file of a dataset item: `mediaUrls[0]`, else `videoMeta.downloadAddr`.
pub(crate) fn video_file_of(item: &Value) -> Option<Url> {
    let stored = item.get("mediaUrls").and_then(|urls| urls.get(0));
    let tiktok = item.get("videoMeta").and_then(|meta| meta.get("downloadAddr"));
    [stored, tiktok].into_iter().find_map(web_url_of).and_then(|url| Url::parse(&url).ok())
}

/// The first dataset item, or `video_unavailable` when the actor found nothing.
///
/// The actor reports a private or deleted video either as an empty dataset or as an item that
/// only carries an `error` (and the input `url`); both mean there is nothing to read.
///
/// # Errors
/// `video_unavailable` as above; transient when the item is not a JSON object.
pub(crate) fn first_item(items: Vec<Value>) -> Result<Value, ProviderError> {
    let unavailable = || ProviderError::permanent("video_unavailable", VIDEO_UNAVAILABLE);
    let item = items.into_iter().next().ok_or_else(unavailable)?;
    if !item.is_object() {
        return Err(ProviderError::transient("the scraper returned a dataset item that is not an object"));
    }
    let has_content = ["id", "text", "webVideoUrl", "videoMeta"].iter().any(|key| item.get(key).is_some());
    if let Some(error) = item.get("error").filter(|_| !has_content) {
        tracing::info!(error = %error, "the scraper reported the video as unavailable");
        return Err(unavailable());
    }
    Ok(item)
}

/// Maps one Apify dataset item to [`VideoData`]; `transcript` comes from the caller (downloaded
/// subtitle or fixture file).
///
/// Every field is optional and read leniently: strings may come as numbers, a wrong type counts
/// as absent. `url` and the video id come from the request, since that is what the task is about;
/// the item's `id` fills in for short links.
pub(crate) fn video_from_item(item: &Value, url: &TikTokUrl, transcript: Option<String>) -> VideoData {
    let meta = item.get("videoMeta");
    let caption = text_of(item.get("text")).unwrap_or_default();
    let author = item
        .get("authorMeta")
        .and_then(|author| text_of(author.get("name")))
        .or_else(|| handle_from_url(url));
    let cover_url = [
        meta.and_then(|m| m.get("coverUrl")),
        meta.and_then(|m| m.get("originalCoverUrl")),
        item.get("covers").and_then(|covers| covers.get(0)),
    ]
    .into_iter()
    // The app loads the cover, and the LLM may be sent it: only https to a public host.
    .find_map(|value| text_of(value).as_deref().and_then(public_cover));
    VideoData {
        url: url.as_str().to_owned(),
        video_id: url.video_id().map(str::to_owned).or_else(|| text_of(item.get("id"))),
        hashtags: hashtags_of(item, &caption),
        caption,
        transcript: transcript.filter(|text| !text.trim().is_empty()),
        author,
        cover_url,
        text_language: text_language(item),
        duration_secs: meta.and_then(|m| seconds_of(m.get("duration"))),
        ..VideoData::default()
    }
}

/// A subtitle track offered by the actor.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SubtitleLink {
    /// Where to download it.
    pub(crate) url: Url,
    /// As TikTok labels it, e.g. `eng-US`.
    pub(crate) language: Option<String>,
    /// `ASR` (speech recognition), `MT` (machine translation) or another origin.
    pub(crate) source: Option<String>,
}

/// Picks the subtitle track most likely to hold the recipe as spoken.
///
/// Ranked by: language matching the caption's `textLanguage` (what the creator speaks, usually),
/// then English (the most common, and what a translation pipeline reads best), then any; within
/// that, originals (`ASR`, creator captions) before machine translations (`MT`, derived from the
/// original and lossier); ties keep the actor's order. TikTok labels tracks with three-letter
/// codes (`eng-US`, `deu-DE`), which are matched to the two-letter `textLanguage`.
pub(crate) fn best_subtitle(item: &Value) -> Option<SubtitleLink> {
    let wanted = text_language(item);
    let links = item.get("videoMeta")?.get("subtitleLinks")?.as_array()?;
    links
        .iter()
        .filter_map(subtitle_link)
        .enumerate()
        .min_by_key(|(index, link)| {
            let language = link.language.as_deref().and_then(primary_language);
            let language_rank = match language.as_deref() {
                Some(lang) if Some(lang) == wanted.as_deref().and_then(primary_language).as_deref() => 0,
                Some("en") => 1,
                _ => 2,
            };
            let is_translation = link.source.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("MT"));
            (language_rank, is_translation, *index)
        })
        .map(|(_, link)| link)
}

fn subtitle_link(entry: &Value) -> Option<SubtitleLink> {
    // `downloadLink` is the copy the actor stored; TikTok's own link expires quickly.
    let url = [entry.get("downloadLink"), entry.get("tiktokLink")].into_iter().find_map(web_url_of)?;
    Some(SubtitleLink {
        url: Url::parse(&url).ok()?,
        language: text_of(entry.get("language")),
        source: text_of(entry.get("source")),
    })
}

/// ISO 639-2 codes TikTok uses for subtitle tracks, with their ISO 639-1 equivalent.
#[rustfmt::skip]
const ISO_639_2_TO_1: &[(&str, &str)] = &[
    ("ara", "ar"), ("ces", "cs"), ("chi", "zh"), ("cmn", "zh"), ("cze", "cs"), ("dan", "da"),
    ("deu", "de"), ("dut", "nl"), ("ell", "el"), ("eng", "en"), ("fil", "tl"), ("fin", "fi"),
    ("fra", "fr"), ("fre", "fr"), ("ger", "de"), ("gre", "el"), ("heb", "he"), ("hin", "hi"),
    ("hun", "hu"), ("ind", "id"), ("ita", "it"), ("jpn", "ja"), ("kor", "ko"), ("may", "ms"),
    ("msa", "ms"), ("nld", "nl"), ("nob", "nb"), ("nor", "no"), ("pol", "pl"), ("por", "pt"),
    ("ron", "ro"), ("rum", "ro"), ("rus", "ru"), ("spa", "es"), ("swe", "sv"), ("tgl", "tl"),
    ("tha", "th"), ("tur", "tr"), ("ukr", "uk"), ("vie", "vi"), ("zho", "zh"),
];

/// `eng-US`, `en`, `EN_gb` -> `en`; `None` for codes we cannot map.
fn primary_language(tag: &str) -> Option<String> {
    let primary = tag.split(['-', '_']).next()?.trim().to_ascii_lowercase();
    match primary.len() {
        2 if primary.bytes().all(|b| b.is_ascii_lowercase()) => Some(primary),
        3 => ISO_639_2_TO_1.iter().find(|(long, _)| *long == primary).map(|(_, short)| (*short).to_owned()),
        _ => None,
    }
}

/// `textLanguage`, lower-cased; TikTok's `un` ("undetermined") counts as unknown.
fn text_language(item: &Value) -> Option<String> {
    text_of(item.get("textLanguage")).map(|lang| lang.to_ascii_lowercase()).filter(|lang| lang != "un")
}

/// A trimmed, non-empty string; numbers are accepted as their decimal text (ids often are).
fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) => Some(text.trim().to_owned()).filter(|text| !text.is_empty()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// An http(s) URL string, or `None`: anything else must not reach the app as an image source.
fn web_url_of(value: Option<&Value>) -> Option<String> {
    let text = text_of(value)?;
    let url = Url::parse(&text).ok()?;
    matches!(url.scheme(), "http" | "https").then_some(text)
}

/// Whole seconds from a number or numeric string; negative, fractional-NaN or huge values are absent.
fn seconds_of(value: Option<&Value>) -> Option<u32> {
    let seconds = match value? {
        Value::Number(number) => number.as_f64()?,
        Value::String(text) => text.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !seconds.is_finite() || seconds < 0.0 || seconds > f64::from(u32::MAX) {
        return None;
    }
    // In range and not negative, checked above, so the cast neither truncates nor wraps.
    Some(seconds.round() as u32)
}

/// Hashtag names without `#`, deduplicated in order. From the item's `hashtags` (objects with
/// `name`, or plain strings); when it has none, from `#words` in the caption.
fn hashtags_of(item: &Value, caption: &str) -> Vec<String> {
    let listed = item.get("hashtags").and_then(Value::as_array).into_iter().flatten().filter_map(|entry| {
        if entry.is_object() { text_of(entry.get("name")) } else { text_of(Some(entry)) }
    });
    let mut tags = clean_tags(listed);
    if tags.is_empty() {
        let from_caption = caption
            .split_whitespace()
            .filter(|word| word.starts_with('#'))
            .map(|word| word.trim_end_matches(|c: char| !(c.is_alphanumeric() || c == '_')).to_owned());
        tags = clean_tags(from_caption);
    }
    tags
}

fn clean_tags(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for name in names {
        let name = name.trim().trim_start_matches('#').trim();
        if !name.is_empty() && !tags.iter().any(|tag| tag == name) {
            tags.push(name.to_owned());
        }
    }
    tags
}

/// `@user` from a canonical video link, for items without `authorMeta`.
fn handle_from_url(url: &TikTokUrl) -> Option<String> {
    url.as_str().split('/').find_map(|segment| segment.strip_prefix('@')).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn video_url() -> TikTokUrl {
        TikTokUrl::parse("https://www.tiktok.com/@cozykitchenwithmia/video/7311770584007226424").unwrap()
    }

    #[test]
    fn the_subtitle_in_the_caption_language_wins_and_originals_beat_translations() {
        let link = |language: &str, source: &str| json!({"language": language, "downloadLink": format!("https://subs.example/{language}-{source}.vtt"), "source": source});
        let cases = [
            (
                "de",
                vec![link("eng-US", "ASR"), link("deu-DE", "MT"), link("deu-DE", "ASR")],
                "deu-DE-ASR",
                "language first, then original",
            ),
            (
                "fr",
                vec![link("spa-ES", "ASR"), link("eng-US", "MT")],
                "eng-US-MT",
                "English when the language is missing",
            ),
            (
                "un",
                vec![link("ita-IT", "ASR"), link("eng-US", "ASR")],
                "eng-US-ASR",
                "undetermined language prefers English",
            ),
            (
                "pt",
                vec![link("ita-IT", "MT"), link("jpn-JP", "ASR")],
                "jpn-JP-ASR",
                "any original before a translation",
            ),
            ("en", vec![link("en", "ASR"), link("eng-US", "ASR")], "en-ASR", "ties keep the actor's order"),
        ];
        for (text_language, links, expected, why) in cases {
            let item = json!({"textLanguage": text_language, "videoMeta": {"subtitleLinks": links}});
            let chosen = best_subtitle(&item).unwrap_or_else(|| panic!("{why}: nothing chosen"));
            assert_eq!(chosen.url.as_str(), format!("https://subs.example/{expected}.vtt"), "{why}");
        }
        assert_eq!(best_subtitle(&json!({"videoMeta": {"subtitleLinks": []}})), None, "no tracks, no choice");
    }

    #[test]
    fn hashtags_fall_back_to_the_caption() {
        let url = video_url();
        let video = video_from_item(
            &json!({"text": "so good #Pasta, #dinner! #pasta # #"}),
            &url,
            Some("  ".to_owned()),
        );
        assert_eq!(video.hashtags, vec!["Pasta".to_owned(), "dinner".to_owned(), "pasta".to_owned()]);
        assert_eq!(video.transcript, None, "a blank transcript counts as none");
    }

    #[test]
    fn a_short_link_takes_the_video_id_from_the_item() {
        let url = TikTokUrl::parse("https://vm.tiktok.com/ZMabc123/").unwrap();
        let video = video_from_item(
            &json!({"id": "7311770584007226424", "covers": ["https://c.example/1.jpeg"]}),
            &url,
            None,
        );
        assert_eq!(video.url, "https://vm.tiktok.com/ZMabc123");
        assert_eq!(video.video_id.as_deref(), Some("7311770584007226424"));
        assert_eq!(
            video.cover_url.as_deref(),
            Some("https://c.example/1.jpeg"),
            "covers[0] is the fallback cover"
        );
        assert_eq!(video.author, None, "a short link carries no handle");
    }

    #[test]
    fn a_cover_that_is_not_https_to_a_public_host_is_skipped() {
        let url = video_url();
        let cases = [
            (
                json!({"videoMeta": {"coverUrl": "http://169.254.169.254/latest/meta-data/", "originalCoverUrl": "https://0x7f000001/c.jpg"}, "covers": ["https://p16.tiktokcdn.com/c.jpeg"]}),
                Some("https://p16.tiktokcdn.com/c.jpeg"),
                "metadata over http and a hex loopback are passed over",
            ),
            (
                json!({"videoMeta": {"coverUrl": "https://localhost/c.jpg"}, "covers": ["https://[::1]/c.jpg"]}),
                None,
                "no public cover at all",
            ),
        ];
        for (item, expected, why) in cases {
            assert_eq!(video_from_item(&item, &url, None).cover_url.as_deref(), expected, "{why}");
        }
    }

    #[test]
    fn the_video_file_is_read_from_media_urls_then_download_addr() {
        let cases = [
            (
                json!({"mediaUrls": ["https://api.apify.com/v2/key-value-stores/s/records/v"], "videoMeta": {"downloadAddr": "https://v16.tiktokcdn.com/x.mp4"}}),
                Some("https://api.apify.com/v2/key-value-stores/s/records/v"),
                "both: the stored copy",
            ),
            (
                json!({"mediaUrls": [], "videoMeta": {"downloadAddr": "https://v16.tiktokcdn.com/x.mp4"}}),
                Some("https://v16.tiktokcdn.com/x.mp4"),
                "only TikTok's link",
            ),
            (json!({"mediaUrls": ["javascript:alert(1)"]}), None, "not a web URL"),
            (json!({"text": "no video"}), None, "neither"),
        ];
        for (item, expected, why) in cases {
            assert_eq!(video_file_of(&item).map(String::from).as_deref(), expected, "{why}");
        }
    }
}
