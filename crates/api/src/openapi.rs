//! The OpenAPI 3.1 document served at `/openapi.json`.
//!
//! Hand-built with `serde_json` rather than generated with utoipa: the wire types live in the
//! `protocol` crate, which stays free of web-framework derives, and the document is small. The
//! unit tests below keep it honest: every route the router serves is described, and the example
//! messages are real serializations of the protocol types.

use protocol::{RecipeId, TaskId, TaskUpdate};
use serde_json::{Value, json};

fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    })
}

fn task_id_param() -> Value {
    json!({"name": "task_id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}})
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

fn schemas() -> Value {
    json!({
        "ScrapeRequest": {
            "type": "object",
            "required": ["url", "language"],
            "properties": {
                "url": {"type": "string", "description": "A TikTok video link (www/m/vm/vt.tiktok.com).",
                        "examples": ["https://www.tiktok.com/@chef/video/7301234567890123456"]},
                "language": {"type": "string", "description": "ISO 639-1 code, optional region (de, pt-BR).",
                             "examples": ["de"]}
            }
        },
        "TaskUpdate": {
            "type": "object",
            "description": "Both the socket message and the GET /task/{id} snapshot. `status` is always a state word; the human text is in `current_status` and `message`.",
            "required": ["type", "task_id", "seq", "status", "step", "total_steps", "timestamp"],
            "properties": {
                "type": {"type": "string", "enum": ["progress", "completion", "error"]},
                "task_id": {"type": "string", "format": "uuid"},
                "seq": {"type": "integer", "minimum": 1, "description": "Per-task sequence number, 1, 2, 3, ... without gaps."},
                "status": {"type": "string", "enum": ["PENDING", "PROGRESS", "SUCCESS", "FAILURE"]},
                "step": {"type": "integer", "minimum": 0, "maximum": 5},
                "total_steps": {"type": "integer", "const": 5},
                "current_status": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "string"},
                "recipe_id": {"type": "string", "format": "uuid", "description": "SUCCESS only."},
                "recipe_name": {"type": "string", "description": "SUCCESS only."},
                "error": {"type": "string", "description": "FAILURE only; `cancelled` after DELETE /task/{id}."},
                "timestamp": {"type": "number", "description": "Seconds since the Unix epoch."}
            },
            "examples": [example_update()]
        },
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details.",
            "required": ["type", "title", "status"],
            "properties": {
                "type": {"type": "string", "format": "uri-reference", "examples": ["/problems/invalid-url"]},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"}
            }
        },
        "Ingredient": {
            "type": "object",
            "description": "One ingredient line: `raw` as written, the rest parsed from it. Fields after `note` are absent when empty.",
            "required": ["raw", "name"],
            "properties": {
                "raw": {"type": "string", "examples": ["125g/4½oz butter, diced"]},
                "quantity": {"type": ["number", "null"], "description": "The amount; the lower end of a range."},
                "unit": {"type": ["string", "null"], "description": "Canonical unit code (g, ml, tsp, tbsp, cup, piece, clove, ...)."},
                "name": {"type": "string", "description": "The food as on a shopping list."},
                "note": {"type": ["string", "null"], "description": "Preparation and comment together."},
                "quantity_max": {"type": "number", "description": "The upper end of a range (2-3)."},
                "unit_text": {"type": "string", "description": "The unit as written (EL, c, Stk.)."},
                "size": {"type": "string"},
                "preparation": {"type": "string"},
                "comment": {"type": "string", "description": "Neither name nor preparation: for garnish, optional, or shallots."},
                "alt": {"$ref": "#/components/schemas/Measure"}
            }
        },
        "Measure": {
            "type": "object",
            "description": "The second measure of a metric/imperial pair.",
            "required": ["quantity"],
            "properties": {
                "quantity": {"type": "number"},
                "quantity_max": {"type": "number"},
                "unit": {"type": ["string", "null"]},
                "unit_text": {"type": "string"}
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
                        "id": {"type": "string", "format": "uuid"},
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
                "recipes": {"type": "array", "items": {"type": "string", "format": "uuid"},
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
                        "id": {"type": "string", "format": "uuid"},
                        "title": {"type": "string"},
                        "servings": {"type": "integer"}
                    }
                }}
            }
        },
        "Recipe": {
            "type": "object",
            "required": ["id", "task_id", "created_at", "title", "ingredients", "steps", "tags", "source", "language"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "task_id": {"type": "string", "format": "uuid"},
                "created_at": {"type": "string", "format": "date-time"},
                "title": {"type": "string"},
                "description": {"type": ["string", "null"]},
                "servings": {"type": ["integer", "null"]},
                "prep_minutes": {"type": ["integer", "null"]},
                "cook_minutes": {"type": ["integer", "null"]},
                "total_minutes": {"type": ["integer", "null"]},
                "ingredients": {"type": "array", "items": {"$ref": "#/components/schemas/Ingredient"}},
                "steps": {"type": "array", "items": {"type": "string"}},
                "tags": {"type": "array", "items": {"type": "string"}},
                "source": {
                    "type": "object",
                    "required": ["url"],
                    "properties": {
                        "url": {"type": "string"},
                        "video_id": {"type": ["string", "null"]},
                        "author": {"type": ["string", "null"]}
                    }
                },
                "cover_url": {"type": ["string", "null"]},
                "language": {"type": "string"}
            }
        },
        "RecipePage": {
            "type": "object",
            "required": ["items"],
            "properties": {
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/Recipe"}},
                "next_cursor": {"type": "string", "description": "Pass as ?cursor= for the next page; absent on the last page."}
            }
        }
    })
}

