//! One-line lists ("200g spaghetti, 2 eggs and salt") into their items, without splitting an
//! item whose comma only separates its own words ("1 ripe, medium cantaloupe", "3 cloves
//! garlic, minced", "4 Stk. Eier (Gr. M)").

use crate::lang::Langs;
use crate::number::amount_at;
use crate::words::{is_comment_fragment, is_leading_preparation, is_size, is_trailing_preparation};

/// First words of a comma fragment that describe the item before it.
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
    "beaten",
    "frozen",
    "broken",
    "torn",
    "split",
    "skin",
    "bone",
    "any",
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
    "reif",
    "trocken",
    "mittelscharf",
    "festkochend",
    "mehligkochend",
    "gemischt",
    "al",
    "a",
    "en",
    "para",
    "sin",
    "con",
    "opcional",
    "picado",
    "picada",
    "cortado",
    "cortada",
    "unos",
    "unas",
    "like",
    "frisch",
    "left",
    "leaves",
    "stems",
    "skins",
    "z",
    "zb",
    "bzw",
    "eg",
    "ie",
    "rot",
    "gelb",
    "grün",
    "rote",
    "gelbe",
    "grüne",
    "weiß",
    "schwarz",
    "roh",
    "gekocht",
];

/// Words ending in "ed" that are foods, not past participles.
const NOT_PARTICIPLES: &[&str] = &[
    "seed",
    "seeds",
    "bread",
    "red",
    "shred",
    "speed",
    "mixed",
    "dried",
    "smoked",
    "roasted",
    "toasted",
    "salted",
    "unsalted",
    "canned",
    "pickled",
    "cured",
    "aged",
    "reduced",
    "sweetened",
    "unsweetened",
    "condensed",
    "evaporated",
    "powdered",
    "granulated",
    "rolled",
    "flaked",
    "clarified",
    "whipped",
    "fried",
    "refried",
    "stuffed",
];

/// Words joining items in running text; they split only when an amount follows.
const JOINERS: &[(&str, Langs)] = &[
    ("and", Langs::EN),
    ("plus", Langs::EN),
    ("und", Langs::DE),
    ("sowie", Langs::DE),
    ("y", Langs::ES),
    ("e", Langs::ES),
    ("&", Langs::ALL),
    ("+", Langs::ALL),
];

/// Whether `word` is a comma-free modifier (size or preparation) only.
fn is_modifier(word: &str, langs: Langs) -> bool {
    is_size(word, langs) || is_leading_preparation(word, None, langs)
}

/// Whether a fragment after a comma describes the item before it.
fn describes_previous(fragment: &str, langs: Langs) -> bool {
    let first = fragment.split_whitespace().next().unwrap_or("");
    let lower = first.to_lowercase();
    let lower = lower.trim_matches(|c: char| !c.is_alphanumeric());
    if NOTE_WORDS.contains(&lower)
        || is_comment_fragment(fragment, langs)
        || is_trailing_preparation(lower, langs)
    {
        return true;
    }
    let words: Vec<String> = fragment
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase())
        .collect();
    // "stems removed", "woody ends trimmed": a participle anywhere in a short fragment.
    // Product participles ("toasted almonds") only when no food follows ("toasted", "whipped to
    // soft peaks").
    let participle = |k: usize| {
        let w = words[k].as_str();
        let next = words.get(k + 1).map(String::as_str);
        w.chars().count() >= 5
            && w.ends_with("ed")
            && (!NOT_PARTICIPLES.contains(&w)
                || next.is_none_or(|n| matches!(n, "to" | "with" | "until" | "in" | "and")))
    };
    // "skin on", "tails left on".
    let left_on = words.len() <= 3 && words.last().is_some_and(|w| matches!(w.as_str(), "on" | "off"));
    let english = langs.has(Langs::EN) && words.len() <= 5 && ((0..words.len()).any(participle) || left_on);
    // German adjectives and participles are lower case ("abgetropft", "halbiert"); nouns are not.
    let lower_case = first.starts_with(char::is_lowercase);
    let long_t =
        lower.chars().count() >= 7 && lower.ends_with('t') && !matches!(lower, "joghurt" | "yoghurt");
    let ge_en = lower.starts_with("ge") && lower.ends_with("en") && lower.chars().count() >= 6;
    let german = langs.has(Langs::DE) && lower_case && (long_t || ge_en);
    // "fresh or frozen": an alternative without an amount.
    let alternative = words.len() <= 4 && words.iter().any(|w| matches!(w.as_str(), "or" | "oder" | "o"));
    (english || german || alternative || is_leading_preparation(first, None, langs))
        && !fragment.split_whitespace().skip(1).any(|w| amount_at(&[w], langs).is_some_and(|a| !a.article))
}

/// Parts of a fruit or vegetable, named after it ("1 lemon, zest and juice", "1 Zitrone (Bio),
/// Abrieb und Saft"): a fragment of these only is what to take of the item before.
const PART_WORDS: &[&str] =
    &["zest", "juice", "rind", "peel", "abrieb", "saft", "schale", "ralladura", "zumo", "jugo", "piel"];

