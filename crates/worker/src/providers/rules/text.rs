//! Text clean-up shared by the rule extractor: lines, bullets, numbering, emojis, sentences.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

/// Compiles one of the rule extractor's constant patterns. A typo in a pattern fails every test
/// that touches it, so this cannot panic in a build that passed CI.
pub(super) fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("the rule extractor's patterns are valid regexes")
}

static HASHTAG: LazyLock<Regex> = LazyLock::new(|| regex(r"#[\p{L}\p{N}_]+"));

/// A marker that starts a numbered item: "1.", "2)", "Step 3:", "Schritt 4".
static MARKER: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?i)(?:^|\s)(?:(?:step|schritt)\s*(\d{1,2})\s*[.):\-–]?|(\d{1,2})[.)])\s+"));

/// The same marker, only at the start of a line.
static NUMBERING: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?i)^(?:(?:step|schritt|étape|paso)\s*\d{1,2}\s*[.):\-–]?|\d{1,2}\s?[.)])\s+"));

/// A section header followed by a colon in the middle of a line ("… 🍝 Ingredients: 200 g …").
static INLINE_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)(?:ingredients|zutaten|ingrédients|ingredientes|ingredienti|you(?:'|’)?ll need|du brauchst|steps|instructions|method|directions|zubereitung|anleitung|so geht(?:'|’)?s|préparation|preparación|preparazione|how to make it|notes|tipps?|tips)\s*(?:\([^)]{0,40}\)\s*)?(?:\s(?:for|für|pour|para|per)\s[^:\n]{1,30}?)?\s*:",
    )
});

/// Characters that separate list items the way a line break does.
const BULLETS: [char; 8] = ['\n', '\r', '•', '▪', '●', '◦', '‣', '|'];

/// Abbreviations whose dot does not end a sentence, including units that are always followed by
/// the ingredient ("1 Pkg. Vanillezucker"). Time units are left out: "Bake 20 min. Let cool." is
/// two sentences.
const ABBREVIATIONS: &[&str] = &[
    "ca", "approx", "e.g", "i.e", "z.b", "zb", "bzw", "evtl", "ggf", "inkl", "vs", "nr", "pkg", "pck", "pkt",
    "stk", "msp", "gr", "el", "tl", "tbsp", "tbs", "tsp", "oz", "lb", "lbs",
];

/// Whether `c` is decoration (emoji, pictograph, bullet, joiner, variation selector) rather than
/// text or ordinary punctuation.
pub(super) fn is_decoration(c: char) -> bool {
    !(c.is_alphanumeric()
        || c.is_whitespace()
        || c.is_ascii_punctuation()
        || "–—…‘’‚“”„«»‹›°€£¥×⁄".contains(c))
}

/// Hashtags in `text`, without `#`.
pub(super) fn hashtags(text: &str) -> impl Iterator<Item = &str> {
    HASHTAG.find_iter(text).map(|m| m.as_str().trim_start_matches('#'))
}

/// `text` without hashtags.
pub(super) fn strip_hashtags(text: &str) -> String {
    without_hashtags(text).into_owned()
}

/// `text` without hashtags, borrowed when it has none (most lines): a search for `#` costs less
/// than one for the pattern.
fn without_hashtags(text: &str) -> Cow<'_, str> {
    if text.contains('#') { HASHTAG.replace_all(text, " ") } else { Cow::Borrowed(text) }
}

/// `line` without hashtags and decoration, with single spaces and no leading bullet.
pub(super) fn clean_line(line: &str) -> String {
    let without_tags = without_hashtags(line);
    let mut out = String::with_capacity(without_tags.len());
    // Decoration becomes a space so "pasta🍝sauce" stays two words.
    for word in without_tags.split(|c: char| c.is_whitespace() || is_decoration(c)) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    let bullet = out.len() - out.trim_start_matches(['-', '*', '>', '+', '–', '—', '=', ' ']).len();
    out.drain(..bullet);
    out
}

/// `line` without a leading "1.", "2)" or "Step 3:", and whether it had one.
pub(super) fn strip_numbering(line: &str) -> (bool, &str) {
    match NUMBERING.find(line) {
        Some(m) if m.end() < line.len() => (true, &line[m.end()..]),
        _ => (false, line),
    }
}

