//! The OpenAPI 3.1 document served at `/openapi.json`.
//!
//! The schemas of the wire types are derived from the `protocol` structs themselves (utoipa's
//! `ToSchema`, behind protocol's `openapi` feature), so a field added to `TaskUpdate` or
//! `Recipe` appears here without touching this file, and serde's attributes (renames, skipped
//! `None`s) are the single truth. Only the shapes owned by other crates (the shopping list, the
//! recipe page) are written by hand. The paths stay hand-written JSON: they read like the
//! reference they are. Every operation has an `operationId` named like the client's methods.
//!
//! The admin API (`/admin/api/...`, [`crate::routes::admin`]) is left out on purpose: it is off
//! unless `admin.enabled`, takes an operator's token instead of a user's, and is not part of
//! the contract with the apps. `scripts/check-openapi` runs schemathesis with a user token
//! against a gateway with the console off, so those operations could not be checked there;
//! docs/operations.md ("Admin console") documents them.

use protocol::{
    Ingredient, Measure, MessageType, Problem, Recipe, RecipeId, RecipeSource, ScrapeRequest, TaskId,
    TaskState, TaskUpdate,
};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use actix_web::{HttpResponse, web};

use crate::problems;
use crate::state::AppState;

/// Adds `T`'s schema and every schema it refers to.
fn derive<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
}

/// The component schemas derived from the protocol types, by name.
pub fn derived_schemas() -> Map<String, Value> {
    let mut schemas = Vec::new();
    derive::<ScrapeRequest>(&mut schemas);
    derive::<TaskUpdate>(&mut schemas);
    derive::<TaskState>(&mut schemas);
    derive::<MessageType>(&mut schemas);
    derive::<Problem>(&mut schemas);
    derive::<Recipe>(&mut schemas);
    derive::<Ingredient>(&mut schemas);
    derive::<Measure>(&mut schemas);
    derive::<RecipeSource>(&mut schemas);
    derive::<TaskId>(&mut schemas);
    derive::<RecipeId>(&mut schemas);
    schemas
        .into_iter()
        // A utoipa schema is plain data; serializing it cannot fail.
        .map(|(name, schema)| (name, serde_json::to_value(schema).unwrap_or_default()))
        .collect()
}

fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    })
}

fn task_id_param() -> Value {
    json!({"name": "task_id", "in": "path", "required": true, "schema": {"$ref": "#/components/schemas/TaskId"}})
}

fn example_update() -> Value {
    let mut update = TaskUpdate::progress(
        TaskId::parse("0190f2a4-7c1e-7d2a-9b1e-3c4d5e6f7a8b").unwrap_or_default(),
        protocol::Step::Extracting,
        Some("Using OpenAI to analyze frames and text".into()),
    );
    update.seq = 4;
    update.timestamp = 1_635_724_800.0;
    serde_json::to_value(update).unwrap_or_default()
}

/// The schemas of types that live outside `protocol` (the api's and the ingredients crate's).
fn hand_schemas() -> Value {
    json!({
        "SavedRecipe": {
            "description": "A recipe as served: its ids and save time around the recipe's fields.",
            "allOf": [
                {"$ref": "#/components/schemas/Recipe"},
                {"type": "object", "required": ["id", "task_id", "created_at"], "properties": {
                    "id": {"$ref": "#/components/schemas/RecipeId"},
                    "task_id": {"$ref": "#/components/schemas/TaskId"},
                    "created_at": {"type": "string", "format": "date-time"}
                }}
            ]
        },
        "RecipePage": {
            "type": "object",
            "required": ["items"],
            "properties": {
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/SavedRecipe"}},
                "next_cursor": {"type": "string", "description": "Pass as ?cursor= for the next page; absent on the last page."}
            }
        },
        "ShoppingListRequest": {
            "type": "object",
            "required": ["recipes"],
            "additionalProperties": false,
            "properties": {
                "recipes": {"type": "array", "minItems": 1, "maxItems": 50, "items": {
                    "type": "object",
                    "required": ["id"],
                    "additionalProperties": false,
                    "properties": {
                        "id": {"$ref": "#/components/schemas/RecipeId"},
                        "servings": {"type": "integer", "minimum": 1, "maximum": 100}
                    }
                }},
                "units": {"type": "string", "enum": ["metric", "us"]}
            }
        },
        "ShoppingItem": {
            "type": "object",
            "description": "One merged item: the same food in compatible units summed.",
            "required": ["name", "text", "recipes"],
            "properties": {
                "name": {"type": "string", "examples": ["eggs"]},
                "quantity": {"type": ["number", "null"]},
                "unit": {"type": ["string", "null"], "description": "Canonical unit code."},
                "text": {"type": "string", "description": "The item as one line.", "examples": ["5 eggs"]},
                "recipes": {"type": "array", "items": {"$ref": "#/components/schemas/RecipeId"},
                            "description": "The recipes it comes from."}
            }
        },
        "ShoppingList": {
            "type": "object",
            "required": ["items", "recipes"],
            "properties": {
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/ShoppingItem"}},
                "recipes": {"type": "array", "items": {
                    "type": "object",
                    "required": ["id", "title"],
                    "properties": {
                        "id": {"$ref": "#/components/schemas/RecipeId"},
                        "title": {"type": "string"},
                        "servings": {"type": "integer"}
                    }
                }}
            }
        }
    })
}

