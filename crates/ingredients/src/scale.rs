//! Scaling a recipe to a number of servings, with amounts rounded the way a cook measures:
//!
//! - US volumes (cup, tbsp, tsp, fl oz): the nearest kitchen fraction (⅛ ¼ ⅓ ½ ⅔ ¾), whole
//!   numbers from 10 on;
//! - grams and millilitres: whole below 100, steps of 5 up to 1000, of 10 above; kilograms and
//!   litres: steps of 0.05; ounces: halves below 10, whole above; pounds: quarters;
//! - eggs (egg, Ei, huevo, yolk, …): whole, at least 1; other counted foods and counted units
//!   (clove, can, slice): halves below 3, whole above, at least ½; pinches and dashes: whole,
//!   at least 1.
//!
//! A recipe without servings (or with 0) cannot be scaled and comes back unchanged: nothing
//! says how many people its amounts feed.

use protocol::{Ingredient, Measure, Recipe};

use crate::lang::Langs;
use crate::render::{rewrite_line, unit_text};
use crate::units::{Kind, System, lookup};

/// Names of eggs and their parts, which only come whole.
const EGGS: &[&str] = &[
    "egg",
    "eggs",
    "egg yolk",
    "egg yolks",
    "egg white",
    "egg whites",
    "yolk",
    "yolks",
    "ei",
    "eier",
    "eigelb",
    "eiweiß",
    "huevo",
    "huevos",
    "yema",
    "yemas",
    "clara",
    "claras",
];

/// `value` rounded to the nearest multiple of `step`, without binary noise: 24 steps of 0.05
/// are 1.2, not the 1.2000000000000002 a client would show.
fn to_step(value: f64, step: f64) -> f64 {
    ((value / step).round() * step * 1e6).round() / 1e6
}

/// The nearest kitchen fraction of `value` (eighths allowed when `eighths`).
fn kitchen_fraction(value: f64, eighths: bool) -> f64 {
    if value >= 10.0 {
        return value.round();
    }
    let whole = value.floor();
    let mut steps = vec![0.0, 0.25, 1.0 / 3.0, 0.5, 2.0 / 3.0, 0.75, 1.0];
    if eighths {
        steps.push(0.125);
    }
    let rest = value - whole;
    let best =
        steps.iter().copied().min_by(|a, b| (a - rest).abs().total_cmp(&(b - rest).abs())).unwrap_or(0.0);
    let rounded = whole + best;
    if rounded > 0.0 {
        rounded
    } else if eighths {
        0.125
    } else {
        0.25
    }
}

/// `value` of `unit` (of a food called `name`) rounded as described in the module docs.
pub(crate) fn round_amount(value: f64, unit: Option<&str>, name: &str) -> f64 {
    if !value.is_finite() || value <= 0.0 {
        return value;
    }
    let Some(code) = unit else {
        if EGGS.contains(&name.trim().to_lowercase().as_str()) {
            return value.round().max(1.0);
        }
        return count_round(value);
    };
    let u = lookup(code);
    match (u.kind, u.system, code) {
        (Kind::Volume, System::Us, _) => kitchen_fraction(value, true),
        (Kind::Mass, System::Us, "lb") => to_step(value, 0.25).max(0.25),
        (Kind::Mass, System::Us, _) => {
            if value < 10.0 {
                to_step(value, 0.5).max(0.5)
            } else {
                value.round()
            }
        }
        (Kind::Mass | Kind::Volume, _, "g" | "ml" | "mg") => {
            if value < 100.0 {
                value.round().max(1.0)
            } else if value < 1000.0 {
                to_step(value, 5.0)
            } else {
                to_step(value, 10.0)
            }
        }
        (Kind::Mass | Kind::Volume, _, _) => to_step(value, 0.05).max(0.05),
        (Kind::Length, _, _) => to_step(value, 0.5).max(0.5),
        (Kind::Small, _, _) => value.round().max(1.0),
        (Kind::Count, _, _) => count_round(value),
    }
}

