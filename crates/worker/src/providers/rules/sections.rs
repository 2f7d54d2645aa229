//! Written layout: ingredient lists and method steps under their headers, numbered lists, and
//! measure lines ("200 g Mehl") outside any section.

use std::sync::LazyLock;

use protocol::Ingredient;
use regex::Regex;

use super::ingredient::{parse_ingredient, split_items, starts_with_amount, starts_with_measure};
use super::instruction::imperative;
use super::line::{Section, header, is_metadata_line};
use super::text::{clean_line, has_letters, regex, sentences, strip_numbering, truncate_words, word_count};

/// Longest step kept, in characters.
const MAX_STEP_CHARS: usize = 500;

/// Calls to action and sign-offs that are neither ingredients nor steps.
static FLUFF_LINE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)^(?:follow|like|comment|share|save|subscribe|link in bio|tag (?:a|your)|enjoy|guten appetit|bon app[ée]tit|buen provecho|let me know)(?-u:\b)",
    )
});

/// What the written layout of a text yielded.
#[derive(Debug, Default)]
pub(super) struct Found {
    /// Ingredients in order.
    pub(super) ingredients: Vec<Ingredient>,
    /// Steps in order.
    pub(super) steps: Vec<String>,
    /// Some step came from a steps header or followed an ingredient list, so a numbered list
    /// is a method and not, say, "3 dance moves".
    pub(super) trusted_steps: bool,
    /// The text had a section header, so it is laid out as a written recipe.
    pub(super) had_header: bool,
    /// Short amount lines outside any list ("3 ripe bananas"), kept until a measure line shows
    /// that a list has started, then added before it.
    pending: Vec<Ingredient>,
}

/// Adds a step. Numbered items stay whole; unnumbered text is split into sentences, because
/// captions often put the whole method on one line.
fn push_step(found: &mut Found, text: &str, numbered: bool, trusted: bool) {
    let pieces: Vec<&str> =
        if numbered { vec![text.trim()] } else { sentences(text).into_iter().map(|(_, s)| s).collect() };
    for piece in pieces.into_iter().filter(|p| has_letters(p)) {
        found.steps.push(truncate_words(piece, MAX_STEP_CHARS));
        found.trusted_steps |= trusted;
    }
}

/// Adds the ingredients of a list line.
fn push_ingredients(found: &mut Found, text: &str) {
    found.ingredients.extend(split_items(text).iter().filter_map(|item| parse_ingredient(item)));
}

/// Most words before an inline list ("Necesitas 500 g de harina, 2 huevos …").
const MAX_LEAD_IN_WORDS: usize = 4;

/// The list in a sentence that opens with a few words and then lists measured items inline,
/// without a header ("Necesitas 500 g de harina, 2 huevos y una pizca de sal"). Two items at
/// least, so "I used 500 g of pasta" stays prose.
fn list_after_lead_in(body: &str) -> Option<&str> {
    let starts =
        body.char_indices().filter(|&(i, c)| i > 0 && !c.is_whitespace() && body[..i].ends_with(' '));
    for (words_before, (i, _)) in starts.enumerate().take(MAX_LEAD_IN_WORDS) {
        let _ = words_before;
        let (lead_in, rest) = body.split_at(i);
        if lead_in.chars().any(|c| c.is_ascii_digit()) {
            return None;
        }
        if starts_with_measure(rest) && split_items(rest).len() >= 2 {
            return Some(rest);
        }
    }
    None
}

