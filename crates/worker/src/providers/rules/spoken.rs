//! Ingredients in spoken text (transcripts): "you'll need 2 eggs, 1 1/2 cups flour and 3/4 cup
//! milk", "add 2 tablespoons of sugar". The steps said around them are [`super::instruction`]'s.

use std::sync::LazyLock;

use protocol::Ingredient;
use regex::Regex;

use super::ingredient::{lead, parse_ingredient, split_items};
use super::text::{has_letters, regex, sentences, word_count};

/// Phrases that introduce a spoken ingredient list.
static NEED: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)\b(?:all you(?:'|’)?ll need is|all you need is|you(?:'|’)?ll need|you will need|you(?:'|’)?re gonna need|you are going to need|you need|we(?:'|’)?ll need|we will need|we need|the ingredients are|ingredients are|du brauchst|ihr braucht|wir brauchen|man braucht|dafür brauchst du|necesitas|necesitamos|necesitarás|vas a necesitar|solo necesitas|los ingredientes son)\b\s*:?\s*",
    )
});

/// Verbs after which a spoken amount is an ingredient even without a unit ("add 2 eggs").
static ADD: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)\b(?:add|adding|stir in|mix in|pour in|throw in|toss in|fold in|whisk in|put in|crack in|crack|season with|gib|gebt|füge|fügt|kommen)\s+(?:in\s+)?",
    )
});

/// Words that end a spoken ingredient name ("2 tbsp olive oil *in* a pan").
const NAME_STOPS: &[&str] = &[
    "and", "then", "to", "into", "in", "with", "until", "for", "on", "over", "at", "or", "plus", "so",
    "because", "but", "it", "that", "which", "und", "dann", "mit", "bis", "zu", "dazu", "hinzu", "rein",
    "oder", "für", "auf", "also", "hinein", "darüber",
];

/// Longest spoken ingredient name, in words; longer runs are sentences, not names.
const MAX_NAME_WORDS: usize = 4;

/// An ingredient heard in spoken text, with where it was said.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Mention {
    /// Byte offset of the phrase that introduced it.
    pub(super) at: usize,
    pub(super) ingredient: Ingredient,
}

/// The text up to the end of its first sentence.
fn until_sentence_end(text: &str) -> &str {
    sentences(text).first().map_or("", |&(at, sentence)| &text[..at + sentence.len()])
}

/// A spoken ingredient name at the start of `text` ("sugar and the flour" gives "sugar"), and how
/// many bytes it used.
fn spoken_name(text: &str) -> (String, usize) {
    let mut words: Vec<&str> = Vec::new();
    let mut used = 0;
    let mut piece_start = 0;
    for piece in text.split_inclusive(char::is_whitespace) {
        let start = piece_start;
        piece_start += piece.len();
        let word = piece.trim();
        if word.is_empty() {
            continue;
        }
        let bare = word.trim_end_matches(|c: char| !c.is_alphanumeric());
        let lower = bare.to_lowercase();
        if words.len() >= MAX_NAME_WORDS
            || NAME_STOPS.contains(&lower.as_str())
            || bare.starts_with(|c: char| c.is_ascii_digit())
            || !has_letters(bare)
        {
            break;
        }
        words.push(bare);
        // Pieces never start with whitespace, so the word ends `bare.len()` bytes in.
        used = start + bare.len();
        if bare.len() < word.len() {
            // Punctuation after the word ends the name: "salt, then …".
            break;
        }
    }
    (words.join(" "), used)
}

/// An amount with a name at byte `at` of `text`: "2 tablespoons of sugar". Without `require_unit`
/// a bare count is enough ("2 eggs"), which callers allow only after "add".
fn measure_at(text: &str, at: usize, require_unit: bool) -> Option<(Ingredient, usize)> {
    let rest = &text[at..];
    // `lead` reads only the first words of `rest` (ingredients' HEAD_WORDS), so calling it at
    // every word of a transcript stays linear.
    let lead = lead(rest)?;
    // "pour in a ladle of batter": an article is too weak to make a spoken ingredient.
    if lead.article || (require_unit && lead.unit.is_none()) {
        return None;
    }
    let (name, used) = spoken_name(&rest[lead.name_start..]);
    if name.is_empty() {
        return None;
    }
    let end = at + lead.name_start + used;
    let ingredient = Ingredient {
        raw: text[at..end].trim().to_owned(),
        quantity: Some(lead.quantity),
        unit: lead.unit.map(str::to_owned),
        name,
        ..Ingredient::default()
    };
    Some((ingredient, end))
}