/// The whole document.
pub fn document() -> Value {
    let unauthorized = problem_response(
        "No usable access token (missing, expired, wrong signature, audience or algorithm, or an API key).",
    );
    let not_found = problem_response("No such task for this user (a foreign task looks the same).");
    let limited = problem_response("A per-user limit was reached; see Retry-After.");
    let unavailable = problem_response("Redis or Postgres is unavailable; see Retry-After.");
    let update = json!({"application/json": {"schema": {"$ref": "#/components/schemas/TaskUpdate"}}});
    let recipe_id =
        RecipeId::parse("0190f2a4-7c1e-7d2a-9b1e-000000000001").map(|r| r.to_string()).unwrap_or_default();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "recipe-relay gateway",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Turns TikTok cooking-video links into structured recipes. See docs/protocol.md for the socket protocol, resume semantics and close codes."
        },
        "security": [{"bearer": []}],
        "paths": {
            "/scrape/async": {"post": {
                "summary": "Queue a recipe extraction",
                "parameters": [{"name": "Idempotency-Key", "in": "header", "required": false,
                                "description": "Retries with the same key get the same task.",
                                "schema": {"type": "string", "maxLength": 255}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ScrapeRequest"}}}},
                "responses": {
                    "202": {"description": "Queued (or the same task for a retried key, or the user's running task for the same video and language). Body: the task's current snapshot.",
                            "headers": {"Location": {"schema": {"type": "string"}, "description": "/task/{task_id}"}},
                            "content": update},
                    "400": problem_response("The body is not JSON of the expected shape, or the Idempotency-Key is malformed."),
                    "401": unauthorized,
                    "409": problem_response("A request with the same Idempotency-Key is still being processed."),
                    "413": problem_response("The body exceeds api.max_body_bytes."),
                    "415": problem_response("The body is not application/json."),
                    "422": problem_response("The URL is not a TikTok video link (/problems/invalid-url) or the language is not ISO 639-1 (/problems/invalid-language)."),
                    "429": limited,
                    "503": unavailable
                }
            }},
            "/task/{task_id}": {
                "get": {
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
                        "401": unauthorized, "404": not_found, "503": unavailable
                    }
                },
                "delete": {
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
                "summary": "The task's events over a WebSocket",
                "description": "Token in Authorization or ?token=. First message: the current snapshot (or, with ?since=, every event after that seq); then every event in order; closed with 1000 after the terminal one. Close codes: docs/protocol.md.",
                "parameters": [
                    task_id_param(),
                    {"name": "token", "in": "query", "schema": {"type": "string"}, "description": "The access token (for clients that cannot set headers)."},
                    {"name": "since", "in": "query", "schema": {"type": "integer", "minimum": 0}}
                ],
                "responses": {
                    "101": {"description": "Switching protocols; messages are TaskUpdate JSON texts."},
                    "401": unauthorized, "404": not_found, "429": limited, "503": unavailable
                }
            }},
            "/recipes": {"get": {
                "summary": "The user's recipes, newest first",
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}, "description": "next_cursor of the previous page."}
                ],
                "responses": {
                    "200": {"description": "A page.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RecipePage"}}}},
                    "400": problem_response("Bad limit or cursor."),
                    "401": unauthorized, "503": unavailable
                }
            }},
            "/recipes/{recipe_id}": {"get": {
                "summary": "One recipe, as JSON or schema.org JSON-LD, optionally scaled and converted",
                "parameters": [
                    {"name": "recipe_id", "in": "path", "required": true,
                     "schema": {"type": "string", "format": "uuid", "examples": [recipe_id]}},
                    {"name": "servings", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                     "description": "Scale every quantity to this many servings."},
                    {"name": "units", "in": "query", "schema": {"type": "string", "enum": ["metric", "us"]},
                     "description": "Convert volumes, masses and oven temperatures."}
                ],
                "responses": {
                    "200": {"description": "The recipe.", "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Recipe"}},
                        "application/ld+json": {"schema": {"type": "object", "description": "A schema.org Recipe."}}
                    }},
                    "400": problem_response("Bad servings or units."),
                    "401": unauthorized,
                    "404": problem_response("No such recipe for this user."),
                    "503": unavailable
                }
            }},
            "/shopping-list": {"post": {
                "summary": "The ingredients of several of the user's recipes, merged",
                "requestBody": {"required": true, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ShoppingListRequest"}}}},
                "responses": {
                    "200": {"description": "The merged list.", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/ShoppingList"}}}},
                    "400": problem_response("Empty or too long list, a recipe named twice, bad servings or units."),
                    "401": unauthorized,
                    "404": problem_response("A recipe is missing or belongs to another user."),
                    "503": unavailable
                }
            }},
            "/healthz": {"get": {"summary": "Liveness", "security": [], "responses": {"200": {"description": "Up."}}}},
            "/readyz": {"get": {"summary": "Readiness: Redis and Postgres answer", "security": [],
                                "responses": {"200": {"description": "Ready."}, "503": unavailable}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "security": [],
                                 "responses": {"200": {"description": "Text exposition format 0.0.4.",
                                                       "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/openapi.json": {"get": {"summary": "This document", "security": [],
                                      "responses": {"200": {"description": "OpenAPI 3.1."}}}}
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

    #[test]
    fn every_route_is_described() {
        let doc = document();
        for (path, method) in [
            ("/scrape/async", "post"),
            ("/task/{task_id}", "get"),
            ("/task/{task_id}", "delete"),
            ("/ws/{task_id}", "get"),
            ("/recipes", "get"),
            ("/recipes/{recipe_id}", "get"),
            ("/shopping-list", "post"),
            ("/healthz", "get"),
            ("/readyz", "get"),
            ("/metrics", "get"),
            ("/openapi.json", "get"),
        ] {
            assert!(doc["paths"][path][method].is_object(), "{method} {path}");
        }
        assert_eq!(doc["openapi"], "3.1.0");
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        for reference in text.split("\"$ref\":\"").skip(1) {
            let target = reference.split('"').next().unwrap();
            let name = target.trim_start_matches("#/components/schemas/");
            assert!(doc["components"]["schemas"][name].is_object(), "dangling {target}");
        }
    }

    #[test]
    fn the_example_is_a_real_message_with_every_required_field() {
        let doc = document();
        let schema = &doc["components"]["schemas"]["TaskUpdate"];
        let example = &schema["examples"][0];
        for field in schema["required"].as_array().unwrap() {
            assert!(example.get(field.as_str().unwrap()).is_some(), "example lacks {field}");
        }
        assert_eq!(example["status"], "PROGRESS");
    }
}
