//! Converting a recipe between metric and US measures: mass to mass and volume to volume only
//! (never cups of flour to grams, which would need a density), preferring the line's own
//! second measure when it is already in the target system, and oven temperatures in the steps.
//!
//! Target units: metric mass in g (kg from 1000 g), volume in ml (l from 1000 ml), length in cm;
//! US mass in oz (lb from 16 oz), volume in tsp below 1 tbsp, tbsp below ¼ cup, else cups,
//! length in inches. Amounts are rounded as scaling rounds them. The original measure is kept as
//! the line's `alt`, so nothing written is lost.
//!
//! Temperatures are converted only when the scale is written ("350°F", "180 °C", "200 degrees
//! C", "180 Grad Celsius", "180 grados centígrados"): °F to °C rounds to 5 °C ("350°F" -> "175
//! °C"); °C to °F rounds to 25 °F in the oven range (from 250 °F) and 5 °F below ("180 °C" ->
//! "350 °F"). A pair already written in both scales ("180°C/350°F") is left as it is.

use protocol::{Ingredient, Measure, Recipe};

use crate::UnitSystem;
use crate::lang::Langs;
use crate::render::{rewrite_line, unit_text};
use crate::scale::round_amount;
use crate::units::{Kind, System, lookup};

/// The system a unit code belongs to, for measures that can be converted.
fn system_of(code: &str) -> Option<(Kind, System)> {
    let u = lookup(code);
    matches!(u.kind, Kind::Mass | Kind::Volume | Kind::Length).then_some((u.kind, u.system))
}

fn target(system: UnitSystem) -> System {
    match system {
        UnitSystem::Metric => System::Metric,
        UnitSystem::Us => System::Us,
    }
}

/// The unit to write `base` (g, ml or cm) of `kind` in, in `system`.
fn pick_unit(kind: Kind, base: f64, system: UnitSystem) -> &'static str {
    match (system, kind) {
        (UnitSystem::Metric, Kind::Mass) => {
            if base >= 1000.0 {
                "kg"
            } else {
                "g"
            }
        }
        (UnitSystem::Metric, Kind::Volume) => {
            if base >= 1000.0 {
                "l"
            } else {
                "ml"
            }
        }
        (UnitSystem::Metric, _) => "cm",
        (UnitSystem::Us, Kind::Mass) => {
            if base >= 16.0 * lookup("oz").factor {
                "lb"
            } else {
                "oz"
            }
        }
        (UnitSystem::Us, Kind::Volume) => {
            if base < lookup("tbsp").factor {
                "tsp"
            } else if base < lookup("cup").factor / 4.0 {
                "tbsp"
            } else {
                "cup"
            }
        }
        (UnitSystem::Us, _) => "inch",
    }
}

/// An amount of `code` in `system`: (quantity, max, unit), or `None` when it cannot be converted.
fn convert_amount(
    quantity: f64,
    max: Option<f64>,
    code: &str,
    system: UnitSystem,
    name: &str,
) -> Option<(f64, Option<f64>, &'static str)> {
    let (kind, from) = system_of(code)?;
    if from == target(system) {
        return None;
    }
    let factor = lookup(code).factor;
    let unit = pick_unit(kind, quantity * factor, system);
    let to = lookup(unit).factor;
    let quantity = round_amount(quantity * factor / to, Some(unit), name);
    let max = max.map(|m| round_amount(m * factor / to, Some(unit), name)).filter(|m| *m > quantity);
    Some((quantity, max, unit))
}

/// One ingredient in `system`, or a clone when it has nothing to convert.
pub(crate) fn convert_ingredient(ingredient: &Ingredient, system: UnitSystem, langs: Langs) -> Ingredient {
    let (Some(quantity), Some(code)) = (ingredient.quantity, ingredient.unit.as_deref()) else {
        return ingredient.clone();
    };
    let Some((_, from)) = system_of(code) else { return ingredient.clone() };
    if from == target(system) {
        return ingredient.clone();
    }
    let original = Measure {
        quantity,
        quantity_max: ingredient.quantity_max,
        unit: ingredient.unit.clone(),
        unit_text: ingredient.unit_text.clone(),
    };
    let mut converted = ingredient.clone();
    let own_alt = ingredient
        .alt
        .as_ref()
        .filter(|a| a.unit.as_deref().and_then(system_of).is_some_and(|(_, s)| s == target(system)));
    if let Some(alt) = own_alt {
        // "125g/4½oz butter" to US: the author's own 4½ oz beats any arithmetic.
        converted.quantity = Some(alt.quantity);
        converted.quantity_max = alt.quantity_max;
        converted.unit = alt.unit.clone();
        converted.unit_text = alt.unit_text.clone();
    } else {
        let Some((q, max, unit)) =
            convert_amount(quantity, ingredient.quantity_max, code, system, &ingredient.name)
        else {
            return ingredient.clone();
        };
        converted.quantity = Some(q);
        converted.quantity_max = max;
        converted.unit = Some(unit.to_owned());
        // The unit as the converted line writes it ("Tassen", "cups"), like a parsed line's.
        converted.unit_text = Some(unit_text(unit, None, max.unwrap_or(q) > 1.0, langs));
    }
    converted.alt = Some(original);
    converted.raw = rewrite_line(ingredient, &converted, langs);
    converted
}

