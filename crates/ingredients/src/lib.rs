//! Ingredient lines done right: a pure (no I/O) parser, canonical units, scaling, unit
//! conversion and a shopping list. (Skeleton: bodies are being filled in.)

use std::str::FromStr;

use protocol::{Ingredient, Recipe, RecipeId};
use serde::{Deserialize, Serialize};

/// Parses one ingredient line. Never panics; `raw` is the line trimmed.
pub fn parse(line: &str, language: &str) -> Ingredient {
    let _ = language;
    let raw = line.trim().to_owned();
    Ingredient { name: raw.clone(), raw, ..Ingredient::default() }
}

/// Fills the canonical fields of an LLM ingredient from its `raw` text, keeping `raw` and `name`.
pub fn canonicalize(ingredient: &mut Ingredient, language: &str) {
    let _ = (ingredient, language);
}

/// Splits a one-line list ("200g spaghetti, 2 eggs and salt") into its ingredient texts.
pub fn split_list(line: &str, language: &str) -> Vec<String> {
    let _ = language;
    vec![line.trim().to_owned()]
}

/// The line re-rendered from its fields.
pub fn render(ingredient: &Ingredient, language: &str) -> String {
    let _ = language;
    ingredient.raw.clone()
}

/// A system of units to convert a recipe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnitSystem {
    /// Grams, millilitres, degrees Celsius.
    Metric,
    /// Cups, spoons, ounces, pounds, degrees Fahrenheit.
    Us,
}

/// A unit system name that is neither "metric" nor "us".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unit system must be \"metric\" or \"us\", got {0:?}")]
pub struct UnitSystemError(String);

impl FromStr for UnitSystem {
    type Err = UnitSystemError;
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "metric" => Ok(Self::Metric),
            "us" => Ok(Self::Us),
            _ => Err(UnitSystemError(value.chars().take(32).collect())),
        }
    }
}

/// The recipe scaled to `servings`.
pub fn scale(recipe: &Recipe, servings: u32) -> Recipe {
    let _ = servings;
    recipe.clone()
}

/// The recipe converted to `system`.
pub fn convert(recipe: &Recipe, system: UnitSystem) -> Recipe {
    let _ = system;
    recipe.clone()
}

/// One recipe going into a shopping list.
#[derive(Debug, Clone, Copy)]
pub struct ListEntry<'a> {
    /// Which recipe (listed in each item's `recipes`).
    pub recipe_id: RecipeId,
    /// The recipe.
    pub recipe: &'a Recipe,
    /// Servings to shop for; `None` keeps the recipe's own.
    pub servings: Option<u32>,
}

/// One line of a shopping list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShoppingItem {
    /// The food ("egg", "flour").
    pub name: String,
    /// Summed amount, if any line had one.
    pub quantity: Option<f64>,
    /// Canonical unit of `quantity`.
    pub unit: Option<String>,
    /// The item rendered as one line ("3 eggs", "500 g flour").
    pub text: String,
    /// The recipes it comes from, in order of first appearance.
    pub recipes: Vec<RecipeId>,
}

/// Merges the ingredients of `entries` into a shopping list.
pub fn shopping_list(entries: &[ListEntry<'_>]) -> Vec<ShoppingItem> {
    let _ = entries;
    Vec::new()
}
