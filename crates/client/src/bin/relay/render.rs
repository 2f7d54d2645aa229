//! How recipes and task updates look on a terminal.

use std::fmt::Write as _;

use protocol::{Ingredient, Recipe, TaskUpdate};

/// One line for an update: `[3/5] Processing with AI... — Using OpenAI to analyze frames`.
pub(crate) fn update_line(update: &TaskUpdate) -> String {
    let mut line = format!("[{}/{}] {}", update.step, update.total_steps, update_text(update));
    if let Some(details) = update.details.as_deref().filter(|d| !d.is_empty()) {
        let _ = write!(line, " — {details}");
    }
    line
}

/// The human text of an update: its step text, else its message, else its state word.
pub(crate) fn update_text(update: &TaskUpdate) -> &str {
    update.current_status.as_deref().or(update.message.as_deref()).unwrap_or(update.status.as_str())
}

/// A recipe as readable text: title, facts, ingredients, numbered steps, source.
pub(crate) fn recipe_text(recipe: &Recipe) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", recipe.title);
    let _ = writeln!(out, "{}", "=".repeat(recipe.title.chars().count().max(3)));
    if let Some(description) = recipe.description.as_deref().filter(|d| !d.is_empty()) {
        let _ = writeln!(out, "{description}");
    }
    out.push('\n');

    let mut facts = Vec::new();
    if let Some(servings) = recipe.servings {
        facts.push(format!("Servings: {servings}"));
    }
    for (label, minutes) in
        [("Prep", recipe.prep_minutes), ("Cook", recipe.cook_minutes), ("Total", recipe.total_minutes)]
    {
        if let Some(minutes) = minutes {
            facts.push(format!("{label}: {}", duration_text(minutes)));
        }
    }
    if !facts.is_empty() {
        let _ = writeln!(out, "{}", facts.join(" · "));
    }
    if !recipe.tags.is_empty() {
        let _ = writeln!(out, "Tags: {}", recipe.tags.join(", "));
    }
    if !facts.is_empty() || !recipe.tags.is_empty() {
        out.push('\n');
    }

    let _ = writeln!(out, "Ingredients");
    let amounts: Vec<String> = recipe.ingredients.iter().map(amount_text).collect();
    let width = amounts.iter().map(|a| a.chars().count()).max().unwrap_or(0);
    for (ingredient, amount) in recipe.ingredients.iter().zip(&amounts) {
        let what = ingredient_text(ingredient);
        if width == 0 {
            let _ = writeln!(out, "  - {what}");
        } else {
            let _ = writeln!(out, "  - {amount:<width$}  {what}");
        }
    }
    out.push('\n');

    let _ = writeln!(out, "Steps");
    let number_width = recipe.steps.len().to_string().len();
    for (n, step) in recipe.steps.iter().enumerate() {
        let _ = writeln!(out, "  {:>number_width$}. {step}", n + 1);
    }
    out.push('\n');

    let _ = write!(out, "Source: {}", recipe.source.url);
    if let Some(author) = recipe.source.author.as_deref().filter(|a| !a.is_empty()) {
        let _ = write!(
            out,
            " (by {})",
            if author.starts_with('@') { author.to_owned() } else { format!("@{author}") }
        );
    }
    out.push('\n');
    out
}

/// A shopping list: one line per item, then the recipes it was made for.
pub(crate) fn shopping_list_text(list: &client::ShoppingList) -> String {
    let mut out = String::from("Shopping list\n=============\n");
    for item in &list.items {
        let _ = writeln!(out, "  [ ] {}", item.text);
    }
    out.push('\n');
    let _ = writeln!(out, "For");
    for recipe in &list.recipes {
        match recipe.servings {
            Some(servings) => {
                let _ = writeln!(out, "  - {} ({servings} servings)", recipe.title);
            }
            None => {
                let _ = writeln!(out, "  - {}", recipe.title);
            }
        }
    }
    out
}

/// "200 g", "2", "EL", or "" when the line has neither quantity nor unit; the unit as the line
/// wrote it, so a German recipe keeps its "EL".
fn amount_text(ingredient: &Ingredient) -> String {
    let quantity = ingredient.quantity.map(quantity_text);
    let unit = ingredient.unit_text.as_deref().or(ingredient.unit.as_deref()).filter(|u| !u.is_empty());
    match (quantity, unit) {
        (Some(q), Some(u)) => format!("{q} {u}"),
        (Some(q), None) => q,
        (None, Some(u)) => u.to_owned(),
        (None, None) => String::new(),
    }
}

/// The name and note, or the raw line when the parser found no name.
fn ingredient_text(ingredient: &Ingredient) -> String {
    let name = ingredient.name.trim();
    if name.is_empty() {
        return ingredient.raw.clone();
    }
    match ingredient.note.as_deref().filter(|n| !n.is_empty()) {
        Some(note) => format!("{name}, {note}"),
        None => name.to_owned(),
    }
}

/// `200`, `0.5`, `1.25`: no trailing zeros.
pub(crate) fn quantity_text(quantity: f64) -> String {
    let text = format!("{quantity:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// `45 min`, `1 h`, `1 h 30 min`.
pub(crate) fn duration_text(minutes: u32) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use protocol::{RecipeSource, Step, TaskId};

    use super::*;

    fn ingredient(
        raw: &str,
        quantity: Option<f64>,
        unit: Option<&str>,
        name: &str,
        note: Option<&str>,
    ) -> Ingredient {
        Ingredient {
            raw: raw.into(),
            quantity,
            unit: unit.map(Into::into),
            name: name.into(),
            note: note.map(Into::into),
            ..Ingredient::default()
        }
    }

    #[test]
    fn a_recipe_reads_like_a_recipe_card() {
        let recipe = Recipe {
            title: "Carbonara".into(),
            description: Some("Roman classic.".into()),
            servings: Some(2),
            prep_minutes: Some(10),
            cook_minutes: None,
            total_minutes: Some(90),
            ingredients: vec![
                ingredient("200 g Spaghetti", Some(200.0), Some("g"), "Spaghetti", None),
                ingredient("2 Eier", Some(2.0), None, "Eier", Some("Größe M")),
                ingredient("Salz nach Geschmack", None, None, "", None),
            ],
            steps: vec!["Pasta kochen.".into(), "Mit Ei mischen.".into()],
            tags: vec!["pasta".into()],
            source: RecipeSource {
                url: "https://www.tiktok.com/@chef/video/1".into(),
                video_id: Some("1".into()),
                author: Some("chef".into()),
            },
            cover_url: None,
            language: "de".into(),
        };
        let text = recipe_text(&recipe);
        let expected = "Carbonara\n=========\nRoman classic.\n\n\
            Servings: 2 · Prep: 10 min · Total: 1 h 30 min\nTags: pasta\n\n\
            Ingredients\n  - 200 g  Spaghetti\n  - 2      Eier, Größe M\n  -        Salz nach Geschmack\n\n\
            Steps\n  1. Pasta kochen.\n  2. Mit Ei mischen.\n\n\
            Source: https://www.tiktok.com/@chef/video/1 (by @chef)\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn quantities_drop_trailing_zeros() {
        for (q, text) in [(200.0, "200"), (0.5, "0.5"), (1.25, "1.25"), (0.333, "0.33")] {
            assert_eq!(quantity_text(q), text);
        }
    }

    #[test]
    fn an_update_line_has_step_text_and_details() {
        let update = TaskUpdate::progress(TaskId::new(), Step::Extracting, Some("Using OpenAI".into()));
        assert_eq!(update_line(&update), "[3/5] Processing with AI... — Using OpenAI");
    }
}
