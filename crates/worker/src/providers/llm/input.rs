//! What the LLM is shown of a video: the user message's labelled text and its images, fitted
//! into an input token budget.
//!
//! Token counts are estimates, not a tokenizer: a quarter of the UTF-8 bytes for text (close for
//! English and German, an overcount for CJK, which is the safe side) and
//! [`TOKENS_PER_LOW_DETAIL_IMAGE`] for each image sent with `detail: "low"`, which OpenAI bills
//! at a flat 85 tokens whatever the size.
//!
//! When everything does not fit, text goes first, lowest priority first: the speech
//! transcript, then the subtitles, then the on-screen text (the cheap OCR hint); the caption is
//! always sent whole. Text is trimmed down to a floor of half the budget before any frame is
//! dropped; frames are then thinned evenly so the kept ones still cover the whole video.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::providers::VideoData;

/// What OpenAI bills for one `detail: "low"` image.
pub(crate) const TOKENS_PER_LOW_DETAIL_IMAGE: u32 = 85;

/// Transcript characters sent at most, whatever the budget; long videos' speech beyond this is
/// repetition.
const MAX_TRANSCRIPT_CHARS: usize = 24_000;

/// Role markers and message framing the API adds around each message.
const MESSAGE_OVERHEAD_TOKENS: u32 = 20;

/// Estimated tokens of `text`.
pub(crate) fn estimate_tokens(text: &str) -> u32 {
    u32::try_from(text.len().div_ceil(4)).unwrap_or(u32::MAX)
}

/// The user message for one video, and what went into it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UserInput {
    /// The labelled text part.
    pub(crate) text: String,
    /// Indices into `video.frames` of the frames sent as images.
    pub(crate) frames: Vec<usize>,
    /// Whether the cover is sent (only when no frame is).
    pub(crate) cover: bool,
    /// Estimated input tokens of the user message (text and images).
    pub(crate) tokens: u32,
}

impl UserInput {
    /// The message `content` array: the text, then the frames as base64 JPEG data URLs (or the
    /// cover link).
    pub(crate) fn content(&self, video: &VideoData) -> Vec<Value> {
        let mut content = vec![json!({"type": "text", "text": self.text})];
        for &index in &self.frames {
            let frame = &video.frames[index];
            let url = format!("data:image/jpeg;base64,{}", STANDARD.encode(&frame.jpeg));
            content.push(json!({"type": "image_url", "image_url": {"url": url, "detail": "low"}}));
        }
        if self.cover
            && let Some(cover) = video.cover_url.as_deref()
        {
            content.push(json!({"type": "image_url", "image_url": {"url": cover, "detail": "low"}}));
        }
        content
    }

    /// Whether any image is sent.
    pub(crate) fn has_images(&self) -> bool {
        self.cover || !self.frames.is_empty()
    }
}

/// A labelled block of the text part, in the order it is written.
struct Block {
    /// Written first, e.g. `"\nOn-screen text (…):\n"`.
    label: &'static str,
    text: String,
    /// Lower is kept longer.
    priority: u8,
}

/// Fits `video` into `budget` tokens for the user message; `images` false sends text only.
pub(crate) fn plan(video: &VideoData, budget: u32, images: bool) -> UserInput {
    let mut head = format!("Caption:\n{}\n", non_empty(&video.caption).unwrap_or("(none)"));
    if !video.hashtags.is_empty() {
        let tags: Vec<String> =
            video.hashtags.iter().map(|t| format!("#{}", t.trim_start_matches('#'))).collect();
        head.push_str(&format!("\nHashtags: {}\n", tags.join(" ")));
    }
    if let Some(language) = video.text_language.as_deref().and_then(non_empty) {
        head.push_str(&format!("\nCaption language (as detected by TikTok): {language}\n"));
    }
    let mut blocks = Vec::new();
    let mut push = |label, text: Option<&str>, priority| {
        if let Some(text) = text.and_then(non_empty) {
            blocks.push(Block { label, text: cut_chars(text, MAX_TRANSCRIPT_CHARS).to_owned(), priority });
        }
    };
    push(
        "\nOn-screen text (OCR of the video's frames, may contain recognition errors):\n",
        video.on_screen_text.as_deref(),
        0,
    );
    push(
        "\nTranscript (automatic subtitles, may contain recognition errors):\n",
        video.transcript.as_deref(),
        1,
    );
    push(
        "\nSpeech transcript (automatic transcription of the audio, may contain errors):\n",
        video.speech_transcript.as_deref(),
        2,
    );
    if video.transcript.is_none() && video.speech_transcript.is_none() {
        head.push_str("\nTranscript: (none)\n");
    }

    let budget = budget.saturating_sub(MESSAGE_OVERHEAD_TOKENS);
    let fixed = estimate_tokens(&head);
    let text_wanted: u32 = blocks.iter().map(|b| estimate_tokens(b.label) + estimate_tokens(&b.text)).sum();
    let available = budget.saturating_sub(fixed);
    let frame_count = if images { video.frames.len() } else { 0 };
    // Text keeps at least half of what is left (or all it wants, if less) before frames go.
    let text_floor = text_wanted.min(available / 2);
    let room_for_frames = available.saturating_sub(text_floor) / TOKENS_PER_LOW_DETAIL_IMAGE;
    let kept = frame_count.min(usize::try_from(room_for_frames).unwrap_or(usize::MAX));
    let frames = spread(frame_count, kept);
    let cover = images && frames.is_empty() && video.cover_url.as_deref().and_then(non_empty).is_some();
    let image_tokens =
        TOKENS_PER_LOW_DETAIL_IMAGE * u32::try_from(frames.len() + usize::from(cover)).unwrap_or(0);

    // Trim the lowest-priority text first until the rest fits.
    let mut text_room = available.saturating_sub(image_tokens);
    let mut order: Vec<usize> = (0..blocks.len()).collect();
    order.sort_by_key(|&i| blocks[i].priority);
    let mut keep_chars = vec![0usize; blocks.len()];
    for i in order {
        let block = &blocks[i];
        let label = estimate_tokens(block.label);
        if text_room <= label {
            break;
        }
        let room = text_room - label;
        let chars = usize::try_from(room).unwrap_or(usize::MAX).saturating_mul(4);
        let kept_text = cut_bytes(&block.text, chars);
        keep_chars[i] = kept_text.len();
        text_room = text_room.saturating_sub(label + estimate_tokens(kept_text));
    }
    let mut text = head;
    for (block, &bytes) in blocks.iter().zip(&keep_chars) {
        if bytes == 0 {
            continue;
        }
        text.push_str(block.label);
        text.push_str(&block.text[..bytes]);
        if bytes < block.text.len() {
            text.push('…');
        }
        text.push('\n');
    }
    let tokens = estimate_tokens(&text) + image_tokens + MESSAGE_OVERHEAD_TOKENS;
    UserInput { text, frames, cover, tokens }
}

