//! Ingredient lines done right: a pure (no I/O) parser, canonical units, scaling, unit
//! conversion and a shopping list, shared by every extractor so that a recipe carries the same
//! canonical fields whatever produced it.
//!
//! # Parsing
//!
//! [`parse`] reads one line ("125g/4½oz butter, diced", "4 Stk. Eier (Gr. M)", "2 dientes de
//! ajo picados") into a [`protocol::Ingredient`]:
//!
//! - `quantity` / `quantity_max`: digits, decimal commas, ASCII and unicode fractions, mixed
//!   numbers, ranges ("2-3", "1 to 2", "1 bis 2", "2 a 3"), number words ("two", "half a",
//!   "eine", "zwei", "una", "medio", "un par de"). Only what the line writes: "pinch of salt"
//!   has a unit and no quantity, "a pinch of salt" has 1.
//! - `unit`: a canonical code (below), `unit_text` as written ("EL", "c", "Stk.", "cdas").
//!   Counted foods without a written unit ("2 eggs") have no unit.
//! - `size` ("large", "md", "14-ounce", "Gr. M"), `preparation` ("finely chopped", "freshly
//!   ground", "picada"), `comment` ("for frying", "to taste", "zum Braten", "al gusto",
//!   "or margarine"), and `note`, which keeps its old meaning: preparation and comment together.
//! - `name`: the food as a shopping list has it. Product words stay ("ground cumin", "dried
//!   oregano", "fresh basil", "extra virgin olive oil"); for a container unit ("1 can diced
//!   tomatoes", "1 Dose gehackte Tomaten") the adjectives describe the product and stay too.
//! - `alt`: the second measure of a pair ("125g/4½oz", "1 cup (240 ml)").
//!
//! Decisions worth knowing: "1 (14-ounce) can tomatoes" and "400g tin tomatoes" are 1 can of
//! that size; "2 x 150g fillets" is quantity 2 with size "150 g" and no unit; "juice of 1
//! lemon" is 1 lemon with preparation "juice". A comma never splits a line in [`parse`]; use
//! [`split_list`] for one-line lists.
//!
//! # Canonical unit codes
//!
//! Stable, on the wire in `Ingredient::unit`:
//!
//! - mass: `mg`, `g`, `kg`, `oz`, `lb`
//! - volume: `ml`, `cl`, `dl`, `l`, `tsp`, `tbsp`, `cup`, `fl oz`, `pint`, `quart`, `gallon`
//!   (kitchen sizes: tsp 5 ml, tbsp 15 ml, cup 240 ml; US pint, quart and gallon)
//! - length: `cm`, `inch`
//! - small amounts (never converted): `pinch`, `dash`, `drop`, `splash`, `drizzle`, `knob`,
//!   `handful`, `knifepoint` (German "Msp.")
//! - counted things (never converted): `piece` ("Stk.", "unidad"), `clove`, `slice`, `rasher`,
//!   `fillet`, `can`, `jar`, `bottle`, `package` ("Pck.", "packet", "paquete"), `sachet`
//!   ("sobre"), `bag`, `box`, `block`, `ball`, `tub` ("Becher", "pot", "tarrina"), `roll`,
//!   `sleeve`, `bunch`, `sprig`, `stalk`, `stem`, `rib`, `ear`, `sheet`, `leaf`, `head`,
//!   `punnet`, `stick`, `loaf`, `cube`, `scoop`, `glass`
//!
//! # Scaling, conversion, shopping
//!
//! [`scale`], [`convert`] and [`shopping_list`] work on whole [`protocol::Recipe`]s and
//! re-render each changed line with [`render`]; their rounding and conversion rules are
//! documented on each function.
//!
//! The language tag picks vocabularies by its primary subtag (`en`, `de`, `es`); English
//! units are always accepted, and an unknown language accepts every vocabulary.

mod convert;
mod lang;
mod lead;
mod number;
mod parse;
mod render;
mod scale;
mod shopping;
mod split;
mod tokens;
mod units;
mod words;

use std::str::FromStr;

use protocol::{Ingredient, Recipe, RecipeId};
use serde::{Deserialize, Serialize};

use crate::lang::Langs;
pub use crate::lead::{Lead, LeadingAmount};

/// Parses one ingredient line. Never panics; `raw` is the line trimmed.
pub fn parse(line: &str, language: &str) -> Ingredient {
    parse::parse_line(line, Langs::for_tag(language))
}

/// [`canonicalize`] on every ingredient of `recipe`, in the recipe's language: what the worker
/// does to each recipe it saves, and the api to a recipe saved before the parser had a field.
pub fn canonicalize_recipe(recipe: &mut Recipe) {
    let language = recipe.language.clone();
    for ingredient in &mut recipe.ingredients {
        canonicalize(ingredient, &language);
    }
}

