//! HTTP handlers by resource: tasks (submission, snapshot and long-poll, cancellation), recipes,
//! operations; and the routing that every resource shares.

use actix_web::{HttpResponse, web};

use crate::error::ApiError;

pub mod admin;
pub mod ops;
pub mod recipes;
pub mod tasks;

/// Registers the routes of tasks, recipes and operations; startup adds the socket, the problem
/// pages and the AsyncAPI document.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/scrape/async", "POST").route(web::post().to(tasks::submit)))
        .service(
            resource("/task/{task_id}", "GET, DELETE")
                .route(web::get().to(tasks::get_task))
                .route(web::delete().to(tasks::cancel_task)),
        )
        .service(resource("/recipes", "GET").route(web::get().to(recipes::list_recipes)))
        .service(resource("/recipes/{recipe_id}", "GET").route(web::get().to(recipes::get_recipe)))
        .service(resource("/shopping-list", "POST").route(web::post().to(recipes::shopping_list)))
        .service(resource("/healthz", "GET").route(web::get().to(ops::healthz)))
        .service(resource("/readyz", "GET").route(web::get().to(ops::readyz)))
        .service(resource("/metrics", "GET").route(web::get().to(ops::metrics)))
        .service(resource("/openapi.json", "GET").route(web::get().to(ops::openapi)));
}

/// A resource that answers other methods than `allow` with 405 and `Allow` (without it, actix
/// hands them to the app's default service, the 404 for unknown paths).
pub fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow })
    }))
}

/// The answer for unknown paths: a 404 problem document.
///
/// # Errors
/// Always [`ApiError::NotFound`].
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound("there is no such endpoint; see /openapi.json"))
}