/// `kept` indices out of `0..total`, evenly spread, first and last included when possible.
fn spread(total: usize, kept: usize) -> Vec<usize> {
    match kept {
        0 => Vec::new(),
        _ if kept >= total => (0..total).collect(),
        1 => vec![total / 2],
        _ => (0..kept).map(|i| i * (total - 1) / (kept - 1)).collect(),
    }
}

fn non_empty(text: &str) -> Option<&str> {
    let text = text.trim();
    (!text.is_empty()).then_some(text)
}

/// The longest prefix of `text` with at most `max` characters.
fn cut_chars(text: &str, max: usize) -> &str {
    text.char_indices().nth(max).map_or(text, |(at, _)| &text[..at])
}

/// The longest prefix of `text` with at most `max` bytes, on a character boundary.
fn cut_bytes(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Frame;

    fn video(frames: usize, transcript_chars: usize) -> VideoData {
        VideoData {
            caption: "recipe in the video 👀 #pasta".into(),
            hashtags: vec!["pasta".into()],
            on_screen_text: Some("Ingredients\n200 g spaghetti\n3 cloves garlic".into()),
            speech_transcript: Some("a".repeat(transcript_chars)),
            cover_url: Some("https://p16.tiktokcdn.com/cover.jpg".into()),
            frames: (0..frames)
                .map(|i| Frame {
                    at_secs: i as f64,
                    jpeg: vec![0xFF, 0xD8, 0xFF, i as u8].into(),
                    hash: i as u64,
                })
                .collect(),
            ..VideoData::default()
        }
    }

    #[test]
    fn everything_fits_in_a_roomy_budget() {
        let video = video(8, 400);
        let input = plan(&video, 8000, true);
        assert_eq!(input.frames, (0..8).collect::<Vec<_>>());
        assert!(!input.cover, "frames replace the cover");
        assert!(input.text.contains("On-screen text") && input.text.contains("200 g spaghetti"));
        assert!(input.text.contains(&"a".repeat(400)), "the whole transcript");
        assert!(input.tokens >= 8 * TOKENS_PER_LOW_DETAIL_IMAGE + 100, "{}", input.tokens);
        let content = input.content(&video);
        assert_eq!(content.len(), 9);
        assert_eq!(content[1]["image_url"]["detail"], "low");
        assert!(content[1]["image_url"]["url"].as_str().unwrap().starts_with("data:image/jpeg;base64,/9j/"));
    }

    #[test]
    fn text_is_trimmed_first_then_frames_are_thinned_evenly() {
        let video = video(8, 40_000);
        let input = plan(&video, 1000, true);
        assert!(input.tokens <= 1000, "within the budget: {}", input.tokens);
        assert!(input.text.contains("200 g spaghetti"), "the OCR hint outranks the transcript");
        assert!(input.text.contains('…'), "the transcript was cut");
        assert!(!input.frames.is_empty() && input.frames.len() < 8, "{:?}", input.frames);
        assert_eq!(input.frames.first(), Some(&0), "the first frame is kept");
        assert_eq!(input.frames.last(), Some(&7), "the last frame is kept");
    }

    #[test]
    fn text_only_sends_no_image_and_costs_less() {
        let video = video(8, 400);
        let with = plan(&video, 8000, true);
        let without = plan(&video, 8000, false);
        assert!(without.frames.is_empty() && !without.cover && !without.has_images());
        assert_eq!(with.tokens - without.tokens, 8 * TOKENS_PER_LOW_DETAIL_IMAGE, "8 frames");
    }

    #[test]
    fn spread_keeps_the_ends_and_spaces_the_rest() {
        assert_eq!(spread(8, 3), vec![0, 3, 7]);
        assert_eq!(spread(8, 1), vec![4]);
        assert_eq!(spread(3, 5), vec![0, 1, 2]);
        assert!(spread(8, 0).is_empty());
    }
}
