//! The model's answer: the Chat Completions response read down to its content (refusals,
//! truncation and filtering are permanent), then the recipe JSON checked and clamped, because a
//! server without strict mode may write anything the schema allows and more.

use protocol::{Ingredient, Language, Recipe, RecipeSource};
use serde::Deserialize;

use crate::providers::{ProviderError, VideoData};

/// Largest quantity we believe (100 kg in grams).
const MAX_QUANTITY: f64 = 100_000.0;

/// Longest time we believe, in minutes (a week: ferments, brines).
const MAX_MINUTES: f64 = 7.0 * 24.0 * 60.0;

/// Most servings we believe.
const MAX_SERVINGS: f64 = 500.0;

/// Longest title kept, in characters.
const MAX_TITLE_CHARS: usize = 200;

/// Most ingredients, steps and tags kept from one answer.
const MAX_ITEMS: usize = 100;

/// Most tags kept.
const MAX_TAGS: usize = 20;

/// The parts of a Chat Completions response we read.
#[derive(Debug, Deserialize)]
struct ChatResponse {
    #[serde(default)]
    choices: Vec<Choice>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    #[serde(default)]
    message: ChoiceMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

/// The assistant message of a choice.
#[derive(Debug, Default, Deserialize)]
struct ChoiceMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

/// The token counts of a completion (OpenAI-compatible `usage`), what the provider bills.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub(super) struct Usage {
    /// Input tokens: the prompt, the text and the images.
    #[serde(default)]
    pub(super) prompt_tokens: u64,
    /// Output tokens: the answer.
    #[serde(default)]
    pub(super) completion_tokens: u64,
}

/// The `usage` of a response body, when the server reports one (some local servers do not).
pub(super) fn usage(body: &str) -> Option<Usage> {
    #[derive(Deserialize)]
    struct WithUsage {
        usage: Option<Usage>,
    }
    serde_json::from_str::<WithUsage>(body).ok()?.usage
}

/// Reads a successful response body down to the message content, turning refusals, truncation
/// and filtering into their permanent errors. `redact` cleans text echoed from the body.
pub(super) fn read_completion(body: &str, redact: impl Fn(&str) -> String) -> Result<String, ProviderError> {
    let response: ChatResponse = serde_json::from_str(body).map_err(|e| {
        ProviderError::transient(format!("The LLM provider sent an unreadable response ({e})"))
    })?;
    let choice = response
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| ProviderError::transient("The LLM provider answered without any choice"))?;
    if let Some(refusal) = choice.message.refusal.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        return Err(ProviderError::permanent(
            "llm_refused",
            format!("The model refused to extract a recipe: {}", redact(refusal)),
        ));
    }
    match choice.finish_reason.as_deref() {
        Some("length") => {
            return Err(ProviderError::permanent(
                "llm_truncated",
                "The recipe was too long for the model's output limit",
            ));
        }
        Some("content_filter") => {
            return Err(ProviderError::permanent(
                "llm_content_filter",
                "The model's content filter blocked this video",
            ));
        }
        _ => {}
    }
    choice
        .message
        .content
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| ProviderError::transient("The model returned an empty answer"))
}

/// The content without a Markdown code fence, which servers without schema support add.
fn strip_code_fence(content: &str) -> &str {
    let trimmed = content.trim();
    let Some(inner) = trimmed.strip_prefix("```") else { return trimmed };
    let inner = inner.strip_prefix("json").unwrap_or(inner);
    inner.trim_end().strip_suffix("```").unwrap_or(inner).trim()
}

/// The recipe in the model's answer `content`, checked and clamped.
///
/// # Errors
/// Transient when the content is not the schema's JSON or has no title; `not_a_recipe` when the
/// model says so or the recipe is empty.
pub(super) fn recipe_from(
    content: &str,
    video: &VideoData,
    language: &Language,
) -> Result<Recipe, ProviderError> {
    let answer: Answer = serde_json::from_str(strip_code_fence(content))
        .map_err(|e| ProviderError::transient(format!("The model's answer is not a valid recipe ({e})")))?;
    answer.into_recipe(video, language)
}

