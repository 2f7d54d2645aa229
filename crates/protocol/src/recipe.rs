//! The recipe model the worker extracts and the api serves, and its schema.org JSON-LD form.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One ingredient line, parsed where possible; `raw` always keeps the original text.
///
/// Every field after `note` was added later and is optional on the wire (absent when empty), so
/// stored recipes and older clients keep working; the `ingredients` crate fills them the same way
/// whichever extractor produced the recipe.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ingredient {
    /// The line as written ("200 g Spaghetti").
    pub raw: String,
    /// Amount, when the line has one (`0.5` for "½"); the lower end of a range ("2-3").
    pub quantity: Option<f64>,
    /// Unit in its canonical code ("g", "ml", "tbsp", "cup", "clove"), or as written when the
    /// unit is not a known one.
    pub unit: Option<String>,
    /// The food as it would appear on a shopping list ("Spaghetti", "egg").
    pub name: String,
    /// Anything after the name ("finely chopped"): preparation and comment together, as before.
    pub note: Option<String>,
    /// The upper end of a range ("2-3 eggs" -> 3), absent for a single amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity_max: Option<f64>,
    /// The unit as the line wrote it ("EL", "c", "Stk."), when it differs from nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_text: Option<String>,
    /// A size or grade ("large", "14-ounce", "Gr. M").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// What to do to it before use ("finely chopped", "diced", "room temperature").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preparation: Option<String>,
    /// What is neither name nor preparation ("for garnish", "optional", "or shallots").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The second measure of a metric/imperial pair ("125g/4½oz butter" -> 4.5 oz).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<Measure>,
}

/// An amount with its unit: the second measure of an ingredient line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Measure {
    /// Amount (lower end of a range).
    pub quantity: f64,
    /// Upper end of a range, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity_max: Option<f64>,
    /// Canonical unit code, or as written when unknown.
    pub unit: Option<String>,
    /// The unit as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_text: Option<String>,
}

/// Where a recipe came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecipeSource {
    /// The canonical TikTok link.
    pub url: String,
    /// The numeric video id, when known.
    pub video_id: Option<String>,
    /// The author's handle.
    pub author: Option<String>,
}

/// A structured recipe in the user's language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Recipe {
    /// Title.
    pub title: String,
    /// One or two sentences.
    pub description: Option<String>,
    /// Number of servings.
    pub servings: Option<u32>,
    /// Preparation time in minutes.
    pub prep_minutes: Option<u32>,
    /// Cooking time in minutes.
    pub cook_minutes: Option<u32>,
    /// Total time in minutes.
    pub total_minutes: Option<u32>,
    /// Ingredients in order.
    pub ingredients: Vec<Ingredient>,
    /// Method steps in order.
    pub steps: Vec<String>,
    /// Tags (hashtags without `#`, cuisine, diet).
    pub tags: Vec<String>,
    /// The video it came from.
    pub source: RecipeSource,
    /// The video's cover image.
    pub cover_url: Option<String>,
    /// The language the recipe is written in (`de`, `pt-BR`).
    pub language: String,
}

fn iso_minutes(minutes: Option<u32>) -> Option<String> {
    minutes.map(|m| format!("PT{m}M"))
}

impl Recipe {
    /// The recipe as a schema.org `Recipe` JSON-LD document.
    pub fn to_json_ld(&self) -> Value {
        let mut doc = json!({
            "@context": "https://schema.org",
            "@type": "Recipe",
            "name": self.title,
            "inLanguage": self.language,
            "recipeIngredient": self.ingredients.iter().map(|i| i.raw.clone()).collect::<Vec<_>>(),
            "recipeInstructions": self.steps.iter().enumerate().map(|(n, text)| json!({
                "@type": "HowToStep", "position": n + 1, "text": text
            })).collect::<Vec<_>>(),
            "isBasedOn": self.source.url,
        });
        let fields = [
            ("description", self.description.clone().map(Value::from)),
            ("recipeYield", self.servings.map(|s| Value::from(s.to_string()))),
            ("prepTime", iso_minutes(self.prep_minutes).map(Value::from)),
            ("cookTime", iso_minutes(self.cook_minutes).map(Value::from)),
            ("totalTime", iso_minutes(self.total_minutes).map(Value::from)),
            ("image", self.cover_url.clone().map(Value::from)),
            ("keywords", (!self.tags.is_empty()).then(|| Value::from(self.tags.join(", ")))),
            ("author", self.source.author.clone().map(|name| json!({"@type": "Person", "name": name}))),
        ];
        for (key, value) in fields {
            if let Some(value) = value {
                doc[key] = value;
            }
        }
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn carbonara() -> Recipe {
        Recipe {
            title: "Spaghetti Carbonara".into(),
            description: None,
            servings: Some(2),
            prep_minutes: Some(10),
            cook_minutes: Some(15),
            total_minutes: Some(25),
            ingredients: vec![Ingredient {
                raw: "200 g Spaghetti".into(),
                quantity: Some(200.0),
                unit: Some("g".into()),
                name: "Spaghetti".into(),
                ..Ingredient::default()
            }],
            steps: vec!["Cook the pasta.".into(), "Mix with eggs.".into()],
            tags: vec!["pasta".into()],
            source: RecipeSource {
                url: "https://www.tiktok.com/@a/video/1".into(),
                video_id: Some("1".into()),
                author: Some("a".into()),
            },
            cover_url: None,
            language: "en".into(),
        }
    }

    #[test]
    fn json_ld_is_a_schema_org_recipe() {
        let doc = carbonara().to_json_ld();
        assert_eq!(doc["@type"], "Recipe");
        assert_eq!(doc["name"], "Spaghetti Carbonara");
        assert_eq!(doc["recipeYield"], "2");
        assert_eq!(doc["totalTime"], "PT25M");
        assert_eq!(doc["recipeIngredient"][0], "200 g Spaghetti");
        assert_eq!(doc["recipeInstructions"][1]["position"], 2);
        assert_eq!(doc["author"]["name"], "a");
        assert!(doc.get("description").is_none(), "absent fields are left out, not null");
    }

    #[test]
    fn recipe_round_trips_through_json() {
        let recipe = carbonara();
        let text = serde_json::to_string(&recipe).unwrap();
        assert_eq!(serde_json::from_str::<Recipe>(&text).unwrap(), recipe);
    }
}