/// Counted things: halves below 3, whole numbers above, never less than ½.
fn count_round(value: f64) -> f64 {
    if value < 3.0 { to_step(value, 0.5).max(0.5) } else { value.round() }
}

/// A second measure scaled by `factor`.
fn scale_measure(measure: &Measure, factor: f64, name: &str) -> Measure {
    let unit = measure.unit.as_deref();
    Measure {
        quantity: round_amount(measure.quantity * factor, unit, name),
        quantity_max: measure.quantity_max.map(|m| round_amount(m * factor, unit, name)),
        unit: measure.unit.clone(),
        unit_text: measure.unit_text.clone(),
    }
}

/// One ingredient scaled by `factor`, its line re-rendered when an amount changed.
pub(crate) fn scale_ingredient(ingredient: &Ingredient, factor: f64, langs: Langs) -> Ingredient {
    let Some(quantity) = ingredient.quantity else { return ingredient.clone() };
    let unit = ingredient.unit.as_deref();
    let mut scaled = ingredient.clone();
    scaled.quantity = Some(round_amount(quantity * factor, unit, &ingredient.name));
    scaled.quantity_max = ingredient
        .quantity_max
        .map(|m| round_amount(m * factor, unit, &ingredient.name))
        .filter(|m| scaled.quantity.is_some_and(|q| *m > q));
    scaled.alt = ingredient.alt.as_ref().map(|a| scale_measure(a, factor, &ingredient.name));
    // The unit as the scaled line writes it: "1 Prise" for 2 is "2 Prisen".
    if let (Some(code), Some(q)) = (unit, scaled.quantity) {
        let plural = scaled.quantity_max.unwrap_or(q) > 1.0;
        scaled.unit_text = Some(unit_text(code, ingredient.unit_text.as_deref(), plural, langs));
    }
    scaled.raw = rewrite_line(ingredient, &scaled, langs);
    scaled
}

/// The recipe for `servings` (see the module docs).
pub(crate) fn scale_recipe(recipe: &Recipe, servings: u32) -> Recipe {
    let Some(from) = recipe.servings.filter(|s| *s > 0) else { return recipe.clone() };
    if servings == 0 || servings == from {
        return recipe.clone();
    }
    let factor = f64::from(servings) / f64::from(from);
    let langs = Langs::for_tag(&recipe.language);
    let mut scaled = recipe.clone();
    scaled.servings = Some(servings);
    scaled.ingredients = recipe.ingredients.iter().map(|i| scale_ingredient(i, factor, langs)).collect();
    scaled
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_round_the_way_cooks_measure() {
        let cases: &[(f64, Option<&str>, &str, f64)] = &[
            (2.666, None, "eggs", 3.0),
            (0.3, None, "egg", 1.0),
            (2.666, None, "lemons", 2.5),
            (0.2, None, "onion", 0.5),
            (0.666, Some("cup"), "flour", 2.0 / 3.0),
            (1.45, Some("cup"), "milk", 1.5),
            (0.1, Some("tsp"), "salt", 0.125),
            (133.33, Some("g"), "butter", 135.0),
            (66.6, Some("g"), "sugar", 67.0),
            (1333.3, Some("ml"), "water", 1330.0),
            (0.3, Some("pinch"), "salt", 1.0),
            (2.6, Some("clove"), "garlic", 2.5),
            (7.4, Some("clove"), "garlic", 7.0),
            (1.1, Some("lb"), "beef", 1.0),
        ];
        for &(value, unit, name, want) in cases {
            let got = round_amount(value, unit, name);
            assert!((got - want).abs() < 1e-9, "{value} {unit:?} {name}: got {got}, want {want}");
        }
    }

    #[test]
    fn decimal_steps_carry_no_binary_noise() {
        // Exact equality on purpose: these numbers go out as JSON.
        assert_eq!(round_amount(1.2, Some("kg"), "flour"), 1.2);
        assert_eq!(round_amount(0.35, Some("l"), "milk"), 0.35);
        assert_eq!(round_amount(2.1, Some("kg"), "potatoes"), 2.1);
    }
}
