//! Subtitle files (WebVTT, and SRT as a courtesy) to plain transcript text.
//!
//! TikTok's subtitle tracks are WebVTT. The extractor only needs the words, so everything that
//! is about *when* or *how* text is shown goes: the header, `NOTE`/`STYLE`/`REGION` blocks, cue
//! ids, timing lines, inline tags and sound annotations like `[Music]`. Auto-captions repeat a
//! line across consecutive cues, so consecutive duplicates are collapsed.

/// Turns a WebVTT (or SRT) document into plain text.
///
/// Cue fragments are joined with spaces; a new line starts after a sentence ends (`.`, `!`, `?`,
/// `…`) or when a new speaker (`<v Name>`) or an SRT dialogue dash (`- `) starts, so a
/// transcript reads one sentence per line. Basic entities (`&amp;`, `&lt;`, `&gt;`, `&nbsp;`,
/// `&quot;`, `&apos;`, numeric ones) are decoded. Input that is not a subtitle file at all is
/// treated as plain text. Never panics.
pub fn vtt_to_text(vtt: &str) -> String {
    let body = vtt.strip_prefix('\u{feff}').unwrap_or(vtt);
    let normalised = body.replace("\r\n", "\n").replace('\r', "\n");
    // Only a file that has timing lines at all is parsed as cues; anything else is kept as text.
    let timed = normalised.contains("-->");

    let mut fragments: Vec<Fragment> = Vec::new();
    for (index, block) in blocks(&normalised).enumerate() {
        let first = block.first().map_or("", |line| line.trim());
        if index == 0 && first.starts_with("WEBVTT") {
            continue;
        }
        if ["NOTE", "STYLE", "REGION"].iter().any(|keyword| starts_with_keyword(first, keyword)) {
            continue;
        }
        let text_lines: Vec<&str> = match block.iter().position(|line| line.contains("-->")) {
            // Lines before the timing line are the cue id (or the SRT index).
            Some(timing) => block[timing + 1..].to_vec(),
            // A block without timing in a timed file is a stray id or counter; keep real text.
            None if timed => block.iter().copied().filter(|line| !is_counter(line)).collect(),
            None => block,
        };
        for line in text_lines {
            if let Some(fragment) = clean_line(line) {
                if fragments.last().is_some_and(|last| last.text == fragment.text) {
                    continue;
                }
                fragments.push(fragment);
            }
        }
    }
    join(&fragments)
}

/// One cleaned line of cue text.
struct Fragment {
    text: String,
    /// Starts a new speaker turn, so it goes on a new line.
    new_turn: bool,
}

/// Splits into blocks of non-blank lines (WebVTT and SRT both separate cues by blank lines).
fn blocks(text: &str) -> impl Iterator<Item = Vec<&str>> {
    let mut lines = text.split('\n').peekable();
    std::iter::from_fn(move || {
        while lines.next_if(|line| line.trim().is_empty()).is_some() {}
        let mut block = Vec::new();
        while let Some(line) = lines.next_if(|line| !line.trim().is_empty()) {
            block.push(line);
        }
        (!block.is_empty()).then_some(block)
    })
}

fn starts_with_keyword(line: &str, keyword: &str) -> bool {
    line.strip_prefix(keyword).is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
}

fn is_counter(line: &str) -> bool {
    let line = line.trim();
    !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit())
}

fn clean_line(line: &str) -> Option<Fragment> {
    let trimmed = line.trim();
    let voice = ["<v ", "<v.", "<v\t"].iter().any(|tag| trimmed.contains(tag));
    let undashed = trimmed.strip_prefix("- ");
    let stripped = strip_tags(undashed.unwrap_or(trimmed));
    let decoded = decode_entities(&stripped);
    let text = decoded
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if text.is_empty() || is_sound_annotation(&text) {
        return None;
    }
    Some(Fragment { text, new_turn: voice || undashed.is_some() })
}

