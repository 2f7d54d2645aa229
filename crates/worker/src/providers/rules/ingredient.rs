//! One ingredient text ("2 cups of flour, sifted") into amount, unit, name and note, and list
//! lines ("200g spaghetti, 2 eggs and salt") into their items.

use protocol::Ingredient;

use super::quantity::parse_quantity;
use super::text::{clean_line, first_word, has_letters, strip_prefix_ci, word_count};
use super::units::parse_unit;

/// Words before an amount that only say it is approximate.
const APPROXIMATELY: &[&str] =
    &["approx. ", "approx ", "about ", "around ", "circa ", "ca. ", "ca.", "ca ", "etwa ", "ungefähr ", "~"];

/// Words after an article that make it "some" rather than "one" ("a little", "ein paar").
const NOT_COUNTED: &[&str] = &["little", "bit", "few", "some", "touch", "lot", "wenig", "bisschen", "paar"];

/// Words linking a unit to the name ("2 cups of flour", "200 g de farine").
const LINKERS: &[&str] = &["of ", "von ", "de ", "d'", "d’", "di "];

/// First words of a comma fragment that describe the previous ingredient instead of naming a new
/// one ("3 cloves garlic, minced", "salt, to taste", "Butter, zum Braten").
const NOTE_WORDS: &[&str] = &[
    "to",
    "for",
    "or",
    "more",
    "optional",
    "optionally",
    "divided",
    "about",
    "approx",
    "approximately",
    "at",
    "room",
    "cut",
    "finely",
    "roughly",
    "thinly",
    "freshly",
    "lightly",
    "coarsely",
    "very",
    "cold",
    "warm",
    "hot",
    "whole",
    "such",
    "if",
    "as",
    "preferably",
    "ideally",
    "into",
    "in",
    "plus",
    "nach",
    "zum",
    "zur",
    "für",
    "fein",
    "grob",
    "klein",
    "oder",
    "weich",
    "zimmerwarm",
    "ca",
    "etwa",
    "am",
    "alternativ",
    "je",
    "evtl",
    "bei",
    "ungefähr",
    "kalt",
    "lauwarm",
    // English participles that do not end in "ed".
    "beaten",
    "frozen",
    "broken",
    "torn",
    "split",
];

/// Words ending in "ed" that are ingredients, not past participles.
const NOT_PARTICIPLES: &[&str] = &["seed", "seeds", "bread", "red", "shred", "speed"];

/// Words joining list items in running text.
const CONJUNCTIONS: &[&str] = &["and ", "und ", "plus ", "sowie ", "& ", "+ "];

/// Units that make sense without an amount ("pinch of salt", "Prise Salz"); the amount stays
/// unknown rather than guessed.
const UNIT_WITHOUT_AMOUNT: &[&str] = &["pinch", "dash", "handful", "Prise", "Handvoll", "Msp"];

/// Separators between items of a one-line list: commas and semicolons always, words only when an
/// amount follows (so "salt and pepper" stays one ingredient).
const WORD_SEPARATORS: &[&str] = &[" and ", " und ", " plus ", " sowie ", " & ", " + "];

/// Amount, unit and where the name starts in an ingredient text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Lead {
    /// The amount.
    pub(super) quantity: f64,
    /// The normalised unit.
    pub(super) unit: Option<&'static str>,
    /// Byte offset of the name, after the unit and a linking "of".
    pub(super) name_start: usize,
    /// The amount is only an article before a noun ("an onion"), the weakest kind of amount.
    pub(super) article: bool,
}

/// `text` after `at`, with leading spaces skipped, as an offset into `text`.
fn skip_spaces(text: &str, at: usize) -> usize {
    text.len() - text[at..].trim_start().len()
}

/// The amount and unit at the start of `text` ("about 2 cups of …", "1EL …", "a pinch of …").
pub(super) fn lead(text: &str) -> Option<Lead> {
    let start = APPROXIMATELY
        .iter()
        .find_map(|prefix| strip_prefix_ci(text, prefix))
        .map_or(0, |rest| text.len() - rest.trim_start().len());
    let quantity = parse_quantity(&text[start..])?;
    let mut pos = start + quantity.len;
    let unit = match parse_unit(&text[pos..]) {
        Some((unit, len)) => {
            pos += len;
            Some(unit)
        }
        None => None,
    };
    if unit.is_none() {
        // "7up" and "3D" are words, not amounts.
        if text[pos..].chars().next().is_some_and(char::is_alphabetic) {
            return None;
        }
        if quantity.article {
            let next = first_word(text[pos..].trim_start()).to_lowercase();
            if next.is_empty() || NOT_COUNTED.contains(&next.as_str()) {
                return None;
            }
        }
    }
    pos = skip_spaces(text, pos);
    for linker in LINKERS {
        if let Some(rest) = strip_prefix_ci(&text[pos..], linker) {
            if has_letters(rest) {
                pos = text.len() - rest.trim_start().len();
            }
            break;
        }
    }
    let article = quantity.article && unit.is_none();
    (quantity.value > 0.0).then_some(Lead { quantity: quantity.value, unit, name_start: pos, article })
}