/// Files one cleaned line under `section` and returns the section the next line is in.
fn take(found: &mut Found, section: Section, line: &str) -> Section {
    let (numbered, body) = strip_numbering(line);
    let body = body.trim();
    if body.is_empty() {
        return section;
    }
    // "1 Dose Tomaten, Salz. Zwiebel anbraten." is a list, then the method: one sentence at a
    // time. Numbered items and steps stay whole.
    if !numbered && matches!(section, Section::Other | Section::Ingredients { .. }) {
        let parts = sentences(body);
        if parts.len() > 1 {
            return parts.into_iter().fold(section, |section, (_, part)| take(found, section, part));
        }
    }
    match section {
        Section::Notes => section,
        Section::Ingredients { explicit } => {
            if !starts_with_amount(body) {
                let words = word_count(body);
                let instruction = imperative(body).is_some();
                // A numbered sentence or a long instruction means the method started without
                // its own header.
                let method = if explicit {
                    (numbered && (words > 3 || instruction)) || (words > 5 && instruction)
                } else {
                    numbered || instruction
                };
                if method {
                    push_step(found, body, numbered, true);
                    return Section::Steps { trusted: true };
                }
                // Lines without an amount in a list opened by a measure line must be short
                // ("black pepper"); anything longer ends the list.
                if words > if explicit { 10 } else { 3 } {
                    return take(found, Section::Other, line);
                }
                if body.ends_with(':') {
                    // A sub-header such as "For the sauce:".
                    return section;
                }
            }
            push_ingredients(found, body);
            section
        }
        Section::Steps { trusted } => {
            push_step(found, body, numbered, trusted);
            section
        }
        Section::Other => {
            if numbered && !starts_with_measure(body) {
                push_step(found, body, true, false);
                return section;
            }
            // "Recipe: 1kg potatoes, 3 tbsp oil": a label we do not know, then a list.
            let body = match body.split_once(':') {
                Some((_, after)) if starts_with_measure(after.trim()) => after.trim(),
                _ => body,
            };
            let body = list_after_lead_in(body).unwrap_or(body);
            let items = split_items(body);
            if !items.first().is_some_and(|item| starts_with_measure(item)) {
                // "3 ripe bananas" before "1/3 cup butter" is the list's first line, but only
                // a measure line proves there is a list.
                let short_amount = starts_with_amount(body) && word_count(body) <= 4;
                match parse_ingredient(body).filter(|_| short_amount) {
                    Some(ingredient) => found.pending.push(ingredient),
                    None => found.pending.clear(),
                }
                return section;
            }
            let parsed: Vec<Ingredient> = items.iter().filter_map(|item| parse_ingredient(item)).collect();
            // Outside a section only short items count: "200 g Mehl", not "500 g of pasta is
            // enough for four people, trust me", whose first item already gives it away.
            // The comment counts too: "… enough for four hungry people" is prose, not a note.
            let prose = |i: &Ingredient| word_count(&i.name) + i.comment.as_deref().map_or(0, word_count) > 6;
            if parsed.first().is_none_or(prose) {
                return section;
            }
            found.ingredients.append(&mut found.pending);
            for ingredient in parsed {
                let words = word_count(&ingredient.name);
                if words <= 6 && (ingredient.quantity.is_some() || words <= 3) {
                    found.ingredients.push(ingredient);
                }
            }
            Section::Ingredients { explicit: false }
        }
    }
}

/// Reads the written layout of prepared lines (see `text::prepare_lines`).
pub(super) fn scan(lines: &[String]) -> Found {
    let mut found = Found::default();
    let mut section = Section::Other;
    for line in lines {
        if let Some((next, rest)) = header(line) {
            found.had_header = true;
            found.pending.clear();
            section = next;
            let rest = clean_line(&rest);
            if !rest.is_empty() {
                section = take(&mut found, section, &rest);
            }
            continue;
        }
        let cleaned = clean_line(line);
        if !has_letters(&cleaned) {
            // A line of hashtags closes the recipe part of a caption.
            if line.contains('#') {
                section = Section::Other;
            }
            continue;
        }
        if is_metadata_line(&cleaned) || FLUFF_LINE.is_match(&cleaned) {
            continue;
        }
        section = take(&mut found, section, &cleaned);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::rules::text::prepare_lines;

    fn scan_text(text: &str) -> Found {
        scan(&prepare_lines(text))
    }

    #[test]
    fn sections_are_filled_from_their_lines() {
        let found = scan_text(
            "Ingredients:\n- 200 g flour\n- salt\nFor the glaze:\n- 50 g sugar\nSteps:\n1. Mix.\n2. Bake 20 min.\nEnjoy!",
        );
        let names: Vec<&str> = found.ingredients.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, vec!["flour", "salt", "sugar"], "sub-header skipped, no-amount line kept");
        assert_eq!(found.steps, vec!["Mix.", "Bake 20 min."], "sign-off is not a step");
        assert!(found.trusted_steps && found.had_header, "header-led steps are trusted");
    }

    #[test]
    fn a_numbered_method_after_ingredients_needs_no_header() {
        let found = scan_text(
            "Zutaten:\n200 g Mehl\n2 Eier\n1. Alles verrühren und 10 Minuten ruhen lassen\n2. Backen",
        );
        assert_eq!(found.ingredients.len(), 2, "ingredients before the method");
        assert_eq!(found.steps, vec!["Alles verrühren und 10 Minuten ruhen lassen", "Backen"]);
        assert!(found.trusted_steps, "a method after an ingredient list is trusted");
    }

    #[test]
    fn measure_lines_open_an_implicit_list() {
        let found = scan_text(
            "Pasta night 🍝\n200g spaghetti\n2 eggs\nblack pepper\nBoil the pasta and toss with the eggs.",
        );
        let names: Vec<&str> = found.ingredients.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, vec!["spaghetti", "eggs", "black pepper"], "short lines after a measure line");
        assert_eq!(
            found.steps,
            vec!["Boil the pasta and toss with the eggs."],
            "an instruction ends the list"
        );
    }

    #[test]
    fn numbered_lists_outside_sections_are_untrusted_steps() {
        let found = scan_text("My top 3 moves 1. the spin 2. the slide 3. the jump");
        assert_eq!(found.steps.len(), 3, "numbered items are kept as steps");
        assert!(!found.trusted_steps, "but nothing says they are a method");
        assert!(found.ingredients.is_empty(), "and nothing is an ingredient");
    }

    #[test]
    fn prose_lines_outside_sections_are_not_ingredients() {
        let found = scan_text("500 g of pasta is always enough for four hungry people, trust me");
        assert!(
            found.ingredients.is_empty(),
            "a long sentence is not an ingredient: {:?}",
            found.ingredients
        );
    }
}
