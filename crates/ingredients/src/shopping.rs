//! A shopping list from several recipes: the same food is merged, compatible amounts summed.
//!
//! Foods are the same when their names match after lower-casing, folding Spanish accents and
//! dropping a simple plural ("eggs"/"egg", "Zwiebeln"/"Zwiebel", "Eier"/"Ei", "tomates"/
//! "tomate", "limones"/"limón"). Amounts are compatible when they measure the same thing in the
//! same system (g + kg, ml + l, tsp + tbsp + cup, oz + lb) or count the same unit (2 cloves + 3
//! cloves, 2 eggs + 1 egg). Incompatible amounts of one food (1 cup of flour and 200 g of flour)
//! stay separate items, next to each other; lines without an amount are merged by name. A range
//! counts at its upper end ("2-3 eggs" puts 3 on the list).

use std::collections::HashMap;

use protocol::{Ingredient, RecipeId};

use crate::lang::Langs;
use crate::render::render_line;
use crate::scale::{round_amount, scale_recipe};
use crate::units::{Kind, System, lookup};
use crate::{ListEntry, ShoppingItem};

/// The food a name means, for merging.
pub(crate) fn food_key(name: &str) -> String {
    let folded: String = name
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'á' => 'a',
            'é' => 'e',
            'í' => 'i',
            'ó' => 'o',
            'ú' => 'u',
            _ => c,
        })
        .collect();
    let words: Vec<&str> = folded.split_whitespace().collect();
    let Some((last, head)) = words.split_last() else { return folded };
    let singular = singular(last);
    let mut key = head.join(" ");
    if !key.is_empty() {
        key.push(' ');
    }
    key.push_str(&singular);
    key
}

/// A simple singular of a lower-case word.
fn singular(word: &str) -> String {
    if word == "eier" {
        return "ei".to_owned();
    }
    let rules: &[(&str, &str)] = &[
        ("ies", "y"),
        ("oes", "o"),
        ("ches", "ch"),
        ("shes", "sh"),
        ("xes", "x"),
        ("ones", "on"),
        ("eles", "el"),
        ("res", "r"),
        ("les", "l"),
        ("nes", "n"),
        ("eln", "el"),
        ("ern", "er"),
        ("en", "e"),
        ("s", ""),
    ];
    for (ending, replacement) in rules {
        if let Some(stem) = word.strip_suffix(ending)
            && stem.chars().count() >= 3
            && !word.ends_with("ss")
            && !word.ends_with("us")
        {
            return format!("{stem}{replacement}");
        }
    }
    word.to_owned()
}

/// What amounts of a food can be added together.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Family {
    /// No amount at all.
    Unmeasured,
    /// Mass or volume in one system: summed in grams or millilitres.
    Measure(&'static str),
    /// A count of one unit (or of the food itself when `None`).
    Count(Option<String>),
}

/// The family of an ingredient's amount and its amount in that family's base unit.
fn family(ingredient: &Ingredient) -> (Family, Option<f64>) {
    // A range is shopped at its upper end: "2-3 eggs" means buying 3.
    let Some(quantity) = ingredient.quantity_max.or(ingredient.quantity) else {
        return (Family::Unmeasured, None);
    };
    let Some(code) = ingredient.unit.as_deref() else { return (Family::Count(None), Some(quantity)) };
    let u = lookup(code);
    match (u.kind, u.system) {
        (Kind::Mass, System::Metric) => (Family::Measure("metric mass"), Some(quantity * u.factor)),
        (Kind::Mass, System::Us) => (Family::Measure("us mass"), Some(quantity * u.factor)),
        (Kind::Volume, System::Metric) => (Family::Measure("metric volume"), Some(quantity * u.factor)),
        (Kind::Volume, System::Us) => (Family::Measure("us volume"), Some(quantity * u.factor)),
        _ => (Family::Count(Some(code.to_owned())), Some(quantity)),
    }
}

