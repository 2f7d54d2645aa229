//! The dish's name, from the caption, the transcript or the hashtags.

use std::sync::LazyLock;

use regex::Regex;

use super::ingredient::starts_with_measure;
use super::line::{header, is_metadata_line};
use super::text::{capitalise, clean_line, is_decoration, regex, sentences, truncate_words};

/// Longest title we keep, in characters; captions often run on after the dish name.
const MAX_TITLE_CHARS: usize = 80;

/// Phrases in a caption that say nothing about the dish.
static FLUFF: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)(?:\b(?:full\s+|the\s+)?(?:recipe|rezept|recette|receta|ricetta)s?\s+(?:is\s+)?(?:below|down below|in (?:the )?(?:comments?|caption|description|bio)|unten|in den kommentaren|in der beschreibung|im kommentar)|\bsave (?:this|it)(?: for later)?|\bfollow (?:me )?for more\b.*|\blink in (?:my )?bio\b|\bpart \d+\b|\bpov\s*:|\bwait for it\b|https?://\S+|@[\w.]+)",
    )
});

/// "Recipe: …" at the start of a caption.
static RECIPE_PREFIX: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?i)^(?:recipe|rezept|recette|receta|ricetta)\s*[:\-–]\s*"));

/// "today we're making …" in a transcript names the dish.
static MAKING: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)\b(?:today|now)\s+(?:we(?:'|’)?re|we are|i(?:'|’)?m|i am)\s+(?:making|cooking|baking)\s+(?:a |an |the |some |my |our )?(?P<dish>[^.!?,\n]{3,60})|\bheute\s+(?:gibt es|machen wir|mache ich|backen wir|backe ich|kochen wir|koche ich)\s+(?P<dish_de>[^.!?,\n]{3,60})",
    )
});

/// A title candidate from one piece of a caption line.
fn title_candidate(piece: &str) -> Option<String> {
    let without_fluff = FLUFF.replace_all(piece, " ");
    let cleaned = clean_line(&without_fluff);
    let cleaned = RECIPE_PREFIX.replace(&cleaned, "");
    let cleaned = cleaned
        .trim_matches(|c: char| c.is_whitespace() || matches!(c, ':' | '-' | '–' | '—' | ',' | ';' | '.'));
    let lower = cleaned.to_lowercase();
    let letters = cleaned.chars().filter(|c| c.is_alphabetic()).count();
    if letters < 3
        || matches!(lower.as_str(), "recipe" | "recipes" | "rezept" | "ingredients" | "zutaten")
        || starts_with_measure(cleaned)
        || is_metadata_line(cleaned)
    {
        return None;
    }
    // "Easy Pasta Recipe" is the dish "Easy Pasta"; "Omas Rezept" keeps its word.
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    let trailing_recipe = words.last().is_some_and(|w| {
        matches!(w.to_lowercase().as_str(), "recipe" | "rezept" | "recette" | "receta" | "ricetta")
    });
    let title =
        if trailing_recipe && words.len() > 2 { words[..words.len() - 1].join(" ") } else { words.join(" ") };
    Some(capitalise(&truncate_words(&title, MAX_TITLE_CHARS)))
}

/// The dish's name: the first meaningful piece of the caption before any section, where emojis,
/// " | " and sentence ends separate pieces; else "today we're making …" from the transcript; else
/// the longest dish hashtag; else "Recipe".
pub(super) fn title(caption_lines: &[String], transcript: Option<&str>, tags: &[String]) -> String {
    for line in caption_lines {
        if header(line).is_some() {
            break;
        }
        for piece in line.split(is_decoration) {
            for (_, sentence) in sentences(piece) {
                if let Some(title) = title_candidate(sentence) {
                    return title;
                }
            }
        }
    }
    if let Some(caps) = transcript.and_then(|t| MAKING.captures(t))
        && let Some(dish) = caps.name("dish").or_else(|| caps.name("dish_de"))
        && let Some(title) = title_candidate(dish.as_str())
    {
        return title;
    }
    tags.iter()
        .filter(|tag| tag.chars().all(char::is_alphabetic))
        .max_by_key(|tag| tag.chars().count())
        .map_or_else(|| "Recipe".to_owned(), |tag| capitalise(tag))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::rules::tags::tags;

    #[test]
    fn titles_skip_emojis_hashtags_and_fluff() {
        let cases: &[(&[&str], Option<&str>, &str, &str)] = &[
            (
                &["Creamy garlic butter pasta 🍝🧄 ready in 20 minutes!"],
                None,
                "Creamy garlic butter pasta",
                "cut at the emoji",
            ),
            (&["Omas Kaiserschmarrn 🥞 – einfach & schnell"], None, "Omas Kaiserschmarrn", "German"),
            (
                &["🍝 Recipe below 👇", "One-pot lemon orzo. So good"],
                None,
                "One-pot lemon orzo",
                "fluff line skipped",
            ),
            (&["Recipe: Banana bread #baking #fyp"], None, "Banana bread", "recipe prefix and hashtags"),
            (&["Easy Chicken Curry Recipe"], None, "Easy Chicken Curry", "trailing 'recipe'"),
            (
                &["#pancakes #fyp"],
                Some("hey guys, today we're making fluffy pancakes. First"),
                "Fluffy pancakes",
                "from the transcript",
            ),
            (&["#bananabread #fyp"], None, "Bananabread", "longest hashtag"),
            (&["🔥🔥🔥"], None, "Recipe", "nothing at all"),
        ];
        for &(lines, transcript, expected, why) in cases {
            let lines: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
            let tags = tags(&[], &lines.join(" "));
            assert_eq!(title(&lines, transcript, &tags), expected, "{why}");
        }
    }

    #[test]
    fn long_titles_are_cut_at_a_word() {
        let line = "This incredibly creamy and ridiculously easy one pan garlic parmesan chicken with sundried tomatoes and spinach";
        let found = title(&[line.to_owned()], None, &[]);
        assert!(found.chars().count() <= MAX_TITLE_CHARS, "{found:?} is too long");
        assert!(line.starts_with(&found), "{found:?} is a prefix cut at a word");
    }
}