/// Whether `fragment` names only parts of the item before it, joined by "and"/"und"/"y".
fn parts_only(fragment: &str) -> bool {
    let words: Vec<String> = fragment
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase())
        .filter(|w| !w.is_empty())
        .collect();
    !words.is_empty()
        && words.iter().any(|w| PART_WORDS.contains(&w.as_str()))
        && words
            .iter()
            .all(|w| PART_WORDS.contains(&w.as_str()) || matches!(w.as_str(), "and" | "und" | "y" | "of"))
}

/// German writes nouns, and so foods, with a capital: a fragment without a capitalised word
/// after an item that capitalises its food is a description of it ("1 TL Paprikapulver,
/// edelsüß"; but "etwas Salz" names a food), unless the writer capitalises nothing ("salz,
/// pfeffer, zucker").
fn german_description(item: &str, fragment: &str, langs: Langs) -> bool {
    let capitalised = item.split_whitespace().any(|w| w.starts_with(|c: char| c.is_uppercase()));
    langs.has(Langs::DE)
        && capitalised
        && !fragment.split_whitespace().any(|w| w.starts_with(|c: char| c.is_uppercase()))
        && !starts_with_amount(fragment, langs)
}

/// Whether `text` starts with an amount: digits or a number word (`Some(true)`), or an
/// article before a word (`Some(false)`: "a pinch of salt", but also "a temperatura ambiente").
fn amount_kind(text: &str, langs: Langs) -> Option<bool> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let amount = amount_at(&words, langs).filter(|a| !a.article || words.len() > 1)?;
    // "a pinch of salt" is as strong as "1 pinch".
    Some(!amount.article || crate::units::unit_at(&words[1..], langs).is_some())
}

/// Whether `text` starts with an amount.
fn starts_with_amount(text: &str, langs: Langs) -> bool {
    amount_kind(text, langs).is_some()
}

/// Whether `item` has no food in it: only an amount and unit ("1 cup", "one").
fn nameless(item: &str, langs: Langs) -> bool {
    crate::parse::parse_line(item, langs).name.is_empty()
}

/// Whether an item so far is only an amount and modifiers ("1 ripe"), so a comma after it
/// still belongs to it.
fn unfinished(item: &str, langs: Langs) -> bool {
    let words: Vec<&str> = item.split_whitespace().collect();
    let skip = amount_at(&words, langs).map_or(0, |a| a.words);
    let rest = &words[skip..];
    !rest.is_empty() && rest.iter().all(|w| is_modifier(w, langs))
}