/// Number of words that contain a letter.
pub(super) fn word_count(text: &str) -> usize {
    text.split_whitespace().filter(|w| w.chars().any(char::is_alphabetic)).count()
}

/// Whether `text` contains a letter.
pub(super) fn has_letters(text: &str) -> bool {
    text.chars().any(char::is_alphabetic)
}

/// The leading word of `s` (letters and apostrophes).
pub(super) fn first_word(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_alphabetic() || c == '\'' || c == '’')).unwrap_or(s.len());
    &s[..end]
}

/// `s` without `prefix`, compared ASCII-case-insensitively.
pub(super) fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

/// `text` with its first letter upper-cased.
pub(super) fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `text` cut to at most `max` characters, at a word boundary when there is one.
pub(super) fn truncate_words(text: &str, max: usize) -> String {
    let Some((cut, _)) = text.char_indices().nth(max) else {
        return text.to_owned();
    };
    let head = &text[..cut];
    let head = head.rfind(char::is_whitespace).map_or(head, |space| &head[..space]);
    head.trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '-' | '–')).to_owned()
}

/// Replaces keycap emojis ("1️⃣", "🔟") with "1. " so they read as numbering.
fn normalise_keycaps(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '🔟' {
            out.push_str(" 10. ");
            continue;
        }
        if c.is_ascii_digit() {
            let mut look = chars.clone();
            let mut next = look.next();
            if next == Some('\u{FE0F}') {
                next = look.next();
            }
            if next == Some('\u{20E3}') {
                chars = look;
                out.push(' ');
                out.push(c);
                out.push_str(". ");
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// Splits `line` before section headers that follow other text.
fn split_inline_headers(line: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for m in INLINE_HEADER.find_iter(line) {
        let before = line[..m.start()].chars().next_back();
        if m.start() > start && before.is_some_and(|c| !c.is_alphanumeric()) {
            parts.push(&line[start..m.start()]);
            start = m.start();
        }
    }
    parts.push(&line[start..]);
    parts
}

/// Splits "1. Boil 2. Mix 3. Serve" into its items. Only a run counting up from 1 splits, so a
/// stray "Serves 4. Mix" does not.
fn split_numbered_run(line: &str) -> Vec<&str> {
    let mut cuts = Vec::new();
    let mut expected = 1;
    for caps in MARKER.captures_iter(line) {
        let Some(whole) = caps.get(0) else { continue };
        let number: u32 =
            caps.get(1).or_else(|| caps.get(2)).and_then(|m| m.as_str().parse().ok()).unwrap_or(0);
        if number == expected {
            cuts.push(whole.start());
            expected += 1;
        } else if number == 1 {
            cuts.clear();
            cuts.push(whole.start());
            expected = 2;
        }
    }
    if cuts.len() < 2 {
        return vec![line];
    }
    let mut parts = Vec::with_capacity(cuts.len() + 1);
    let mut previous = 0;
    for cut in cuts {
        if cut > previous {
            parts.push(&line[previous..cut]);
        }
        previous = cut;
    }
    parts.push(&line[previous..]);
    parts
}

/// The lines of a caption or subtitle text, with inline headers, bullets and numbered runs on
/// lines of their own. Hashtags and emojis are kept; callers clean lines as they need.
pub(super) fn prepare_lines(text: &str) -> Vec<String> {
    let text = normalise_keycaps(text);
    let mut lines = Vec::new();
    for piece in text.split(BULLETS) {
        for part in split_inline_headers(piece) {
            for item in split_numbered_run(part) {
                let item = item.trim();
                if !item.is_empty() {
                    lines.push(item.to_owned());
                }
            }
        }
    }
    lines
}

/// Whether the text before a dot ends with an abbreviation ("ca.", "z.B.", "(Gr.").
fn ends_with_abbreviation(text: &str) -> bool {
    let last = text.rsplit(char::is_whitespace).next().unwrap_or("").to_lowercase();
    // An opening bracket or quote is not part of the word: "4 Stk. Eier (Gr. M)".
    let word = last.trim_start_matches(|c: char| !c.is_alphanumeric());
    ABBREVIATIONS.contains(&word)
}

/// The sentences of `text` with their byte offsets: split after `.`, `!`, `?` or `…` followed by
/// whitespace, and at line breaks. Decimal points ("1.5") never split.
pub(super) fn sentences(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut push = |from: usize, to: usize| {
        let piece = &text[from..to];
        let trimmed = piece.trim_start();
        let offset = from + (piece.len() - trimmed.len());
        let trimmed = trimmed.trim_end();
        if has_letters(trimmed) {
            out.push((offset, trimmed));
        }
    };
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\n' | '\r' => {
                push(start, i);
                start = i + 1;
            }
            '.' | '!' | '?' | '…' => {
                let end = i + c.len_utf8();
                let at_break = chars.peek().is_none_or(|(_, next)| next.is_whitespace());
                if at_break && !(c == '.' && ends_with_abbreviation(&text[start..i])) {
                    push(start, end);
                    start = end;
                }
            }
            _ => {}
        }
    }
    push(start, text.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepared_lines_split_bullets_headers_and_numbered_runs() {
        let cases = [
            ("a\nb", vec!["a", "b"], "line breaks"),
            ("Ingredients: • 200g pasta • 2 eggs", vec!["Ingredients:", "200g pasta", "2 eggs"], "bullets"),
            (
                "Easy pasta 🍝 Ingredients: 200g spaghetti Steps: 1. Boil 2. Mix",
                vec!["Easy pasta 🍝", "Ingredients: 200g spaghetti", "Steps:", "1. Boil", "2. Mix"],
                "inline headers and a numbered run",
            ),
            ("1️⃣ Boil the pasta", vec!["1.  Boil the pasta"], "keycap emoji becomes numbering"),
            ("Serves 4. Mix well", vec!["Serves 4. Mix well"], "a lone number is not a run"),
            ("Bake 1.5 hours", vec!["Bake 1.5 hours"], "decimals are not markers"),
            ("Step 1: Boil Step 2: Drain", vec!["Step 1: Boil", "Step 2: Drain"], "step words"),
        ];
        for (input, expected, why) in cases {
            assert_eq!(prepare_lines(input), expected, "{why}: {input:?}");
        }
    }

    #[test]
    fn clean_line_drops_bullets_emojis_and_hashtags() {
        let cases = [
            ("- 200 g Mehl", "200 g Mehl", "dash bullet"),
            ("✅ 2 eggs 🥚", "2 eggs", "emoji bullet and trailing emoji"),
            ("pasta🍝sauce", "pasta sauce", "emoji between words keeps a space"),
            ("Boil the pasta #pasta #fyp", "Boil the pasta", "hashtags"),
            ("👩‍🍳 Steps:", "Steps:", "joined emoji sequence"),
            ("~200 g butter", "~200 g butter", "approximation sign is kept"),
        ];
        for (input, expected, why) in cases {
            assert_eq!(clean_line(input), expected, "{why}");
        }
    }

    #[test]
    fn numbering_is_stripped_only_when_followed_by_text() {
        let cases = [
            ("1. Boil water", (true, "Boil water"), "dot"),
            ("2) Drain", (true, "Drain"), "parenthesis"),
            ("Step 3: Serve", (true, "Serve"), "step word"),
            ("Schritt 4 Servieren", (true, "Servieren"), "German step word"),
            ("1.5 cups flour", (false, "1.5 cups flour"), "decimal"),
            ("2 eggs", (false, "2 eggs"), "quantity"),
        ];
        for (input, expected, why) in cases {
            assert_eq!(strip_numbering(input), expected, "{why}");
        }
    }

    #[test]
    fn sentences_split_at_sentence_ends_but_not_decimals_or_abbreviations() {
        let text = "Add 1.5 cups flour. Mix ca. 2 minutes! Bake\nServe";
        let found: Vec<&str> = sentences(text).into_iter().map(|(_, s)| s).collect();
        assert_eq!(found, vec!["Add 1.5 cups flour.", "Mix ca. 2 minutes!", "Bake", "Serve"]);
        let offsets: Vec<usize> = sentences(text).into_iter().map(|(at, _)| at).collect();
        assert_eq!(&text[offsets[1]..offsets[1] + 3], "Mix", "offsets point at the sentence");
    }

    #[test]
    fn truncation_cuts_at_a_word_boundary() {
        assert_eq!(truncate_words("one two three", 9), "one two", "cut inside 'three'");
        assert_eq!(truncate_words("short", 80), "short", "short text is kept");
    }
}