/// `s` without `prefix` (lower case), compared case-insensitively.
fn strip_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    (head.to_lowercase() == prefix).then(|| &s[prefix.len()..])
}

/// A temperature written at byte `at` of `text`: (degrees, is Fahrenheit, end byte).
fn temperature_at(text: &str, at: usize) -> Option<(f64, bool, usize)> {
    let digits = text[at..].bytes().take_while(u8::is_ascii_digit).count();
    if !(2..=3).contains(&digits) {
        return None;
    }
    let degrees: f64 = text[at..at + digits].parse().ok()?;
    let mut rest = text[at + digits..].trim_start();
    let mut marked = false;
    for marker in ["°", "º", "degrees", "degree", "grados", "grad"] {
        if let Some(after) = strip_ci(rest, marker) {
            rest = after.trim_start();
            marked = true;
            break;
        }
    }
    let scales: &[(&str, bool)] = &[
        ("fahrenheit", true),
        ("celsius", false),
        ("centígrados", false),
        ("centigrados", false),
        ("f", true),
        ("c", false),
    ];
    for (word, fahrenheit) in scales {
        if let Some(after) = strip_ci(rest, word) {
            // "350 degrees for 20 minutes" is no scale; a bare letter needs a degree sign.
            if after.starts_with(char::is_alphabetic) || (word.len() == 1 && !marked) {
                return None;
            }
            return Some((degrees, *fahrenheit, text.len() - after.len()));
        }
    }
    None
}

/// `step` with its temperatures in `system`'s scale.
pub(crate) fn convert_temperatures(step: &str, system: UnitSystem) -> String {
    let want_fahrenheit = system == UnitSystem::Us;
    let mut out = String::with_capacity(step.len());
    let mut copied = 0;
    let mut i = 0;
    while i < step.len() {
        let starts_number = step[i..].starts_with(|c: char| c.is_ascii_digit())
            && !step[..i].ends_with(|c: char| c.is_ascii_digit() || c.is_alphabetic());
        if starts_number && let Some((degrees, fahrenheit, end)) = temperature_at(step, i) {
            let paired = {
                let after = step[end..].trim_start();
                let after = after.strip_prefix(['/', '(']).map(str::trim_start);
                after.is_some_and(|a| {
                    let offset = step.len() - a.len();
                    temperature_at(step, offset).is_some_and(|(_, f, _)| f == want_fahrenheit)
                })
            };
            if fahrenheit != want_fahrenheit && !paired {
                out.push_str(&step[copied..i]);
                let converted = if fahrenheit {
                    format!("{} °C", ((degrees - 32.0) * 5.0 / 9.0 / 5.0).round() * 5.0)
                } else {
                    let f = degrees * 9.0 / 5.0 + 32.0;
                    let step_size = if f >= 250.0 { 25.0 } else { 5.0 };
                    format!("{} °F", (f / step_size).round() * step_size)
                };
                out.push_str(&converted);
                copied = end;
            }
            i = end;
            continue;
        }
        i += step[i..].chars().next().map_or(1, char::len_utf8);
    }
    out.push_str(&step[copied..]);
    out
}

/// The recipe in `system` (see the module docs).
pub(crate) fn convert_recipe(recipe: &Recipe, system: UnitSystem) -> Recipe {
    let langs = Langs::for_tag(&recipe.language);
    let mut converted = recipe.clone();
    converted.ingredients = recipe.ingredients.iter().map(|i| convert_ingredient(i, system, langs)).collect();
    converted.steps = recipe.steps.iter().map(|s| convert_temperatures(s, system)).collect();
    converted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oven_temperatures_convert_both_ways_with_kitchen_rounding() {
        let cases = [
            ("Preheat the oven to 350°F.", UnitSystem::Metric, "Preheat the oven to 175 °C."),
            ("Bake at 400 degrees F for 20 minutes", UnitSystem::Metric, "Bake at 205 °C for 20 minutes"),
            ("Im Ofen bei 180 °C backen", UnitSystem::Us, "Im Ofen bei 350 °F backen"),
            ("Hornea a 200 grados centígrados", UnitSystem::Us, "Hornea a 400 °F"),
            ("Bake at 180°C/350°F", UnitSystem::Us, "Bake at 180°C/350°F"),
            ("Bake at 180°C for 30 min", UnitSystem::Metric, "Bake at 180°C for 30 min"),
            ("Add 150 g flour", UnitSystem::Us, "Add 150 g flour"),
            ("Cook 10 cm pieces", UnitSystem::Us, "Cook 10 cm pieces"),
        ];
        for (step, system, want) in cases {
            assert_eq!(convert_temperatures(step, system), want, "{step:?}");
        }
    }
}
