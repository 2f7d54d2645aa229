//! Recipe handlers: one recipe (scaled to a number of servings and converted to a unit system on
//! request), the user's recipes page by page, and a shopping list merged from several recipes.
//!
//! Scaling, conversion and merging are the `ingredients` crate's; this module only reads the
//! user's own recipes and checks the parameters.

use std::collections::HashSet;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use ingredients::{ListEntry, ShoppingItem, UnitSystem};
use protocol::wire::JSON_LD;
use protocol::{Recipe, RecipeId, TaskId};
use serde::{Deserialize, Serialize};
use tasks::RecipeRow;
use time::format_description::well_known::Rfc3339;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::state::AppState;

/// Recipes per page by default, and at most.
const PAGE_DEFAULT: u32 = 20;
const PAGE_MAX: u32 = 100;
/// Most servings a recipe can be scaled to: past this a kitchen is a canteen, and a typo
/// (`servings=4000`) should be a clear 400, not a list of absurd amounts.
const SERVINGS_MAX: u32 = 100;
/// Most recipes one shopping list merges.
const LIST_MAX: usize = 50;

/// A recipe as served: ids and time around the recipe's fields.
#[derive(Debug, Serialize)]
pub struct RecipeBody {
    /// What `GET /recipes/{id}` takes.
    pub id: RecipeId,
    /// The task that produced it.
    pub task_id: TaskId,
    /// When it was saved (RFC 3339).
    pub created_at: String,
    /// Flattened: the recipe's fields sit beside the ids in one object.
    #[serde(flatten)]
    pub recipe: Recipe,
}

impl From<RecipeRow> for RecipeBody {
    fn from(row: RecipeRow) -> Self {
        Self {
            id: row.id,
            task_id: row.task_id,
            created_at: row.created_at.format(&Rfc3339).unwrap_or_default(),
            recipe: row.recipe,
        }
    }
}

/// Whether the client prefers JSON-LD.
fn wants_json_ld(req: &HttpRequest) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|range| range.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case(JSON_LD)))
}

/// A servings count from a request, or the 400 that says what is accepted.
fn check_servings(servings: Option<u32>) -> Result<Option<u32>, ApiError> {
    match servings {
        Some(n) if !(1..=SERVINGS_MAX).contains(&n) => {
            Err(ApiError::BadRequest(format!("servings must be between 1 and {SERVINGS_MAX}")))
        }
        other => Ok(other),
    }
}

/// The recipe as asked for: scaled first (amounts as written), then converted. A recipe saved
/// before the parser had its canonical fields gets them first, so it scales like a new one.
fn adapt(mut recipe: Recipe, servings: Option<u32>, units: Option<UnitSystem>) -> Recipe {
    if servings.is_some() || units.is_some() {
        ingredients::canonicalize_recipe(&mut recipe);
    }
    let recipe = match servings {
        Some(n) => ingredients::scale(&recipe, n),
        None => recipe,
    };
    match units {
        Some(system) => ingredients::convert(&recipe, system),
        None => recipe,
    }
}

/// Query of `GET /recipes/{id}`.
#[derive(Debug, Deserialize)]
pub struct RecipeQuery {
    /// Scale every quantity to this many servings (1 to 100).
    pub servings: Option<u32>,
    /// Convert volumes, masses and oven temperatures to `metric` or `us`.
    pub units: Option<UnitSystem>,
}

/// `GET /recipes/{id}`: JSON, or schema.org JSON-LD with `Accept: application/ld+json`; both
/// follow `?servings=` and `?units=`.
///
/// # Errors
/// 400 for a bad `servings` or `units`, 401, 404 for a missing or foreign recipe, 503.
pub async fn get_recipe(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<RecipeQuery>,
) -> Result<HttpResponse, ApiError> {
    let servings = check_servings(query.servings)?;
    let not_found = || ApiError::NotFound("no recipe with this id belongs to you");
    let id = RecipeId::parse(&path).map_err(|_| not_found())?;
    let mut row =
        state.tasks.recipe(id, user.id()).await.map_err(ApiError::unavailable)?.ok_or_else(not_found)?;
    row.recipe = adapt(row.recipe, servings, query.units);
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::VARY, "Accept"))
        .insert_header((header::CACHE_CONTROL, "private, max-age=60"));
    if wants_json_ld(&req) {
        let mut doc = row.recipe.to_json_ld();
        doc["identifier"] = serde_json::Value::from(row.id.to_string());
        doc["dateCreated"] = serde_json::Value::from(row.created_at.format(&Rfc3339).unwrap_or_default());
        response.insert_header((header::CONTENT_TYPE, JSON_LD));
        return Ok(response.body(doc.to_string()));
    }
    Ok(response.json(RecipeBody::from(row)))
}