/// Ingredients said in a transcript, in the order they were said, one per name.
pub(super) fn spoken_ingredients(text: &str) -> Vec<Mention> {
    let mut found: Vec<Mention> = Vec::new();

    // "You'll need 2 eggs, 1 1/2 cups flour and 3/4 cup milk."
    for m in NEED.find_iter(text) {
        let mut list = Vec::new();
        for item in split_items(until_sentence_end(&text[m.end()..])) {
            let Some(ingredient) = parse_ingredient(&item) else { break };
            let words = word_count(&ingredient.name);
            // A long "name" means the sentence went on about something else.
            if words > 5 || (ingredient.quantity.is_none() && words > 3) {
                break;
            }
            list.push(Mention { at: m.start(), ingredient });
        }
        // "You need to try this" is not a list: a spoken list names at least one amount.
        if list.iter().any(|mention| mention.ingredient.quantity.is_some()) {
            found.extend(list);
        }
    }

    // "… then 200 grams of flour go in": an amount with a unit anywhere.
    let mut resume = 0;
    let word_starts = text
        .char_indices()
        .filter(|&(i, c)| !c.is_whitespace() && (i == 0 || text[..i].ends_with(char::is_whitespace)));
    for (i, _) in word_starts {
        if i < resume {
            continue;
        }
        if let Some((ingredient, end)) = measure_at(text, i, true) {
            found.push(Mention { at: i, ingredient });
            resume = end;
        }
    }

    // "add 2 eggs": a count after an adding verb.
    for m in ADD.find_iter(text) {
        if let Some((ingredient, _)) = measure_at(text, m.end(), false) {
            found.push(Mention { at: m.end(), ingredient });
        }
    }

    found.sort_by_key(|m| m.at);
    let mut seen: Vec<String> = Vec::new();
    found.retain(|m| {
        let key = m.ingredient.name.to_lowercase();
        let new = !seen.contains(&key);
        if new {
            seen.push(key);
        }
        new
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<(String, Option<f64>, Option<String>)> {
        spoken_ingredients(text)
            .into_iter()
            .map(|m| (m.ingredient.name, m.ingredient.quantity, m.ingredient.unit))
            .collect()
    }

    #[test]
    fn a_spoken_list_after_you_will_need_is_read() {
        let found = names("For this you'll need 2 eggs, 1 1/2 cups flour and 3/4 cup milk. Then mix.");
        assert_eq!(
            found,
            vec![
                ("eggs".to_owned(), Some(2.0), None),
                ("flour".to_owned(), Some(1.5), Some("cup".to_owned())),
                ("milk".to_owned(), Some(0.75), Some("cup".to_owned())),
            ]
        );
    }

    #[test]
    fn amounts_said_while_cooking_are_ingredients() {
        let cases = [
            ("now add 2 tablespoons of sugar and stir", "sugar", Some("tbsp"), "add with a unit"),
            ("then crack in two eggs", "eggs", None, "count after an adding verb"),
            ("pour 200 ml of milk into the pan", "milk", Some("ml"), "unit anywhere"),
            ("Gib 200 g Mehl dazu", "Mehl", Some("g"), "German with dazu"),
            ("dann 2 EL Zucker hinzu", "Zucker", Some("tbsp"), "German with hinzu"),
        ];
        for (text, name, unit, why) in cases {
            let found = spoken_ingredients(text);
            assert_eq!(found.len(), 1, "{why}: {text:?} gave {found:?}");
            assert_eq!(found[0].ingredient.name, name, "{why}");
            assert_eq!(found[0].ingredient.unit.as_deref(), unit, "{why}");
        }
    }

    #[test]
    fn talk_without_amounts_yields_no_ingredients() {
        for text in [
            "hey guys welcome back to my channel",
            "I need 2 minutes to explain this",
            "you need to try this",
        ] {
            assert_eq!(names(text), vec![], "{text:?}");
        }
    }
}