/// Fills the canonical fields of an ingredient that came from a model, from its `raw` text.
///
/// The model's `raw` and `name` are kept (it may have translated or tidied the name); quantity,
/// range, unit, unit as written, size, preparation, comment and second measure come from the
/// same parser the offline extractor uses. Where the model's quantity or unit disagree with
/// what `raw` says, `raw` wins; where `raw` has no amount, the model's values are kept, with
/// the unit mapped to its canonical code when it is a known spelling.
pub fn canonicalize(ingredient: &mut Ingredient, language: &str) {
    let langs = Langs::for_tag(language);
    let parsed = parse::parse_line(&ingredient.raw, langs);
    if parsed.quantity.is_some() || parsed.unit.is_some() {
        ingredient.quantity = parsed.quantity;
        ingredient.quantity_max = parsed.quantity_max;
        ingredient.unit = parsed.unit;
        ingredient.unit_text = parsed.unit_text;
        ingredient.alt = parsed.alt;
    } else if let Some(unit) = ingredient.unit.clone() {
        let words: Vec<&str> = unit.split_whitespace().collect();
        if let Some((code, _)) = units::unit_at(&words, langs) {
            ingredient.unit = Some(code.to_owned());
            ingredient.unit_text.get_or_insert(unit);
        }
    }
    if let Some(q) = ingredient.quantity
        && !(q.is_finite() && q > 0.0)
    {
        ingredient.quantity = None;
    }
    if ingredient.quantity_max.is_some_and(|m| ingredient.quantity.is_none_or(|q| m <= q)) {
        ingredient.quantity_max = None;
    }
    ingredient.size = ingredient.size.take().or(parsed.size);
    ingredient.preparation = ingredient.preparation.take().or(parsed.preparation);
    ingredient.comment = ingredient.comment.take().or(parsed.comment);
    if ingredient.note.is_none() {
        ingredient.note = parsed.note;
    }
    if ingredient.name.trim().is_empty() {
        ingredient.name = parsed.name;
    }
}

/// The amount and unit at the start of running text, with byte offsets ("2 cups of flour …"),
/// for extractors that scan captions and speech rather than whole lines; `None` when the text
/// does not start with an amount (an article counts only before a noun or unit).
pub fn lead(text: &str, language: &str) -> Option<Lead> {
    lead::lead_at(text, Langs::for_tag(language))
}

/// The bare amount at the very start of `text` ("1 1/2 hours", "20-25 min", "zwei"), for
/// reading durations and servings with the same number rules as ingredients.
pub fn leading_amount(text: &str, language: &str) -> Option<LeadingAmount> {
    lead::amount_here(text, Langs::for_tag(language))
}

/// Splits a one-line list ("200g spaghetti, 2 eggs and salt") into its ingredient texts.
///
/// Commas and semicolons separate items unless the fragment after them describes the item
/// before ("3 cloves garlic, minced", "1 ripe, medium cantaloupe"); "and"/"und"/"y"/"&" only
/// when an amount follows, so "salt and pepper" stays one. Parentheses are never split.
pub fn split_list(line: &str, language: &str) -> Vec<String> {
    split::split_items(line, Langs::for_tag(language))
}

/// The line re-rendered from its fields, in the language's notation ("1 ½ cups", "0,5 l").
pub fn render(ingredient: &Ingredient, language: &str) -> String {
    render::render_line(ingredient, Langs::for_tag(language))
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

/// The recipe scaled to `servings`: every quantity, range end and second measure times
/// `servings / recipe.servings`, rounded as a cook measures (fractions for cups and spoons,
/// whole grams, whole eggs), `servings` set and each changed line re-rendered. A recipe without
/// servings, or `servings` 0, comes back unchanged.
pub fn scale(recipe: &Recipe, servings: u32) -> Recipe {
    scale::scale_recipe(recipe, servings)
}

/// The recipe in `system`: mass and volume converted (never between the two), the line's own
/// second measure preferred, the original kept as `alt`, lines re-rendered, and oven
/// temperatures in the steps converted. What cannot be converted is left as written.
pub fn convert(recipe: &Recipe, system: UnitSystem) -> Recipe {
    convert::convert_recipe(recipe, system)
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
    /// The food as the first line that names it wrote it ("eggs", "flour").
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
///
/// Same food (name compared without case, accents or a simple plural) with compatible units is
/// summed (g + kg, ml + l, tsp + tbsp + cup, counts of one unit); incompatible amounts of one
/// food are separate, adjacent items; lines without an amount are merged by name. Foods keep
/// the order in which they first appear.
pub fn shopping_list(entries: &[ListEntry<'_>]) -> Vec<ShoppingItem> {
    shopping::build(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_systems_read_from_text_and_json_in_lower_case() {
        assert_eq!("metric".parse::<UnitSystem>(), Ok(UnitSystem::Metric));
        assert_eq!(" US ".parse::<UnitSystem>(), Ok(UnitSystem::Us));
        assert!("imperial".parse::<UnitSystem>().is_err());
        assert_eq!(serde_json::to_string(&UnitSystem::Us).ok().as_deref(), Some("\"us\""));
        assert_eq!(serde_json::from_str::<UnitSystem>("\"metric\"").ok(), Some(UnitSystem::Metric));
    }
}