/// `[Music]`, `[Applause]`, `♪ ♪`: auto-caption noise without words of the speaker.
fn is_sound_annotation(text: &str) -> bool {
    let bracketed = text.starts_with('[') && text.ends_with(']') && text.matches(']').count() == 1;
    bracketed || text.chars().all(|c| matches!(c, '♪' | '♫' | '♬' | ' '))
}

/// Removes `<...>` tags (`<c>`, `<i>`, `<00:00:01.500>`, `<v Name>`) and SRT/ASS `{\...}`
/// overrides. A `<` or `{` that does not open a complete tag is kept as text.
fn strip_tags(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find(['<', '{']) {
        out.push_str(&rest[..start]);
        // Both openers are ASCII, so `start + 1` is a char boundary.
        let (open, close) = if rest[start..].starts_with('<') { ('<', '>') } else { ('{', '}') };
        let after = &rest[start + 1..];
        // `{` only opens an override when followed by a backslash: `{\an8}`, `{\i1}`.
        let end = after
            .find(close)
            .filter(|&end| !after[..end].contains(open) && (open == '<' || after.starts_with('\\')));
        match end {
            Some(end) => rest = &after[end + 1..],
            None => {
                out.push(open);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Decodes entities in one pass, so `&amp;lt;` becomes the text `&lt;`, not `<`.
fn decode_entities(text: &str) -> String {
    /// Longest entity body we look for (`#x10FFFF` is the longest we decode).
    const MAX_ENTITY: usize = 10;
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let decoded = after
            .find(';')
            .filter(|&end| end <= MAX_ENTITY)
            .and_then(|end| decode_entity(&after[..end]).map(|c| (c, end)));
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn decode_entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        // A non-breaking space only matters for layout; in a transcript it is a space.
        "nbsp" => Some(' '),
        // Direction marks are invisible; dropping them keeps words comparable.
        "lrm" | "rlm" => Some(' '),
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code)
        }
    }
}

fn join(fragments: &[Fragment]) -> String {
    let mut out = String::new();
    for fragment in fragments {
        if !out.is_empty() {
            let sentence_ended = out.ends_with(['.', '!', '?', '…', '。', '！', '？']);
            out.push(if sentence_ended || fragment.new_turn { '\n' } else { ' ' });
        }
        out.push_str(&fragment.text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_tiktok_webvtt_file_becomes_one_sentence_per_line() {
        let vtt = "WEBVTT\n\n\n00:00:00.120 --> 00:00:02.360\nokay so today we're making\n\n00:00:02.360 --> 00:00:04.000\nthe fluffiest pancakes.\n\n00:00:04.000 --> 00:00:06.500\nyou'll need 2 eggs\n";
        assert_eq!(
            vtt_to_text(vtt),
            "okay so today we're making the fluffiest pancakes.\nyou'll need 2 eggs"
        );
    }

    #[test]
    fn header_metadata_notes_styles_regions_and_cue_ids_are_dropped() {
        let vtt = "\u{feff}WEBVTT - from TikTok\nKind: captions\nLanguage: en\n\nNOTE this is a comment\nspanning two lines\n\nSTYLE\n::cue { color: yellow }\n\nREGION\nid:fred width:40%\n\nintro-1\n00:00:01.000 --> 00:00:03.000 align:start position:10%\nHello there\n\n2\n00:03.000 --> 00:05.000\nfriends\n";
        assert_eq!(vtt_to_text(vtt), "Hello there friends");
    }

    #[test]
    fn inline_tags_timestamps_and_voices_are_stripped() {
        let vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n<v Chef Mia>Add the <b>butter</b><00:00:01.500><c> now</c>\n\n00:00:03.000 --> 00:00:05.000\n<v.loud Sam>Can I taste it?\n";
        assert_eq!(vtt_to_text(vtt), "Add the butter now\nCan I taste it?");
    }

    #[test]
    fn entities_are_decoded_once() {
        let vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nsalt &amp; pepper&nbsp;&lt;3 &#233;&#x2764; &amp;lt; &bogus; a & b\n";
        assert_eq!(vtt_to_text(vtt), "salt & pepper <3 é❤ &lt; &bogus; a & b");
    }

    #[test]
    fn repeated_auto_caption_lines_are_collapsed() {
        // The rolling two-line style of auto-captions: each cue repeats the previous line.
        let vtt = "WEBVTT\n\n00:00:00.000 --> 00:00:02.000\nfirst melt the butter\n\n00:00:02.000 --> 00:00:04.000\nfirst melt the butter\nthen add garlic\n\n00:00:04.000 --> 00:00:06.000\nthen add garlic\nand stir\n";
        assert_eq!(vtt_to_text(vtt), "first melt the butter then add garlic and stir");
    }

    #[test]
    fn a_repeat_further_apart_is_kept() {
        let vtt = "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nstir\n\n00:00:01.000 --> 00:00:02.000\nwait\n\n00:00:02.000 --> 00:00:03.000\nstir\n";
        assert_eq!(vtt_to_text(vtt), "stir wait stir");
    }

    #[test]
    fn srt_with_crlf_indices_and_formatting_is_tolerated() {
        let srt = "1\r\n00:00:01,000 --> 00:00:03,000\r\n{\\an8}<i>Whisk the eggs</i>\r\n\r\n2\r\n00:00:03,000 --> 00:00:05,000\r\n- Like this?\r\n- Yes.\r\n";
        assert_eq!(vtt_to_text(srt), "Whisk the eggs\nLike this?\nYes.");
    }

    #[test]
    fn sound_annotations_are_dropped_but_text_around_them_stays() {
        let vtt = "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n[Music]\n\n00:00:01.000 --> 00:00:02.000\n♪ ♪\n\n00:00:02.000 --> 00:00:03.000\n[laughs] that's hot\n";
        assert_eq!(vtt_to_text(vtt), "[laughs] that's hot");
    }

    #[test]
    fn text_that_is_not_a_subtitle_file_is_kept() {
        assert_eq!(vtt_to_text("just a transcript\n\nwith two parts"), "just a transcript with two parts");
        assert_eq!(vtt_to_text("a <b and {c"), "a <b and {c", "unclosed openers are text");
    }

    #[test]
    fn empty_and_header_only_inputs_give_empty_text() {
        let cases = [
            ("", "empty input"),
            ("WEBVTT\n", "header only"),
            ("WEBVTT\n\nNOTE nothing here\n", "only a note"),
            ("WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<c></c>\n", "a cue with only tags"),
            ("WEBVTT\n\n1\n\n2\n00:00:00.000 --> 00:00:01.000\n", "ids and timings without text"),
        ];
        for (input, why) in cases {
            assert_eq!(vtt_to_text(input), "", "{why}");
        }
    }

    proptest! {
        #[test]
        fn never_panics_on_any_text(input in "\\PC{0,400}") {
            let _ = vtt_to_text(&input);
        }

        #[test]
        fn never_panics_on_subtitle_like_noise(input in "[<>{}&;#xX0-9a-z\\\\ \\-:.\n\r]{0,300}") {
            let _ = vtt_to_text(&input);
        }

        #[test]
        fn keeps_every_word_of_plain_cues_in_order(
            lines in prop::collection::vec("[a-z]{1,8}( [a-z]{1,8}){0,4}", 0..12),
        ) {
            let mut vtt = String::from("WEBVTT\n\n");
            for (n, line) in lines.iter().enumerate() {
                vtt.push_str(&format!("{n}\n00:00:{n:02}.000 --> 00:00:{:02}.000\n{line}\n\n", n + 1));
            }
            let mut expected: Vec<&str> = Vec::new();
            let mut previous: Option<&String> = None;
            for line in &lines {
                if previous != Some(line) {
                    expected.extend(line.split(' '));
                }
                previous = Some(line);
            }
            let text = vtt_to_text(&vtt);
            prop_assert_eq!(text.split_whitespace().collect::<Vec<_>>(), expected);
        }
    }
}
