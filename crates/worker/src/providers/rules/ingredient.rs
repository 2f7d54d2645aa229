//! Ingredient texts through the `ingredients` crate: one text ("2 cups of flour, sifted") into
//! an ingredient, list lines ("200g spaghetti, 2 eggs and salt") into their items, and the
//! amount tests the section and speech readers use to decide what is an ingredient.
//!
//! The extractor does not know the video's own language (the requested one is the reader's),
//! so every vocabulary the crate knows is on.

use ingredients::{Lead, LeadingAmount};
use protocol::Ingredient;

use super::text::{clean_line, has_letters};

/// Language tag that turns on every vocabulary of the `ingredients` crate.
const ANY_LANGUAGE: &str = "und";

/// The amount and unit at the start of `text`.
pub(super) fn lead(text: &str) -> Option<Lead> {
    ingredients::lead(text, ANY_LANGUAGE).filter(|l| l.quantity > 0.0)
}

/// The bare amount at the start of `text` ("1 1/2", "zwei"), for durations and servings.
pub(super) fn parse_quantity(text: &str) -> Option<LeadingAmount> {
    ingredients::leading_amount(text, ANY_LANGUAGE)
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

/// A cleaned line (`clean_line` already left single spaces only) without separators at either
/// end.
fn tidy(cleaned: &str) -> &str {
    cleaned.trim_matches(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '.' | '-' | '–' | '—'))
}

/// Parses one ingredient text. Returns `None` when there is no name ("200 g", "🍝").
pub(super) fn parse_ingredient(text: &str) -> Option<Ingredient> {
    let cleaned = clean_line(text);
    let raw = tidy(&cleaned);
    if !has_letters(raw) {
        return None;
    }
    let ingredient = ingredients::parse(raw, ANY_LANGUAGE);
    has_letters(&ingredient.name).then_some(ingredient)
}

/// Splits a one-line list into item texts (see `ingredients::split_list`).
pub(super) fn split_items(text: &str) -> Vec<String> {
    ingredients::split_list(text, ANY_LANGUAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_parsed_by_the_ingredients_crate_after_clean_up() {
        let parsed = parse_ingredient("✅ 2-3 cloves garlic, minced 🧄").expect("an ingredient");
        assert_eq!(parsed.raw, "2-3 cloves garlic, minced", "bullet and emoji dropped from raw");
        assert_eq!((parsed.quantity, parsed.quantity_max), (Some(2.0), Some(3.0)));
        assert_eq!((parsed.unit.as_deref(), parsed.name.as_str()), (Some("clove"), "garlic"));
        let german = parse_ingredient("- 4 Stk. Eier (Gr. M).").expect("an ingredient");
        assert_eq!((german.unit.as_deref(), german.name.as_str()), (Some("piece"), "Eier"));
        assert_eq!(german.size.as_deref(), Some("Gr. M"));
    }

    #[test]
    fn texts_without_a_name_are_not_ingredients() {
        for (input, why) in
            [("200 g", "amount only"), ("🍝🍝", "emoji only"), ("", "empty"), ("2 cups", "amount and unit")]
        {
            assert_eq!(parse_ingredient(input), None, "{why}: {input:?}");
        }
    }

    #[test]
    fn measures_and_amounts_are_told_apart() {
        assert!(starts_with_measure("200g Mehl"));
        assert!(starts_with_measure("a pinch of salt"));
        assert!(!starts_with_measure("3 ripe bananas"));
        assert!(starts_with_amount("3 ripe bananas"));
        assert!(!starts_with_amount("7up"));
        assert_eq!(parse_quantity("1 1/2 hours").map(|q| (q.value, q.len)), Some((1.5, 5)));
    }

    #[test]
    fn one_line_lists_split_but_a_comma_inside_an_item_does_not() {
        assert_eq!(split_items("200g spaghetti, 2 eggs and salt"), vec!["200g spaghetti", "2 eggs", "salt"]);
        assert_eq!(split_items("1 ripe, medium cantaloupe"), vec!["1 ripe, medium cantaloupe"]);
        assert_eq!(split_items("4 Stk. Eier (Gr. M)"), vec!["4 Stk. Eier (Gr. M)"]);
    }
}
