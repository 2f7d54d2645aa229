//! The shopping list merge.

use ingredients::{ListEntry, shopping_list};
use protocol::RecipeId;

use crate::units::recipe;

#[test]
fn same_foods_with_compatible_units_are_summed_and_incompatible_ones_sit_side_by_side() {
    let pancakes = recipe("en", Some(2), &["2 eggs", "250 g flour", "1 cup milk", "salt"], &[]);
    let cake = recipe(
        "en",
        Some(4),
        &["3 Eggs", "0.5 kg flour", "2 tbsp milk", "1 cup flour", "salt to taste"],
        &[],
    );
    let (a, b) = (RecipeId::new(), RecipeId::new());
    let entries = [
        ListEntry { recipe_id: a, recipe: &pancakes, servings: None },
        ListEntry { recipe_id: b, recipe: &cake, servings: None },
    ];
    let list = shopping_list(&entries);
    let summary: Vec<(&str, Option<f64>, Option<&str>, usize)> =
        list.iter().map(|i| (i.name.as_str(), i.quantity, i.unit.as_deref(), i.recipes.len())).collect();
    assert_eq!(
        summary,
        vec![
            ("eggs", Some(5.0), None, 2),
            ("flour", Some(750.0), Some("g"), 2),
            ("flour", Some(1.0), Some("cup"), 1),
            ("milk", Some(1.0 + 1.0 / 8.0), Some("cup"), 2),
            ("salt", None, None, 2),
        ],
        "eggs + Eggs, g + kg, cup + tbsp; a cup of flour stays apart from grams, next to them"
    );
    assert_eq!(list[1].text, "750 g flour");
    assert_eq!(list[0].recipes, vec![a, b], "recipes in order");
}

#[test]
fn servings_per_recipe_scale_before_merging() {
    let omelette = recipe("de", Some(1), &["2 Eier", "1 Prise Salz"], &[]);
    let quiche = recipe("de", Some(4), &["4 Eier"], &[]);
    let entries = [
        ListEntry { recipe_id: RecipeId::new(), recipe: &omelette, servings: Some(2) },
        ListEntry { recipe_id: RecipeId::new(), recipe: &quiche, servings: Some(2) },
    ];
    let list = shopping_list(&entries);
    assert_eq!(list[0].quantity, Some(6.0), "4 for two omelettes and 2 for half a quiche");
    assert_eq!(list[0].text, "6 Eier");
}

#[test]
fn the_list_serialises_as_a_wire_type() {
    let soup = recipe("es", Some(2), &["2 dientes de ajo", "1 diente de ajo"], &[]);
    let list = shopping_list(&[ListEntry { recipe_id: RecipeId::new(), recipe: &soup, servings: None }]);
    let json = serde_json::to_value(&list).unwrap_or_default();
    assert_eq!(json[0]["quantity"], 3.0);
    assert_eq!(json[0]["unit"], "clove");
    assert_eq!(json[0]["name"], "ajo");
}