/// Whether `text` starts with an amount.
pub(super) fn starts_with_amount(text: &str) -> bool {
    lead(text).is_some()
}

/// Whether `text` starts with an amount and a unit ("200 g", "2 tbsp"), the strongest sign that a
/// line is an ingredient.
pub(super) fn starts_with_measure(text: &str) -> bool {
    lead(text).is_some_and(|l| l.unit.is_some())
}

/// Collapses runs of whitespace and trims separators from both ends.
fn tidy(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    joined
        .trim_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '.' | '-' | '–' | '—'))
        .to_owned()
}

/// Splits "butter (softened), cubed" into the name and a note made of the parenthesised parts and
/// whatever follows the first comma.
fn split_name_note(text: &str) -> (String, Option<String>) {
    let mut name = String::new();
    let mut notes: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut depth = 0_u32;
    for c in text.chars() {
        match c {
            '(' | '[' => {
                if depth == 0 {
                    current.clear();
                } else {
                    current.push(c);
                }
                depth += 1;
            }
            ')' | ']' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    notes.push(std::mem::take(&mut current));
                } else {
                    current.push(c);
                }
            }
            _ if depth > 0 => current.push(c),
            _ => name.push(c),
        }
    }
    if depth > 0 {
        notes.push(current);
    }
    let (name, after_comma) = match comma_outside_number(&name) {
        Some(at) => (name[..at].to_owned(), Some(name[at + 1..].to_owned())),
        None => (name, None),
    };
    notes.extend(after_comma);
    let notes: Vec<String> = notes.iter().map(|n| tidy(n)).filter(|n| !n.is_empty()).collect();
    let note = (!notes.is_empty()).then(|| notes.join(", "));
    (tidy(&name), note)
}

/// The first comma that is not a decimal comma ("0,5").
fn comma_outside_number(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    text.char_indices().find_map(|(i, c)| {
        let decimal = i > 0
            && bytes.get(i - 1).is_some_and(u8::is_ascii_digit)
            && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        (c == ',' && !decimal).then_some(i)
    })
}

/// "Mehl: 200 g", "Flour – 2 cups", "Spaghetti 200g": the amount after the name.
fn amount_after_name(raw: &str) -> Option<Ingredient> {
    let build = |name: &str, right: &str, lead: Lead| {
        let name = tidy(name);
        (has_letters(&name) && word_count(&name) <= 6)
            .then(|| Ingredient {
                raw: raw.to_owned(),
                quantity: Some(lead.quantity),
                unit: lead.unit.map(str::to_owned),
                name,
                ..Ingredient::default()
            })
            .filter(|_| right[lead.name_start..].trim().is_empty())
    };
    for separator in [": ", " - ", " – ", " — "] {
        if let Some((left, right)) = raw.split_once(separator) {
            let right = right.trim();
            if let Some(found) = lead(right).and_then(|l| build(left, right, l)) {
                return Some(found);
            }
        }
    }
    // Without a separator the amount needs a unit: "Eier 3" could be anything.
    let last_amount = raw
        .char_indices()
        .filter(|&(i, c)| {
            i > 0
                && raw[..i].ends_with(' ')
                && (c.is_ascii_digit() || super::quantity::vulgar_fraction(c).is_some())
        })
        .map(|(i, _)| i)
        .next_back()?;
    let right = &raw[last_amount..];
    lead(right).filter(|l| l.unit.is_some()).and_then(|l| build(&raw[..last_amount], right, l))
}

/// "pinch of salt": a unit that needs no amount, and where the name starts.
fn unit_without_amount(text: &str) -> Option<(&'static str, usize)> {
    let (unit, len) = parse_unit(text).filter(|(unit, _)| UNIT_WITHOUT_AMOUNT.contains(unit))?;
    let mut start = skip_spaces(text, len);
    if let Some(rest) = LINKERS.iter().find_map(|linker| strip_prefix_ci(&text[start..], linker)) {
        start = text.len() - rest.trim_start().len();
    }
    has_letters(&text[start..]).then_some((unit, start))
}

