//! Saved recipes: a user's own, by id or page by page, and the cache shared by all users.

use std::time::Duration;

use protocol::{Language, Recipe, RecipeId, TaskId, TikTokUrl, UserId};
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{RecipeRow, Store, StoreError, video_key};

/// `sqlx::query_as!` into [`RawRecipeRow`]s: the columns are written once, between `$head`
/// and `$tail` (the query macros take string literals only, or literals joined with `+`).
macro_rules! query_recipe_rows {
    ($head:literal, $tail:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            RawRecipeRow,
            $head + r#" id, task_id, data AS "data: Json<Recipe>", created_at "# + $tail
            $(, $arg)*
        )
    };
}

/// A recipe row as decoded, before its ids are typed.
struct RawRecipeRow {
    id: Uuid,
    task_id: Uuid,
    data: Json<Recipe>,
    created_at: OffsetDateTime,
}

impl From<RawRecipeRow> for RecipeRow {
    fn from(row: RawRecipeRow) -> Self {
        Self {
            id: RecipeId::from_uuid(row.id),
            task_id: TaskId::from_uuid(row.task_id),
            recipe: row.data.0,
            created_at: row.created_at,
        }
    }
}

impl Store {
    /// A recipe, only if `owner` owns it.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn recipe_for_owner(
        &self,
        id: RecipeId,
        owner: UserId,
    ) -> Result<Option<RecipeRow>, StoreError> {
        let row = query_recipe_rows!(
            "SELECT",
            "FROM recipes WHERE id = $1 AND owner = $2",
            id.as_uuid(),
            owner.as_uuid()
        )
        .fetch_optional(self.db())
        .await?;
        Ok(row.map(RecipeRow::from))
    }

    /// Those of `ids` that `owner` owns, in no particular order; foreign and unknown ids are
    /// simply absent, so the caller cannot tell them apart.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn recipes_for_owner(
        &self,
        ids: &[RecipeId],
        owner: UserId,
    ) -> Result<Vec<RecipeRow>, StoreError> {
        let ids: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
        let rows = query_recipe_rows!(
            "SELECT",
            "FROM recipes WHERE owner = $1 AND id = ANY($2)",
            owner.as_uuid(),
            &ids[..]
        )
        .fetch_all(self.db())
        .await?;
        Ok(rows.into_iter().map(RecipeRow::from).collect())
    }

    /// `owner`'s recipes, newest first, starting after `before` (the last id of the previous page).
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn list_recipes(
        &self,
        owner: UserId,
        before: Option<RecipeId>,
        limit: u32,
    ) -> Result<Vec<RecipeRow>, StoreError> {
        let rows = query_recipe_rows!(
            "SELECT",
            "FROM recipes WHERE owner = $1 AND ($2::uuid IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
            owner.as_uuid(),
            before.map(|b| b.as_uuid()),
            i64::from(limit)
        )
        .fetch_all(self.db())
        .await?;
        Ok(rows.into_iter().map(RecipeRow::from).collect())
    }

    /// The newest recipe extracted for this video and language within `freshness`, from any
    /// user's task: the cache that spares a second Apify and LLM call. Only the extracted
    /// content is reused; the caller saves it as a new recipe of its own task.
    ///
    /// # Errors
    /// [`StoreError`] on database failure.
    pub async fn cached_recipe(
        &self,
        url: &TikTokUrl,
        language: &Language,
        freshness: Duration,
    ) -> Result<Option<Recipe>, StoreError> {
        let data = sqlx::query_scalar!(
            r#"SELECT data AS "data: Json<Recipe>" FROM recipes WHERE video_key = $1 AND language = $2
                 AND created_at > now() - make_interval(secs => $3)
               ORDER BY created_at DESC LIMIT 1"#,
            video_key(url),
            language.as_str(),
            freshness.as_secs_f64()
        )
        .fetch_optional(self.db())
        .await?;
        Ok(data.map(|data| data.0))
    }
}
