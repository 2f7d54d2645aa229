//! What one line of a written text is: a section header ("🛒 Zutaten:", "Steps 👇"), a line
//! that only states servings or times ("Serves 4"), a bare duration. The layout scan
//! ([`super::sections`]) and the title finder ([`super::title`]) both ask.

use std::sync::LazyLock;

use regex::Regex;

use super::meta::{Times, find_servings, find_times, parse_duration};
use super::text::{has_letters, regex, word_count};

/// Words that open an ingredient list (regex alternatives, longer ones first because the regex
/// takes the first alternative that matches).
const INGREDIENT_HEADERS: &[&str] = &[
    "ingredient list",
    "ingredients?",
    "what you(?:'|’)?ll need",
    "what you need",
    "you(?:'|’)?ll need",
    "you will need",
    "shopping list",
    "zutaten",
    "was du brauchst",
    "du brauchst",
    "ihr braucht",
    "einkaufsliste",
    "ingrédients",
    "ingredientes",
    "ingredienti",
];

/// Words that open the method.
const STEP_HEADERS: &[&str] = &[
    "steps",
    "instructions",
    "method",
    "directions",
    "how to make it",
    "how to make",
    "how to",
    "preparation",
    "zubereitung",
    "anleitung",
    "so geht(?:'|’)?s",
    "so wird(?:'|’)?s gemacht",
    "préparation",
    "étapes",
    "preparación",
    "instrucciones",
    "preparazione",
    "procedimento",
];

/// Words that open notes, tips or nutrition, which hold nothing to extract.
const NOTE_HEADERS: &[&str] =
    &["notes?", "tipps?", "tips?", "hinweise?", "nutrition", "nährwerte", "storage"];

/// A section header at the start of a line, after any emoji ("🛒 Ingredients:", "Zubereitung").
/// The `\b` after the word makes "ingredients?" give way to "ingredientes". It is ASCII's, like
/// every word boundary here: the words end in ASCII letters, and an ASCII boundary keeps the
/// regex engine on its DFA for lines with emoji (see `meta::TIME_LABEL`). A header word glued to
/// another letter ("Zutatenübersicht") still fails on what follows it ([`HEADER_TAIL`]).
static HEADER: LazyLock<Regex> = LazyLock::new(|| {
    regex(&format!(
        r"(?i)^[^\p{{L}}\p{{N}}]*(?:(?P<ingredients>{})|(?P<steps>{})|(?P<notes>{}))(?-u:\b)(?P<tail>.*)$",
        INGREDIENT_HEADERS.join("|"),
        STEP_HEADERS.join("|"),
        NOTE_HEADERS.join("|"),
    ))
});

/// What may follow a header word: a parenthesis, a "for 4 people" clause, then a colon and
/// content, or only decoration. Anything else ("Method acting is …") is prose, not a header.
static HEADER_TAIL: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"^\s*(?:\([^)]*\)\s*)?(?:(?:for|für|pour|para|per)\s+[^:]{1,40}?\s*)?(?:[:：\-–—]\s*(?P<rest>.*)|[^\p{L}\p{N}]*)$",
    )
});

/// Lines that only carry servings or times, which must not become steps or ingredients.
static METADATA_START: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)^(?:(?:serves|servings?|portionen|portions?|yields?|makes|ergibt|prep|preparation|vorbereitung|vorbereitungszeit|arbeitszeit|zubereitungszeit|cook(?:ing)?\s*time|cook\s+\d+|bak(?:e|ing)\s*time|kochzeit|backzeit|garzeit|total|gesamtzeit|für\s+\d+|for\s+\d+)(?-u:\b)|cook\s*:)",
    )
});

/// Times we do not keep (resting, chilling) but which still make a line metadata.
static OTHER_TIME_START: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)^(?:ruhezeit|kühlzeit|wartezeit|rest(?:ing)?\s*time|chill(?:ing)?\s*time|time|zeit|dauer)(?-u:\b)",
    )
});

/// Where in a written text a line belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Section {
    /// Outside any list.
    Other,
    /// An ingredient list; `explicit` when a header opened it rather than a measure line.
    Ingredients { explicit: bool },
    /// Method steps; `trusted` when a header or an ingredient list led to them.
    Steps { trusted: bool },
    /// Notes, tips, nutrition: nothing to extract.
    Notes,
}

