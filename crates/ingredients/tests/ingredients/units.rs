//! Scaling and unit conversion of whole recipes.

use ingredients::{UnitSystem, convert, parse, render, scale};
use protocol::{Recipe, RecipeSource};

pub(crate) fn recipe(language: &str, servings: Option<u32>, lines: &[&str], steps: &[&str]) -> Recipe {
    Recipe {
        title: "Test".into(),
        description: None,
        servings,
        prep_minutes: None,
        cook_minutes: None,
        total_minutes: None,
        ingredients: lines.iter().map(|l| parse(l, language)).collect(),
        steps: steps.iter().map(|s| (*s).to_owned()).collect(),
        tags: Vec::new(),
        source: RecipeSource {
            url: "https://www.tiktok.com/@a/video/1".into(),
            video_id: None,
            author: None,
        },
        cover_url: None,
        language: language.into(),
    }
}

fn raws(recipe: &Recipe) -> Vec<&str> {
    recipe.ingredients.iter().map(|i| i.raw.as_str()).collect()
}

#[test]
fn scaling_rounds_like_a_cook_and_re_renders_each_line() {
    let base = recipe(
        "en",
        Some(3),
        &[
            "2 eggs",
            "1 cup milk",
            "200 g flour",
            "1 tsp salt",
            "2 cloves garlic, minced",
            "1 lemon",
            "salt to taste",
        ],
        &[],
    );
    let scaled = scale(&base, 4);
    assert_eq!(scaled.servings, Some(4));
    assert_eq!(
        raws(&scaled),
        vec![
            "3 eggs",
            "1 ⅓ cups milk",
            "265 g flour",
            "1 ⅓ tsp salt",
            "2 ½ cloves garlic, minced",
            "1 ½ lemon",
            "salt to taste"
        ],
        "eggs whole, cups in fractions, grams in steps of 5, lines without an amount untouched"
    );
    let halved = scale(&recipe("en", Some(4), &["1 egg", "1 tbsp oil"], &[]), 2);
    assert_eq!(raws(&halved), vec!["1 egg", "½ tbsp oil"], "an egg never becomes 0 or ½");
}

#[test]
fn scaling_keeps_ranges_and_second_measures_and_the_unit_as_written() {
    let base = recipe("de", Some(2), &["2-3 EL Öl", "125g/4½oz Butter"], &[]);
    let scaled = scale(&base, 4);
    assert_eq!(raws(&scaled), vec!["4-6 EL Öl", "250 g (9 oz) Butter"]);
    assert_eq!(scaled.ingredients[1].alt.as_ref().map(|a| a.quantity), Some(9.0));
}

#[test]
fn scaling_and_converting_keep_the_authors_words_after_the_measure() {
    let base = recipe(
        "de",
        Some(2),
        &["4 Stk. Eier (Gr. M)", "2 EL Rosinen (optional)", "1 Prise Salz", "250 ml Milch, lauwarm"],
        &[],
    );
    assert_eq!(
        raws(&scale(&base, 3)),
        vec!["6 Stk. Eier (Gr. M)", "3 EL Rosinen (optional)", "2 Prisen Salz", "375 ml Milch, lauwarm"]
    );
    let salt = &scale(&base, 3).ingredients[2];
    assert_eq!(salt.unit_text.as_deref(), Some("Prisen"), "the unit as the scaled line writes it");
    let milk = &convert(&base, UnitSystem::Us).ingredients[3];
    assert_eq!((milk.unit.as_deref(), milk.unit_text.as_deref()), (Some("cup"), Some("Tasse")));
    let spanish = recipe("es", Some(2), &["500 g de harina de trigo", "2 cdas de azúcar"], &[]);
    assert_eq!(raws(&scale(&spanish, 4)), vec!["1000 g de harina de trigo", "4 cdas de azúcar"]);
    let us = convert(&base, UnitSystem::Us);
    assert_eq!(us.ingredients[3].raw, "1 Tasse (250 ml) Milch, lauwarm", "the linker and comma stay");
}