/// The unit and amount to show a summed base amount in.
fn display(family: &Family, base: f64) -> (Option<String>, f64) {
    let pick = |units: &[&'static str]| {
        let unit = units.iter().rev().copied().find(|u| base >= lookup(u).factor).unwrap_or(units[0]);
        (Some(unit.to_owned()), base / lookup(unit).factor)
    };
    match family {
        Family::Measure("metric mass") => pick(&["g", "kg"]),
        Family::Measure("metric volume") => pick(&["ml", "l"]),
        Family::Measure("us mass") => {
            if base >= 16.0 * lookup("oz").factor {
                pick(&["oz", "lb"])
            } else {
                pick(&["oz"])
            }
        }
        Family::Measure(_) => pick(&["tsp", "tbsp", "cup"]),
        Family::Count(unit) => (unit.clone(), base),
        Family::Unmeasured => (None, base),
    }
}

/// An item being built.
struct Pending {
    key: String,
    family: Family,
    sample: Ingredient,
    language: String,
    base: f64,
    recipes: Vec<RecipeId>,
}

/// Builds the list (see the module docs).
pub(crate) fn build(entries: &[ListEntry<'_>]) -> Vec<ShoppingItem> {
    let mut pending: Vec<Pending> = Vec::new();
    let mut index: HashMap<(String, Family), usize> = HashMap::new();
    let mut food_order: Vec<String> = Vec::new();
    for entry in entries {
        let recipe = match entry.servings {
            Some(servings) => scale_recipe(entry.recipe, servings),
            None => entry.recipe.clone(),
        };
        for ingredient in recipe.ingredients.iter().filter(|i| !i.name.trim().is_empty()) {
            let key = food_key(&ingredient.name);
            let (family, base) = family(ingredient);
            if !food_order.contains(&key) {
                food_order.push(key.clone());
            }
            match index.get(&(key.clone(), family.clone())) {
                Some(&at) => {
                    let item = &mut pending[at];
                    item.base += base.unwrap_or(0.0);
                    if !item.recipes.contains(&entry.recipe_id) {
                        item.recipes.push(entry.recipe_id);
                    }
                }
                None => {
                    index.insert((key.clone(), family.clone()), pending.len());
                    pending.push(Pending {
                        key,
                        family,
                        sample: ingredient.clone(),
                        language: recipe.language.clone(),
                        base: base.unwrap_or(0.0),
                        recipes: vec![entry.recipe_id],
                    });
                }
            }
        }
    }
    // Items of one food side by side, foods in order of first appearance.
    let mut items = Vec::with_capacity(pending.len());
    for food in &food_order {
        for item in pending.iter().filter(|p| &p.key == food) {
            items.push(finish(item));
        }
    }
    items
}

fn finish(item: &Pending) -> ShoppingItem {
    let (unit, quantity) = display(&item.family, item.base);
    let quantity = (item.family != Family::Unmeasured)
        .then(|| round_amount(quantity, unit.as_deref(), &item.sample.name));
    let shown = Ingredient {
        raw: String::new(),
        quantity,
        unit: unit.clone(),
        name: item.sample.name.clone(),
        unit_text: item.sample.unit_text.clone().filter(|_| item.sample.unit == unit),
        ..Ingredient::default()
    };
    ShoppingItem {
        name: item.sample.name.clone(),
        quantity,
        unit,
        text: render_line(&shown, Langs::for_tag(&item.language)),
        recipes: item.recipes.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_and_accents_fold_to_one_food() {
        for (a, b) in [
            ("eggs", "Egg"),
            ("Zwiebeln", "Zwiebel"),
            ("Eier", "Ei"),
            ("tomates", "tomate"),
            ("limones", "limón"),
            ("cherry tomatoes", "cherry tomato"),
            ("Tomaten", "Tomate"),
            ("berries", "berry"),
        ] {
            assert_eq!(food_key(a), food_key(b), "{a} / {b}");
        }
        assert_ne!(food_key("glass"), food_key("gla"));
    }
}