/// The section a header line opens, and any content after its colon.
pub(super) fn header(line: &str) -> Option<(Section, String)> {
    let caps = HEADER.captures(line)?;
    let tail = caps.name("tail").map_or("", |m| m.as_str());
    let tail = HEADER_TAIL.captures(tail)?;
    let rest = tail.name("rest").map_or("", |m| m.as_str()).trim();
    let section = if caps.name("ingredients").is_some() {
        Section::Ingredients { explicit: true }
    } else if caps.name("steps").is_some() {
        // "Zubereitung: 30 Min." is a time, not the start of the method.
        if is_duration(rest) {
            return None;
        }
        Section::Steps { trusted: true }
    } else {
        Section::Notes
    };
    Some((section, rest.to_owned()))
}

/// Whether `line` only states servings or times ("Serves 4", "Backzeit 25 Minuten").
pub(super) fn is_metadata_line(line: &str) -> bool {
    if word_count(line) > 12 {
        return false;
    }
    // The labels first: they are anchored and cheap, the searches for what a line states are not.
    let states_something = || find_servings(line).is_some() || find_times(line) != Times::default();
    (METADATA_START.is_match(line) && states_something())
        || (OTHER_TIME_START.is_match(line) && line.contains(|c: char| c.is_ascii_digit()))
}

/// Whether `text` is a duration and nothing else ("30 Min.").
pub(super) fn is_duration(text: &str) -> bool {
    parse_duration(text).is_some_and(|(_, len)| !has_letters(&text[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_recognised_with_decoration_and_trailing_content() {
        let ingredients = Some(Section::Ingredients { explicit: true });
        let steps = Some(Section::Steps { trusted: true });
        let cases = [
            ("Ingredients", ingredients, "", "bare English"),
            ("🛒 INGREDIENTS:", ingredients, "", "emoji and upper case"),
            ("Zutaten (für 4 Personen):", ingredients, "", "parenthesis"),
            ("Zutaten für 2 Personen:", ingredients, "", "for clause"),
            ("You'll need: 2 eggs", ingredients, "2 eggs", "content after the colon"),
            ("Ingrédients :", ingredients, "", "French"),
            ("Ingredientes:", ingredients, "", "Spanish"),
            ("Ingredienti", ingredients, "", "Italian"),
            ("👩‍🍳 Steps 👇", steps, "", "joined emoji and pointing hand"),
            ("Zubereitung:", steps, "", "German method"),
            ("So geht's:", steps, "", "German so geht's"),
            ("Instructions: Boil the pasta.", steps, "Boil the pasta.", "inline method"),
            ("Préparation", steps, "", "French method"),
            ("Preparación:", steps, "", "Spanish method"),
            ("Method", steps, "", "method"),
            ("Tips:", Some(Section::Notes), "", "notes"),
            ("Method acting is hard", None, "", "prose starting with a header word"),
            ("How to make the best pancakes 🥞", None, "", "title starting with 'how to'"),
            ("Zubereitung: 30 Min.", None, "", "a time, not a header"),
            ("Ingredients are simple", None, "", "prose"),
        ];
        for (line, section, rest, why) in cases {
            let found = header(line);
            assert_eq!(found.as_ref().map(|(s, _)| *s), section, "{why}: {line:?}");
            if let Some((_, found_rest)) = found {
                assert_eq!(found_rest, rest, "{why}: rest of {line:?}");
            }
        }
    }

    #[test]
    fn metadata_lines_are_told_from_instructions() {
        let cases = [
            ("Serves 4", true, "servings"),
            ("Zubereitungszeit 15 Min. Backzeit 10 Minuten", true, "German times"),
            ("Cook 20 min", true, "cook with a time"),
            ("Cook the pasta for 10 minutes", false, "an instruction"),
            ("Prep the vegetables", false, "prep as a verb"),
        ];
        for (line, expected, why) in cases {
            assert_eq!(is_metadata_line(line), expected, "{why}: {line:?}");
        }
    }
}