/// Query of `GET /recipes`.
#[derive(Debug, Deserialize)]
pub struct RecipesQuery {
    /// Page size (1 to 100, default 20).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of `GET /recipes`.
#[derive(Debug, Serialize)]
pub struct RecipePage {
    /// Recipes, newest first.
    pub items: Vec<RecipeBody>,
    /// Pass as `?cursor=` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `GET /recipes`: the user's recipes, newest first, cursor-paginated.
///
/// # Errors
/// 400 for a bad cursor or limit, 401, 503.
pub async fn list_recipes(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<RecipesQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(PAGE_DEFAULT);
    if !(1..=PAGE_MAX).contains(&limit) {
        return Err(ApiError::BadRequest(format!("limit must be between 1 and {PAGE_MAX}")));
    }
    let before = query
        .cursor
        .as_deref()
        .map(|c| {
            RecipeId::parse(c).map_err(|_| ApiError::BadRequest("cursor must be a next_cursor value".into()))
        })
        .transpose()?;
    // One extra row tells whether another page exists.
    let mut rows =
        state.tasks.list_recipes(user.id(), before, limit + 1).await.map_err(ApiError::unavailable)?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = more.then(|| rows.last().map(|r| r.id.to_string())).flatten();
    let page = RecipePage { items: rows.into_iter().map(RecipeBody::from).collect(), next_cursor };
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(page))
}

/// One recipe of a shopping-list request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRecipe {
    /// The recipe's id (one of the user's own).
    pub id: String,
    /// Servings to shop for; the recipe's own when absent.
    #[serde(default, deserialize_with = "whole_number")]
    pub servings: Option<u32>,
}

/// A JSON number that is a whole number, written `2` or `2.0` (JSON Schema's `integer` allows
/// both, and generated clients send either); anything else is the 400 of a malformed body.
fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else { return Ok(None) };
    let whole = number.as_u64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
            .map(|f| f as u64)
    });
    whole
        .and_then(|n| u32::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("servings must be a whole number, got {number}")))
}

/// Body of `POST /shopping-list`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListRequest {
    /// The recipes to shop for, each once.
    pub recipes: Vec<ListRecipe>,
    /// Convert the merged amounts to `metric` or `us` first.
    pub units: Option<UnitSystem>,
}

/// Which recipe a shopping list was made from, as it was counted.
#[derive(Debug, Serialize)]
pub struct ListSource {
    /// What `GET /recipes/{id}` takes.
    pub id: RecipeId,
    /// The recipe's title.
    pub title: String,
    /// The servings the list was made for (absent when the recipe names none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub servings: Option<u32>,
}

/// Body of a `POST /shopping-list` answer.
#[derive(Debug, Serialize)]
pub struct ShoppingList {
    /// Merged items, in the order their food first appears.
    pub items: Vec<ShoppingItem>,
    /// The recipes, in the order they were asked for.
    pub recipes: Vec<ListSource>,
}

/// `POST /shopping-list`: the ingredients of several of the user's recipes, merged.
///
/// # Errors
/// 400 for an empty or too long list, a repeated recipe or bad servings; 401; 404 when any
/// recipe is missing or foreign (the same answer for both); 503.
pub async fn shopping_list(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<ListRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.into_inner();
    if request.recipes.is_empty() || request.recipes.len() > LIST_MAX {
        return Err(ApiError::BadRequest(format!("recipes must list between 1 and {LIST_MAX} recipes")));
    }
    let not_found = || ApiError::NotFound("no recipe with this id belongs to you");
    let mut wanted = Vec::with_capacity(request.recipes.len());
    let mut seen = HashSet::new();
    for item in &request.recipes {
        let id = RecipeId::parse(&item.id).map_err(|_| not_found())?;
        if !seen.insert(id) {
            return Err(ApiError::BadRequest(format!("recipe {id} is listed twice; give its servings once")));
        }
        wanted.push((id, check_servings(item.servings)?));
    }
    let ids: Vec<RecipeId> = wanted.iter().map(|(id, _)| *id).collect();
    let rows = state.tasks.recipes(&ids, user.id()).await.map_err(ApiError::unavailable)?;
    let mut recipes = Vec::with_capacity(wanted.len());
    for (id, servings) in wanted {
        let row = rows.iter().find(|row| row.id == id).ok_or_else(not_found)?;
        recipes.push((id, adapt(row.recipe.clone(), servings, request.units)));
    }
    let entries: Vec<ListEntry<'_>> =
        recipes.iter().map(|(id, recipe)| ListEntry { recipe_id: *id, recipe, servings: None }).collect();
    let list = ShoppingList {
        items: ingredients::shopping_list(&entries),
        recipes: recipes
            .iter()
            .map(|(id, recipe)| ListSource {
                id: *id,
                title: recipe.title.clone(),
                servings: recipe.servings,
            })
            .collect(),
    };
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_ld_is_chosen_only_when_asked_for() {
        let ask = |accept: &str| {
            wants_json_ld(
                &actix_web::test::TestRequest::default()
                    .insert_header((header::ACCEPT, accept))
                    .to_http_request(),
            )
        };
        assert!(ask(JSON_LD));
        assert!(ask("text/html, application/ld+json;q=0.9"));
        assert!(!ask(protocol::wire::JSON));
        assert!(!ask("*/*"));
    }
}