fn schemas() -> Value {
    let mut all = derived_schemas();
    if let Value::Object(hand) = hand_schemas() {
        all.extend(hand);
    }
    if let Some(update) = all.get_mut("TaskUpdate").and_then(Value::as_object_mut) {
        update.insert("examples".into(), json!([example_update()]));
    }
    Value::Object(all)
}

/// Where the gateway is reached: `https://{MAIN_DOMAIN}` when set, else the origin the
/// document was fetched from (the OpenAPI default).
fn servers(main_domain: Option<&str>) -> Value {
    match main_domain {
        Some(domain) => json!([{"url": format!("https://{domain}"), "description": "The public gateway"}]),
        None => json!([{"url": "/", "description": "This gateway"}]),
    }
}

/// The whole document, with `servers` from `main_domain`.
pub fn document(main_domain: Option<&str>) -> Value {
    let mut doc = operations(main_domain);
    add_edge_answers(&mut doc);
    doc
}

/// The answers the gateway's edge gives before any handler runs (`http_edge`): 429 when a user
/// has `api.max_requests_per_user` requests in flight, on every authenticated operation, and 408
/// when a request body does not arrive within `api.body_timeout_secs`.
fn add_edge_answers(doc: &mut Value) {
    let limited = problem_response(
        "A per-user limit was reached (requests in flight, or the operation's own); see Retry-After.",
    );
    let slow = problem_response(
        "The request body did not arrive within api.body_timeout_secs; the connection is closed.",
    );
    let Some(paths) = doc["paths"].as_object_mut() else { return };
    for operation in paths.values_mut().filter_map(Value::as_object_mut).flat_map(|item| item.values_mut()) {
        let public = operation.get("security").is_some_and(|s| s == &json!([]));
        let has_body = operation.get("requestBody").is_some();
        let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else { continue };
        if !public {
            responses.entry("429").or_insert_with(|| limited.clone());
        }
        if has_body {
            responses.entry("408").or_insert_with(|| slow.clone());
        }
    }
}

/// The AsyncAPI 3.0 document of the task socket, served at `/asyncapi.json`: the one channel
/// `/ws/{task_id}` and its one message, a `TaskUpdate` JSON text, with the same derived schemas
/// as `/openapi.json` (so the two cannot disagree).
pub fn asyncapi(main_domain: Option<&str>) -> Value {
    let mut doc = json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "recipe-relay task socket",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "GET /ws/{task_id} upgrades to a WebSocket (token in Authorization or ?token=; ?since=<seq> resumes). The gateway sends the current snapshot (or every event after since), then every event in order, and closes with 1000 after the terminal one. Client messages are ignored except pings. Close codes, resume and ordering rules: docs/protocol.md."
        },
        "channels": {
            "task": {
                "address": "/ws/{task_id}",
                "parameters": {"task_id": {"description": "The task id from POST /scrape/async (a UUID)."}},
                "messages": {"taskUpdate": {"$ref": "#/components/messages/TaskUpdate"}}
            }
        },
        "operations": {
            "watchTask": {
                "action": "receive",
                "channel": {"$ref": "#/channels/task"},
                "summary": "Every event of the task, in seq order without gaps.",
                "messages": [{"$ref": "#/channels/task/messages/taskUpdate"}]
            }
        },
        "components": {
            "messages": {"TaskUpdate": {
                "name": "TaskUpdate",
                "contentType": "application/json",
                "summary": "One event of the task: progress, completion or error.",
                "payload": {"$ref": "#/components/schemas/TaskUpdate"}
            }},
            "schemas": schemas()
        }
    });
    if let Some(domain) = main_domain {
        doc["servers"] = json!({"public": {"host": domain, "protocol": "wss"}});
    }
    doc
}