/// Splits a one-line list into item texts (see [`crate::split_list`]).
pub(crate) fn split_items(text: &str, langs: Langs) -> Vec<String> {
    // Fragments and the separator before each: None (start), Some(None) comma, Some(Some(w)) word.
    let mut fragments: Vec<(Option<Option<&str>>, String)> = Vec::new();
    let mut depth = 0_i32;
    let mut current = String::new();
    let mut separator: Option<Option<&str>> = None;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut k = 0;
    while k < chars.len() {
        let (i, c) = chars[k];
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = (depth - 1).max(0),
            _ => {}
        }
        if depth == 0 {
            let decimal = c == ','
                && text[..i].ends_with(|p: char| p.is_ascii_digit())
                && text[i + 1..].starts_with(|n: char| n.is_ascii_digit());
            if (c == ',' || c == ';') && !decimal {
                fragments.push((separator, std::mem::take(&mut current)));
                separator = Some(None);
                k += 1;
                continue;
            }
            if c == ' ' && !current.trim().is_empty() {
                let rest = &text[i + 1..];
                let joiner = JOINERS.iter().find(|(w, l)| {
                    langs.has(*l)
                        && rest.get(..w.len()).is_some_and(|head| head.eq_ignore_ascii_case(w))
                        && rest[w.len()..].starts_with(' ')
                });
                if let Some((word, _)) = joiner {
                    fragments.push((separator, std::mem::take(&mut current)));
                    separator = Some(Some(word));
                    // Skip the word and the space after it.
                    let skip_to = i + 1 + word.len() + 1;
                    while k < chars.len() && chars[k].0 < skip_to {
                        k += 1;
                    }
                    continue;
                }
            }
        }
        current.push(c);
        k += 1;
    }
    fragments.push((separator, current));

    let mut items: Vec<String> = Vec::new();
    for (separator, fragment) in fragments {
        let fragment = fragment.trim();
        if fragment.is_empty() {
            continue;
        }
        let count = items.len();
        let Some(last) = items.last_mut() else {
            items.push(fragment.to_owned());
            continue;
        };
        match separator {
            None | Some(None) => {
                let stripped = JOINERS
                    .iter()
                    .filter(|(_, l)| langs.has(*l))
                    .find_map(|(w, _)| {
                        fragment
                            .get(..w.len())
                            .filter(|h| h.eq_ignore_ascii_case(w))
                            .and_then(|_| fragment[w.len()..].strip_prefix(' '))
                    })
                    .unwrap_or(fragment)
                    .trim_start();
                let strong = amount_kind(stripped, langs) == Some(true);
                let describes = unfinished(last, langs)
                    || describes_previous(fragment, langs)
                    || parts_only(fragment)
                    || german_description(last, fragment, langs);
                // "75g caster sugar, plus 1 tbsp": a bare measure is more of the item before.
                let extra = strong && nameless(stripped, langs);
                if (!strong && describes) || extra {
                    last.push_str(", ");
                    last.push_str(fragment);
                } else {
                    items.push(stripped.to_owned());
                }
            }
            Some(Some(word)) => {
                // "200g spaghetti, 2 eggs and salt": in a comma list, "and" after a measured
                // item starts the last item even without an amount.
                let in_list = count >= 2 && starts_with_amount(last, langs);
                // "one and a half cups", "1 cup plus 2 tablespoons flour": the part before the
                // word has no food, so the word joins rather than separates.
                let joins = nameless(last, langs) || matches!(word, "plus" | "+");
                if !joins && (starts_with_amount(fragment, langs) || in_list) {
                    items.push(fragment.to_owned());
                } else {
                    last.push(' ');
                    last.push_str(word);
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

    #[test]
    fn one_line_lists_split_into_items_but_items_stay_whole() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("200g spaghetti, 2 eggs and salt", "en", &["200g spaghetti", "2 eggs", "salt"]),
            ("200g spaghetti, 2 eggs, 50g parmesan", "en", &["200g spaghetti", "2 eggs", "50g parmesan"]),
            (
                "2 eggs, 1 1/2 cups flour and 3/4 cup milk",
                "en",
                &["2 eggs", "1 1/2 cups flour", "3/4 cup milk"],
            ),
            ("1 ripe, medium cantaloupe", "en", &["1 ripe, medium cantaloupe"]),
            ("3 cloves garlic, minced", "en", &["3 cloves garlic, minced"]),
            ("4 Stk. Eier (Gr. M)", "de", &["4 Stk. Eier (Gr. M)"]),
            ("salt, pepper, oregano", "en", &["salt", "pepper", "oregano"]),
            ("salt and pepper", "en", &["salt and pepper"]),
            ("Salz & Pfeffer, 2 EL Öl", "de", &["Salz & Pfeffer", "2 EL Öl"]),
            ("0,5 l Milch, 2 Eier", "de", &["0,5 l Milch", "2 Eier"]),
            ("1 can (400g, drained) beans; 1 onion", "en", &["1 can (400g, drained) beans", "1 onion"]),
            ("3/4 cup milk, plus a pinch of salt", "en", &["3/4 cup milk", "a pinch of salt"]),
            ("1 tbsp oil, plus more for frying", "en", &["1 tbsp oil, plus more for frying"]),
            ("2 EL Butter, zum Braten", "de", &["2 EL Butter, zum Braten"]),
            (
                "500 g de harina, 2 huevos, 250 ml de leche y una pizca de sal",
                "es",
                &["500 g de harina", "2 huevos", "250 ml de leche", "una pizca de sal"],
            ),
            ("1 cebolla, picada", "es", &["1 cebolla, picada"]),
            ("salt, dried oregano", "en", &["salt", "dried oregano"]),
            ("2 carrots, an onion", "en", &["2 carrots", "an onion"]),
            ("salz, pfeffer, zucker", "de", &["salz", "pfeffer", "zucker"]),
            ("1 Dose Mais, abgetropft", "de", &["1 Dose Mais, abgetropft"]),
            ("1 bunch kale, stems removed", "en", &["1 bunch kale, stems removed"]),
            ("75g caster sugar, plus 1 tbsp", "en", &["75g caster sugar, plus 1 tbsp"]),
            ("one and a half cups of oats", "en", &["one and a half cups of oats"]),
            ("1 cup plus 2 tablespoons flour", "en", &["1 cup plus 2 tablespoons flour"]),
            ("sal, pimienta, orégano", "es", &["sal", "pimienta", "orégano"]),
            ("1 TL Paprikapulver, edelsüß", "de", &["1 TL Paprikapulver, edelsüß"]),
            ("1 Zitrone (Bio), Abrieb und Saft", "de", &["1 Zitrone (Bio), Abrieb und Saft"]),
            ("1 lemon, zest and juice", "en", &["1 lemon, zest and juice"]),
            ("200 g Mehl, Salz, Pfeffer", "de", &["200 g Mehl", "Salz", "Pfeffer"]),
            ("200 g Mehl, 2 Eier, etwas Salz", "de", &["200 g Mehl", "2 Eier", "etwas Salz"]),
        ];
        for &(input, tag, expected) in cases {
            assert_eq!(split_items(input, Langs::for_tag(tag)), expected, "{input:?}");
        }
    }
}
