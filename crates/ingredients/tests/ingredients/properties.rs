//! Properties that hold for any input.

use ingredients::{parse, render, scale};
use proptest::prelude::*;

use crate::units::recipe;

/// Pieces of ingredient-like text, so random lines reach the deeper paths.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("200g".to_owned()),
        Just("½".to_owned()),
        Just("1 1/2".to_owned()),
        Just("2-3".to_owned()),
        Just("0,5".to_owned()),
        Just("cups of".to_owned()),
        Just("EL".to_owned()),
        Just("Stk.".to_owned()),
        Just("de".to_owned()),
        Just("juice of".to_owned()),
        Just("/".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just(",".to_owned()),
        Just("x".to_owned()),
        Just("to".to_owned()),
        Just("a".to_owned()),
        Just("14-ounce".to_owned()),
        Just("can".to_owned()),
        Just("large".to_owned()),
        Just("chopped".to_owned()),
        Just("flour".to_owned()),
        Just("Eier".to_owned()),
        Just("🍝".to_owned()),
        "\\PC{0,6}",
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof!["\\PC{0,80}", proptest::collection::vec(fragment(), 0..12).prop_map(|parts| parts.join(" ")),]
}

/// Every labelled line of the evaluation data, with its language.
fn labelled_lines() -> Vec<(String, String)> {
    let mut lines = Vec::new();
    for file in ["en.tsv", "de.tsv", "es.tsv", "blind.tsv"] {
        let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for row in text.lines().skip(1) {
            let mut cols = row.split('\t');
            if let (Some(line), Some(language)) = (cols.next(), cols.next()) {
                lines.push((line.to_owned(), language.to_owned()));
            }
        }
    }
    assert!(lines.len() > 500, "the evaluation data is there");
    lines
}

fn language() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("en"), Just("de"), Just("es"), Just("pt-BR")]
}

proptest! {
    #[test]
    fn parsing_never_panics_keeps_raw_and_gives_sane_amounts(line in line(), language in language()) {
        let parsed = parse(&line, language);
        prop_assert_eq!(parsed.raw.as_str(), line.trim());
        if let Some(q) = parsed.quantity {
            prop_assert!(q.is_finite() && q > 0.0, "quantity {q}");
        }
        if let Some(max) = parsed.quantity_max {
            prop_assert!(parsed.quantity.is_some_and(|q| max >= q), "range end {max} below {:?}", parsed.quantity);
        }
        let _ = ingredients::split_list(&line, language);
    }

    #[test]
    fn a_rendered_line_parses_back_to_the_same_amount_and_unit(
        (line, language) in proptest::sample::select(labelled_lines()),
        factor in proptest::sample::select(vec![1u32, 2, 3, 5]),
    ) {
        let parsed = parse(&line, &language);
        prop_assume!(parsed.quantity.is_some() && !parsed.name.is_empty());
        // Scaled lines are rendered lines too.
        let scaled = scale(&recipe(&language, Some(1), &[line.as_str()], &[]), factor).ingredients.remove(0);
        for shown in [parsed, scaled] {
            let again = parse(&render(&shown, &language), &language);
            let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => (a - b).abs() <= 0.02 * a.abs().max(1.0),
                (a, b) => a == b,
            };
            prop_assert!(close(again.quantity, shown.quantity), "{:?} -> {:?}", shown, again);
            prop_assert_eq!(again.unit, shown.unit);
        }
    }

    #[test]
    fn scaling_to_the_recipes_own_servings_is_the_identity(lines in proptest::collection::vec(line(), 0..8), servings in 1u32..12) {
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let base = recipe("en", Some(servings), &lines, &[]);
        prop_assert_eq!(scale(&base, servings), base);
    }

    #[test]
    fn scaled_amounts_are_positive_and_finite(lines in proptest::collection::vec(line(), 0..8), to in 1u32..40) {
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let scaled = scale(&recipe("de", Some(3), &lines, &[]), to);
        for ingredient in &scaled.ingredients {
            prop_assert!(ingredient.quantity.is_none_or(|q| q.is_finite() && q > 0.0), "{:?}", ingredient);
        }
    }
}