#[test]
fn scaling_to_the_same_servings_or_without_servings_changes_nothing() {
    let base = recipe("en", Some(2), &["1 1/2 cups flour", "3 eggs"], &[]);
    assert_eq!(scale(&base, 2), base);
    let unknown = recipe("en", None, &["1 1/2 cups flour"], &[]);
    assert_eq!(scale(&unknown, 6), unknown, "no servings: nothing says what the amounts feed");
}

#[test]
fn conversion_to_metric_and_back_to_us() {
    let us = recipe(
        "en",
        Some(2),
        &["1 cup milk", "2 tbsp butter", "1 lb ground beef", "8 oz cream cheese", "2 eggs"],
        &[],
    );
    let metric = convert(&us, UnitSystem::Metric);
    assert_eq!(
        raws(&metric),
        vec![
            "240 ml (1 cup) milk",
            "30 ml (2 tbsp) butter",
            "455 g (1 lb) ground beef",
            "225 g (8 oz) cream cheese",
            "2 eggs"
        ]
    );
    let metric = recipe("de", Some(2), &["250 ml Milch", "500 g Mehl", "1 l Wasser"], &[]);
    let us = convert(&metric, UnitSystem::Us);
    let units: Vec<_> = us.ingredients.iter().map(|i| (i.quantity, i.unit.as_deref())).collect();
    assert_eq!(units, vec![(Some(1.0), Some("cup")), (Some(1.0), Some("lb")), (Some(4.125), Some("cup"))]);
}

#[test]
fn conversion_prefers_the_lines_own_second_measure() {
    let base = recipe("en-GB", Some(2), &["125g/4½oz butter, diced"], &[]);
    let us = convert(&base, UnitSystem::Us);
    let line = &us.ingredients[0];
    assert_eq!(
        (line.quantity, line.unit.as_deref()),
        (Some(4.5), Some("oz")),
        "the author's 4½ oz, not 4.41"
    );
    assert_eq!(line.raw, "4 ½ oz (125 g) butter, diced");
}

#[test]
fn impossible_conversions_leave_the_line_as_written() {
    let base = recipe(
        "en",
        Some(2),
        &["3 cloves garlic", "a pinch of salt", "2 cans tomatoes", "salt and pepper"],
        &[],
    );
    assert_eq!(
        convert(&base, UnitSystem::Metric).ingredients,
        base.ingredients,
        "counts have no metric form"
    );
    let flour = recipe("en", Some(2), &["2 cups flour"], &[]);
    let metric = convert(&flour, UnitSystem::Metric);
    assert_eq!(
        metric.ingredients[0].unit.as_deref(),
        Some("ml"),
        "cups become millilitres, never grams (no density)"
    );
}

#[test]
fn oven_temperatures_in_steps_follow_the_units() {
    let base = recipe("en", Some(2), &[], &["Preheat the oven to 350°F.", "Bake 25 minutes at 425 °F."]);
    assert_eq!(
        convert(&base, UnitSystem::Metric).steps,
        vec!["Preheat the oven to 175 °C.", "Bake 25 minutes at 220 °C."]
    );
    let base = recipe("de", Some(2), &[], &["Den Ofen auf 180 °C vorheizen."]);
    assert_eq!(convert(&base, UnitSystem::Us).steps, vec!["Den Ofen auf 350 °F vorheizen."]);
}

#[test]
fn rendering_writes_the_language_notation() {
    assert_eq!(render(&parse("0,5 l Milch", "de"), "de"), "0,5 l Milch");
    assert_eq!(render(&parse("2 dientes de ajo picados", "es"), "es"), "2 dientes de ajo, picados");
    assert_eq!(render(&parse("1 1/2 cups flour, sifted", "en"), "en"), "1 ½ cups flour, sifted");
}