/// `GET /asyncapi.json`: the socket's AsyncAPI document.
pub async fn asyncapi_handler(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(asyncapi(state.api.main_domain.as_deref()))
}

/// The paths and components, as written.
fn operations(main_domain: Option<&str>) -> Value {
    let unauthorized = problem_response(
        "No usable access token (missing, expired, wrong signature, audience or algorithm, or an API key).",
    );
    let not_found = problem_response("No such task for this user (a foreign task looks the same).");
    let limited = problem_response("A per-user limit was reached; see Retry-After.");
    let unavailable = problem_response("Redis or Postgres is unavailable; see Retry-After.");
    let retry_after =
        json!({"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}});
    let update = json!({"application/json": {"schema": {"$ref": "#/components/schemas/TaskUpdate"}}});
    let recipe_id =
        RecipeId::parse("0190f2a4-7c1e-7d2a-9b1e-000000000001").map(|r| r.to_string()).unwrap_or_default();
    let slugs: Vec<&str> = problems::SLUGS.iter().map(|p| p.slug).collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "recipe-relay gateway",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Turns TikTok cooking-video links into structured recipes. The socket's messages are TaskUpdate JSON texts (the same schema as the GET /task/{task_id} body); docs/protocol.md has the socket protocol, resume semantics and close codes."
        },
        "servers": servers(main_domain),
        "security": [{"bearer": []}],
        "paths": {
            "/scrape/async": {"post": {
                "operationId": "submitScrape",
                "summary": "Queue a recipe extraction",
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": false,
                                "description": "Retries with the same key get the same task.",
                                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ScrapeRequest"}}}},
                "responses": {
                    "202": {"description": "Queued (or the same task for a retried key, or the user's running task for the same video and language). Body: the task's current snapshot.",
                            "headers": {"Location": {"schema": {"type": "string", "format": "uri-reference"},
                                                     "description": "/task/{task_id}, absolute (https://MAIN_DOMAIN/task/{task_id}) when MAIN_DOMAIN is set."}},
                            "content": update},
                    "400": problem_response("The body is not JSON of the expected shape, or the Idempotency-Key is malformed."),
                    "401": unauthorized,
                    "409": problem_response("A request with the same Idempotency-Key is still being processed."),
                    "413": problem_response("The body exceeds api.max_body_bytes."),
                    "415": problem_response("The body is not application/json."),
                    "422": problem_response("The URL is not a TikTok video link (invalid-url) or the language is not a BCP 47 tag with a known language, script and region (invalid-language)."),
                    "429": {"description": "A per-user limit was reached.", "headers": retry_after.clone(),
                            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
                    "503": unavailable
                }
            }},
            "/task/{task_id}": {
                "get": {
                    "operationId": "getTask",
                    "summary": "The task's snapshot; long-poll with since and wait",
                    "parameters": [
                        task_id_param(),
                        {"name": "since", "in": "query", "schema": {"type": "integer", "minimum": 0},
                         "description": "With wait: answer as soon as there is an event after this seq."},
                        {"name": "wait", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 30},
                         "description": "Seconds to wait for an event after since (at most 30)."},
                        {"name": "If-None-Match", "in": "header", "schema": {"type": "string"},
                         "description": "An ETag from an earlier answer: 304 while the state is unchanged."}
                    ],
                    "responses": {
                        "200": {"description": "The latest event of the task.", "headers": {"ETag": {"schema": {"type": "string"}}}, "content": update},
                        "304": {"description": "Unchanged since the ETag in If-None-Match."},
                        "400": problem_response("since or wait is not a non-negative integer."),
                        "401": unauthorized, "404": not_found, "503": unavailable
                    }
                },
                "delete": {
                    "operationId": "cancelTask",
                    "summary": "Cancel a queued or running task",
                    "parameters": [task_id_param()],
                    "responses": {
                        "200": {"description": "Cancelled: the FAILURE event with error \"cancelled\".", "content": update},
                        "401": unauthorized, "404": not_found,
                        "409": problem_response("The task already finished."),
                        "503": unavailable
                    }
                }
            },
            "/ws/{task_id}": {"get": {
                "operationId": "watchTask",
                "summary": "The task's events over a WebSocket",
                "description": "Token in Authorization or ?token=. Every message is a TaskUpdate JSON text (components/schemas/TaskUpdate). First message: the current snapshot (or, with ?since=, every event after that seq); then every event in order; closed with 1000 after the terminal one. Close codes: docs/protocol.md.",
                "parameters": [
                    task_id_param(),
                    {"name": "token", "in": "query", "schema": {"type": "string"}, "description": "The access token (for clients that cannot set headers)."},
                    {"name": "since", "in": "query", "schema": {"type": "integer", "minimum": 0}}
                ],
                "responses": {
                    "101": {"description": "Switching protocols; every message is a TaskUpdate JSON text.",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TaskUpdate"}}}},
                    "400": problem_response("Not a WebSocket upgrade request, or since is malformed."),
                    "401": unauthorized, "404": not_found, "429": limited, "503": unavailable
                }
            }},
            "/recipes": {"get": {
                "operationId": "listRecipes",
                "summary": "The user's recipes, newest first",
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
                    {"name": "cursor", "in": "query", "schema": {"type": "string", "format": "uuid"},
                     "description": "next_cursor of the previous page (a recipe id)."}
                ],
                "responses": {
                    "200": {"description": "A page.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RecipePage"}}}},
                    "400": problem_response("Bad limit or cursor."),
                    "401": unauthorized, "503": unavailable
                }
            }},
            "/recipes/{recipe_id}": {"get": {
                "operationId": "getRecipe",
                "summary": "One recipe, as JSON or schema.org JSON-LD, optionally scaled and converted",
                "parameters": [
                    {"name": "recipe_id", "in": "path", "required": true,
                     "schema": {"$ref": "#/components/schemas/RecipeId"}, "examples": {"a recipe": {"value": recipe_id}}},
                    {"name": "servings", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                     "description": "Scale every quantity to this many servings."},
                    {"name": "units", "in": "query", "schema": {"type": "string", "enum": ["metric", "us"]},
                     "description": "Convert volumes, masses and oven temperatures."}
                ],
                "responses": {
                    "200": {"description": "The recipe.", "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/SavedRecipe"}},
                        "application/ld+json": {"schema": {"type": "object", "description": "A schema.org Recipe."}}
                    }},
                    "400": problem_response("Bad servings or units."),
                    "401": unauthorized,
                    "404": problem_response("No such recipe for this user."),
                    "503": unavailable
                }
            }},
            "/shopping-list": {"post": {
                "operationId": "shoppingList",
                "summary": "The ingredients of several of the user's recipes, merged",
                "requestBody": {"required": true, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ShoppingListRequest"}}}},
                "responses": {
                    "200": {"description": "The merged list.", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/ShoppingList"}}}},
                    "400": problem_response("Empty or too long list, a recipe named twice, bad servings or units."),
                    "401": unauthorized,
                    "404": problem_response("A recipe is missing or belongs to another user."),
                    "413": problem_response("The body exceeds api.max_body_bytes."),
                    "415": problem_response("The body is not application/json."),
                    "503": unavailable
                }
            }},
            "/problems/{slug}": {"get": {
                "operationId": "getProblem",
                "summary": "What a problem type means and what to do about it",
                "description": "The page a problem document's `type` URI points to.",
                "security": [],
                "parameters": [{"name": "slug", "in": "path", "required": true, "schema": {"type": "string", "enum": slugs}}],
                "responses": {
                    "200": {"description": "A short page.", "content": {"text/html": {"schema": {"type": "string"}}}},
                    "404": problem_response("No such problem type.")
                }
            }},
            "/healthz": {"get": {"operationId": "healthz", "summary": "Liveness", "security": [],
                                 "responses": {"200": {"description": "Up."}}}},
            "/readyz": {"get": {"operationId": "readyz", "summary": "Readiness: Redis and Postgres answer", "security": [],
                                "responses": {"200": {"description": "Ready."}, "503": unavailable}}},
            "/metrics": {"get": {"operationId": "metrics", "summary": "Prometheus metrics of this process (docs/operations.md, Gateway metrics); reads no store", "security": [],
                                 "responses": {"200": {"description": "Text exposition format 0.0.4: the relay_* series, relay_build_info and process_*.",
                                                       "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/asyncapi.json": {"get": {"operationId": "getAsyncApi", "summary": "The task socket's AsyncAPI 3.0 document (its messages are TaskUpdate)", "security": [],
                                       "responses": {"200": {"description": "AsyncAPI 3.0.",
                                                             "content": {"application/json": {"schema": {"type": "object"}}}}}}},
            "/openapi.json": {"get": {"operationId": "getOpenApi", "summary": "This document", "security": [],
                                      "responses": {"200": {"description": "OpenAPI 3.1.",
                                                            "content": {"application/json": {"schema": {"type": "object"}}}}}}}
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                           "description": "A Supabase access token (aud authenticated, sub = the user)."}},
            "schemas": schemas()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPERATIONS: [(&str, &str); 13] = [
        ("/scrape/async", "post"),
        ("/task/{task_id}", "get"),
        ("/task/{task_id}", "delete"),
        ("/ws/{task_id}", "get"),
        ("/recipes", "get"),
        ("/recipes/{recipe_id}", "get"),
        ("/shopping-list", "post"),
        ("/problems/{slug}", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
        ("/asyncapi.json", "get"),
    ];

    #[test]
    fn every_route_is_described_with_a_unique_operation_id() {
        let doc = document(None);
        for (path, method) in OPERATIONS {
            assert!(doc["paths"][path][method].is_object(), "{method} {path}");
        }
        let mut ids = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let id = operation["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path}: operationId"));
                assert!(!ids.contains(&id), "{id} twice");
                ids.push(id);
            }
        }
        assert_eq!(doc["openapi"], "3.1.0");
    }

    #[test]
    fn edge_answers_are_on_every_operation_they_can_happen_on() {
        let doc = document(None);
        assert!(doc["paths"]["/recipes"]["get"]["responses"]["429"].is_object(), "authenticated: 429");
        assert!(doc["paths"]["/healthz"]["get"]["responses"]["429"].is_null(), "public: no per-user limit");
        assert!(doc["paths"]["/shopping-list"]["post"]["responses"]["408"].is_object(), "a body: 408");
        assert!(doc["paths"]["/task/{task_id}"]["get"]["responses"]["408"].is_null(), "no body: no 408");
    }

    #[test]
    fn the_socket_document_names_its_channel_and_message_and_every_reference_resolves() {
        let doc = asyncapi(Some("recipes.example.com"));
        assert_eq!(doc["asyncapi"], "3.0.0");
        assert_eq!(doc["channels"]["task"]["address"], "/ws/{task_id}");
        assert_eq!(doc["servers"]["public"]["host"], "recipes.example.com");
        let text = doc.to_string();
        for reference in text.split("\"$ref\":\"").skip(1) {
            let target = reference.split('"').next().unwrap();
            let mut node = &doc;
            for part in target.trim_start_matches("#/").split('/') {
                node = &node[part];
            }
            assert!(node.is_object(), "dangling {target}");
        }
        assert!(doc["components"]["schemas"]["TaskUpdate"]["properties"]["seq"].is_object());
        assert!(asyncapi(None).get("servers").is_none());
    }

    #[test]
    fn servers_name_the_main_domain_when_set() {
        assert_eq!(document(Some("recipes.example.com"))["servers"][0]["url"], "https://recipes.example.com");
        assert_eq!(document(None)["servers"][0]["url"], "/");
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document(None);
        let text = doc.to_string();
        for reference in text.split("\"$ref\":\"").skip(1) {
            let target = reference.split('"').next().unwrap();
            let name = target.trim_start_matches("#/components/schemas/");
            assert!(doc["components"]["schemas"][name].is_object(), "dangling {target}");
        }
    }

    #[test]
    fn the_example_is_a_real_message_with_every_required_field() {
        let doc = document(None);
        let schema = &doc["components"]["schemas"]["TaskUpdate"];
        let example = &schema["examples"][0];
        for field in schema["required"].as_array().unwrap() {
            assert!(example.get(field.as_str().unwrap()).is_some(), "example lacks {field}");
        }
        assert_eq!(example["status"], "PROGRESS");
    }
}