/// Parses one ingredient text. Returns `None` when there is no name ("200 g", "🍝").
pub(super) fn parse_ingredient(text: &str) -> Option<Ingredient> {
    let raw = tidy(&clean_line(text));
    if !has_letters(&raw) {
        return None;
    }
    let (quantity, unit, rest) = match lead(&raw) {
        Some(lead) => (Some(lead.quantity), lead.unit, &raw[lead.name_start..]),
        None => match amount_after_name(&raw) {
            Some(found) => return Some(found),
            None => match unit_without_amount(&raw) {
                Some((unit, name_start)) => (None, Some(unit), &raw[name_start..]),
                None => (None, None, raw.as_str()),
            },
        },
    };
    let (name, note) = split_name_note(rest);
    if !has_letters(&name) {
        return None;
    }
    Some(Ingredient {
        raw: raw.clone(),
        quantity,
        unit: unit.map(str::to_owned),
        name,
        note,
        ..Ingredient::default()
    })
}

/// Whether a comma fragment describes the ingredient before it ("minced", "to taste", "gehackt").
fn is_note_like(fragment: &str) -> bool {
    let word = first_word(fragment);
    let lower = word.to_lowercase();
    if NOTE_WORDS.contains(&lower.as_str()) {
        return true;
    }
    let letters = lower.chars().count();
    // English past participles: "minced", "softened".
    let participle = letters >= 5 && lower.ends_with("ed") && !NOT_PARTICIPLES.contains(&lower.as_str());
    // German past participles are lower-case "ge…t"/"ge…en": "gehackt", "gemahlen". Nouns are
    // capitalised, which keeps "Gewürzgurken" out.
    let german_participle =
        letters >= 6 && word.starts_with("ge") && (lower.ends_with('t') || lower.ends_with("en"));
    participle || german_participle
}

/// `fragment` without a leading "and", "plus" or "&".
fn strip_conjunction(fragment: &str) -> &str {
    CONJUNCTIONS.iter().find_map(|c| strip_prefix_ci(fragment, c)).map_or(fragment, str::trim_start)
}

/// How a fragment was separated from the one before it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Separator {
    /// Start of the text.
    None,
    /// A comma or semicolon.
    Comma,
    /// A joining word ("and"); its text, to glue it back when no item follows.
    Word(&'static str),
}

/// The separator starting at byte `i` of `text`, and its length.
fn separator_at(text: &str, i: usize) -> Option<(Separator, usize)> {
    let rest = &text[i..];
    let c = rest.chars().next()?;
    if c == ';' {
        return Some((Separator::Comma, 1));
    }
    if c == ',' {
        let decimal = text[..i].ends_with(|p: char| p.is_ascii_digit())
            && rest[1..].starts_with(|n: char| n.is_ascii_digit());
        return (!decimal).then_some((Separator::Comma, 1));
    }
    WORD_SEPARATORS
        .iter()
        .find(|w| strip_prefix_ci(rest, w).is_some())
        .map(|&w| (Separator::Word(w), w.len()))
}