/// The model's answer, as the schema describes it. Numbers are read as `f64` so a server without
/// strict mode that writes `4.0` or `-1` is clamped instead of failing.
#[derive(Debug, Deserialize)]
struct Answer {
    is_recipe: bool,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    servings: Option<f64>,
    #[serde(default)]
    prep_minutes: Option<f64>,
    #[serde(default)]
    cook_minutes: Option<f64>,
    #[serde(default)]
    total_minutes: Option<f64>,
    #[serde(default)]
    ingredients: Vec<AnswerIngredient>,
    #[serde(default)]
    steps: Vec<Option<String>>,
    #[serde(default)]
    tags: Vec<Option<String>>,
}

#[derive(Debug, Deserialize)]
struct AnswerIngredient {
    #[serde(default)]
    raw: Option<String>,
    #[serde(default)]
    quantity: Option<f64>,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

/// `text` trimmed, or `None` when nothing is left.
fn non_empty(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty())
}

/// A whole number in `1..=max`, or `None` for missing, negative, zero or absurd values.
fn whole(value: Option<f64>, max: f64) -> Option<u32> {
    let rounded = value?.round();
    (rounded.is_finite() && (1.0..=max).contains(&rounded)).then_some(rounded as u32)
}

impl Answer {
    fn into_recipe(self, video: &VideoData, language: &Language) -> Result<Recipe, ProviderError> {
        let not_a_recipe =
            || ProviderError::permanent("not_a_recipe", "This video does not contain a recipe");
        if !self.is_recipe {
            return Err(not_a_recipe());
        }
        let ingredients: Vec<Ingredient> = self
            .ingredients
            .into_iter()
            .filter_map(|i| {
                let name = non_empty(i.name)?;
                let quantity = i.quantity.filter(|q| q.is_finite() && *q > 0.0 && *q <= MAX_QUANTITY);
                let unit = non_empty(i.unit);
                let raw = non_empty(i.raw).unwrap_or_else(|| {
                    let amount = quantity.map(|q| q.to_string());
                    [amount.as_deref(), unit.as_deref(), Some(name.as_str())]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ")
                });
                // The pipeline fills the canonical fields from `raw` before saving
                // (`ingredients::canonicalize_recipe`), as for every extractor.
                Some(Ingredient {
                    raw,
                    quantity,
                    unit,
                    name,
                    note: non_empty(i.note),
                    ..Ingredient::default()
                })
            })
            .take(MAX_ITEMS)
            .collect();
        let steps: Vec<String> = self.steps.into_iter().filter_map(non_empty).take(MAX_ITEMS).collect();
        // A "recipe" with nothing in it is the model hedging, not a recipe.
        if ingredients.is_empty() && steps.is_empty() {
            return Err(not_a_recipe());
        }
        let title = non_empty(self.title)
            .map(|t| truncate_chars(&t, MAX_TITLE_CHARS))
            .ok_or_else(|| ProviderError::transient("The model returned a recipe without a title"))?;
        let mut tags: Vec<String> = Vec::new();
        for tag in self.tags.into_iter().filter_map(non_empty) {
            let tag = tag.trim_start_matches('#').trim().to_lowercase();
            if !tag.is_empty() && !tags.contains(&tag) && tags.len() < MAX_TAGS {
                tags.push(tag);
            }
        }
        let prep_minutes = whole(self.prep_minutes, MAX_MINUTES);
        let cook_minutes = whole(self.cook_minutes, MAX_MINUTES);
        let total_minutes =
            whole(self.total_minutes, MAX_MINUTES).or_else(|| Some(prep_minutes? + cook_minutes?));
        Ok(Recipe {
            title,
            description: non_empty(self.description),
            servings: whole(self.servings, MAX_SERVINGS),
            prep_minutes,
            cook_minutes,
            total_minutes,
            ingredients,
            steps,
            tags,
            source: RecipeSource {
                url: video.url.clone(),
                video_id: video.video_id.clone(),
                author: video.author.clone(),
            },
            cover_url: video.cover_url.clone(),
            language: language.as_str().to_owned(),
        })
    }
}

/// `text` cut to at most `max` characters.
pub(super) fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}