/// Splits a one-line list into item texts. Commas start a new item unless the fragment reads
/// like a note ("3 cloves garlic, minced"); "and"/"und"/"&" only when an amount follows, so
/// "Salz & Pfeffer" stays one item. Parentheses are never split.
pub(super) fn split_items(text: &str) -> Vec<String> {
    let mut fragments: Vec<(Separator, &str)> = Vec::new();
    let mut depth = 0_i32;
    let mut start = 0;
    let mut separator = Separator::None;
    let mut i = 0;
    while i < text.len() {
        let Some(c) = text[i..].chars().next() else { break };
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = (depth - 1).max(0),
            _ => {}
        }
        if depth == 0 {
            // A word right after a comma (", plus more") belongs to the next fragment.
            let separator_here = separator_at(text, i).filter(|(found, _)| {
                !matches!(found, Separator::Word(_)) || !text[start..i].trim().is_empty()
            });
            if let Some((found, len)) = separator_here {
                fragments.push((separator, &text[start..i]));
                separator = found;
                i += len;
                start = i;
                continue;
            }
        }
        i += c.len_utf8();
    }
    fragments.push((separator, &text[start..]));

    let mut items: Vec<String> = Vec::new();
    for (separator, fragment) in fragments {
        let fragment = fragment.trim();
        if fragment.is_empty() {
            continue;
        }
        let Some(last) = items.last_mut() else {
            items.push(fragment.to_owned());
            continue;
        };
        match separator {
            Separator::None | Separator::Comma => {
                let stripped = strip_conjunction(fragment);
                if starts_with_amount(stripped) || !is_note_like(stripped) {
                    items.push(stripped.to_owned());
                } else {
                    last.push_str(", ");
                    last.push_str(fragment);
                }
            }
            Separator::Word(word) => {
                if starts_with_amount(fragment) {
                    items.push(fragment.to_owned());
                } else {
                    last.push_str(word.trim_end());
                    last.push(' ');
                    last.push_str(fragment);
                }
            }
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (input, quantity, unit, name, note, why)
    type Case =
        (&'static str, Option<f64>, Option<&'static str>, &'static str, Option<&'static str>, &'static str);

    #[test]
    fn ingredient_lines_are_parsed_into_amount_unit_name_and_note() {
        let cases: &[Case] = &[
            // English.
            ("200g spaghetti", Some(200.0), Some("g"), "spaghetti", None, "unit glued to the number"),
            ("2 tbsp butter", Some(2.0), Some("tbsp"), "butter", None, "tablespoon abbreviation"),
            ("2 cups of flour", Some(2.0), Some("cup"), "flour", None, "'of' after the unit"),
            (
                "3 cloves garlic, minced",
                Some(3.0),
                Some("clove"),
                "garlic",
                Some("minced"),
                "note after a comma",
            ),
            (
                "½ cup parmesan (grated)",
                Some(0.5),
                Some("cup"),
                "parmesan",
                Some("grated"),
                "note in parentheses",
            ),
            ("1 1/2 cups heavy cream", Some(1.5), Some("cup"), "heavy cream", None, "mixed number"),
            ("1½ cups milk", Some(1.5), Some("cup"), "milk", None, "glued unicode mixed number"),
            ("¾ tsp salt", Some(0.75), Some("tsp"), "salt", None, "unicode three quarters"),
            ("⅓ cup sugar", Some(1.0 / 3.0), Some("cup"), "sugar", None, "unicode third"),
            ("2 large eggs", Some(2.0), None, "large eggs", None, "no unit"),
            ("two eggs", Some(2.0), None, "eggs", None, "number word"),
            ("a pinch of salt", Some(1.0), Some("pinch"), "salt", None, "article before a unit"),
            ("an onion, diced", Some(1.0), None, "onion", Some("diced"), "article before a noun"),
            ("a little olive oil", None, None, "a little olive oil", None, "'a little' is no amount"),
            ("2-3 cloves garlic", Some(2.0), Some("clove"), "garlic", None, "range takes the lower bound"),
            ("1 lb ground beef", Some(1.0), Some("lb"), "ground beef", None, "pound"),
            (
                "8 oz. cream cheese, softened",
                Some(8.0),
                Some("oz"),
                "cream cheese",
                Some("softened"),
                "ounce with a dot",
            ),
            (
                "1 can (400g) chopped tomatoes",
                Some(1.0),
                Some("can"),
                "chopped tomatoes",
                Some("400g"),
                "parenthesis in the middle",
            ),
            ("a handful of basil", Some(1.0), Some("handful"), "basil", None, "handful"),
            ("salt and pepper", None, None, "salt and pepper", None, "no amount"),
            ("about 2 cups water", Some(2.0), Some("cup"), "water", None, "approximate amount"),
            ("Flour - 2 cups", Some(2.0), Some("cup"), "Flour", None, "amount after the name"),
            (
                "1 tablespoon olive oil, plus more for serving",
                Some(1.0),
                Some("tbsp"),
                "olive oil",
                Some("plus more for serving"),
                "long note",
            ),
            // German.
            ("200 g Mehl", Some(200.0), Some("g"), "Mehl", None, "grams"),
            ("1EL Zucker", Some(1.0), Some("EL"), "Zucker", None, "EL glued to the number"),
            ("2 TL Backpulver", Some(2.0), Some("TL"), "Backpulver", None, "Teelöffel"),
            ("0,5 l Milch", Some(0.5), Some("l"), "Milch", None, "decimal comma"),
            ("eine Prise Salz", Some(1.0), Some("Prise"), "Salz", None, "eine Prise"),
            ("zwei Eier", Some(2.0), None, "Eier", None, "German number word"),
            ("3 Stk. Eier", Some(3.0), Some("Stück"), "Eier", None, "Stück abbreviation"),
            (
                "1 Pkg. Vanillezucker",
                Some(1.0),
                Some("Packung"),
                "Vanillezucker",
                None,
                "Packung abbreviation",
            ),
            (
                "2 Zehen Knoblauch, gehackt",
                Some(2.0),
                Some("Zehe"),
                "Knoblauch",
                Some("gehackt"),
                "German note",
            ),
            ("1 Bund Petersilie", Some(1.0), Some("Bund"), "Petersilie", None, "Bund"),
            ("1 Dose Tomaten (400 g)", Some(1.0), Some("Dose"), "Tomaten", Some("400 g"), "Dose with weight"),
            ("1 Becher Sahne", Some(1.0), Some("Becher"), "Sahne", None, "Becher"),
            ("Salz & Pfeffer", None, None, "Salz & Pfeffer", None, "no amount, German"),
            ("Mehl: 200 g", Some(200.0), Some("g"), "Mehl", None, "amount after a colon"),
            ("Spaghetti 500g", Some(500.0), Some("g"), "Spaghetti", None, "amount at the end"),
            ("2x Eier", Some(2.0), None, "Eier", None, "multiplier"),
            ("eine halbe Zitrone", Some(0.5), None, "Zitrone", None, "eine halbe"),
            ("Prise Zucker", None, Some("Prise"), "Zucker", None, "unit without an amount"),
            ("pinch of salt", None, Some("pinch"), "salt", None, "English unit without an amount"),
            ("1 egg, beaten", Some(1.0), None, "egg", Some("beaten"), "participle in -en"),
            (
                "250 ml Milch, lauwarm",
                Some(250.0),
                Some("ml"),
                "Milch",
                Some("lauwarm"),
                "German temperature note",
            ),
            // Bullets and emojis around the text.
            ("• 200 g Butter 🧈", Some(200.0), Some("g"), "Butter", None, "bullet and emoji"),
            ("- 1 kg Kartoffeln.", Some(1.0), Some("kg"), "Kartoffeln", None, "trailing full stop"),
        ];
        for &(input, quantity, unit, name, note, why) in cases {
            let parsed = parse_ingredient(input);
            let Some(parsed) = parsed else {
                panic!("{why}: {input:?} was not parsed");
            };
            match (parsed.quantity, quantity) {
                (Some(got), Some(want)) => {
                    assert!((got - want).abs() < 1e-9, "{why}: quantity of {input:?} was {got}")
                }
                (got, want) => assert_eq!(got, want, "{why}: quantity of {input:?}"),
            }
            assert_eq!(parsed.unit.as_deref(), unit, "{why}: unit of {input:?}");
            assert_eq!(parsed.name, name, "{why}: name of {input:?}");
            assert_eq!(parsed.note.as_deref(), note, "{why}: note of {input:?}");
        }
    }

    #[test]
    fn raw_keeps_the_text_without_its_bullet() {
        let parsed = parse_ingredient("✅ 2-3 cloves garlic, minced").map(|i| i.raw);
        assert_eq!(parsed.as_deref(), Some("2-3 cloves garlic, minced"));
    }

    #[test]
    fn texts_without_a_name_are_not_ingredients() {
        for (input, why) in [
            ("200 g", "amount only"),
            ("🍝🍝", "emoji only"),
            ("", "empty"),
            ("2 cups", "amount and unit only"),
        ] {
            assert_eq!(parse_ingredient(input), None, "{why}: {input:?}");
        }
    }

    #[test]
    fn one_line_lists_split_into_items() {
        let cases: &[(&str, &[&str], &str)] = &[
            (
                "200g spaghetti, 2 eggs, 50g parmesan",
                &["200g spaghetti", "2 eggs", "50g parmesan"],
                "comma list",
            ),
            (
                "2 eggs, 1 1/2 cups flour and 3/4 cup milk",
                &["2 eggs", "1 1/2 cups flour", "3/4 cup milk"],
                "'and' before an amount",
            ),
            ("3 cloves garlic, minced", &["3 cloves garlic, minced"], "a note is not an item"),
            ("salt, pepper, oregano", &["salt", "pepper", "oregano"], "items without amounts"),
            ("salt and pepper", &["salt and pepper"], "'and' without an amount"),
            ("Salz & Pfeffer, 2 EL Öl", &["Salz & Pfeffer", "2 EL Öl"], "ampersand"),
            ("0,5 l Milch, 2 Eier", &["0,5 l Milch", "2 Eier"], "decimal comma is not a separator"),
            (
                "1 can (400g, drained) beans; 1 onion",
                &["1 can (400g, drained) beans", "1 onion"],
                "parentheses and semicolon",
            ),
            (
                "3/4 cup milk, plus a pinch of salt",
                &["3/4 cup milk", "a pinch of salt"],
                "'plus' before an amount",
            ),
            (
                "1 tbsp oil, plus more for frying",
                &["1 tbsp oil, plus more for frying"],
                "'plus' starting a note",
            ),
            ("2 EL Butter, zum Braten", &["2 EL Butter, zum Braten"], "German note"),
        ];
        for &(input, expected, why) in cases {
            assert_eq!(split_items(input), expected, "{why}: {input:?}");
        }
    }
}
