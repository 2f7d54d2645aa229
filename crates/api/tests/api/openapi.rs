//! `/openapi.json` against the real wire: the bodies the gateway sends conform to the schemas it
//! publishes (derived from the protocol types), and `MAIN_DOMAIN` shows up in `servers`,
//! `Location`, problem `type` URIs and the problem pages they point to.

use protocol::wire::{PROBLEM_JSON, problems};
use protocol::{Ingredient, Measure, Problem, RecipeId, Step, TaskId, TaskUpdate};
use serde_json::{Value, json};

use crate::helpers::{TestUser, spawn_app, spawn_app_with, video_url};

/// Follows `$ref`s to the schema they name.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(target) => {
            let name = target.trim_start_matches("#/components/schemas/");
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// The JSON type names a schema allows (`type` as a word or a list; absent allows any).
fn allowed_types(schema: &Value) -> Vec<&str> {
    match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Where `value` departs from `schema`: keys the schema does not know (a field the document
/// would not show), required keys missing, types that differ, values outside an enum. Enough
/// of JSON Schema for the shapes serde writes; `oneOf`/`allOf` are followed.
fn departures(doc: &Value, schema: &Value, value: &Value, at: &str) -> Vec<String> {
    let schema = resolve(doc, schema);
    let mut found = Vec::new();
    if let Some(parts) = schema["allOf"].as_array() {
        // Each part may describe some of the keys: a key is known if any part knows it.
        let mut merged = json!({"type": "object", "properties": {}, "required": []});
        for part in parts {
            let part = resolve(doc, part);
            if let Some(props) = part["properties"].as_object() {
                merged["properties"].as_object_mut().unwrap().extend(props.clone());
            }
            if let Some(required) = part["required"].as_array() {
                merged["required"].as_array_mut().unwrap().extend(required.clone());
            }
        }
        return departures(doc, &merged, value, at);
    }
    if let Some(options) = schema["oneOf"].as_array() {
        if options.iter().all(|o| !departures(doc, o, value, at).is_empty()) {
            found.push(format!("{at}: {value} matches none of oneOf"));
        }
        return found;
    }
    let types = allowed_types(schema);
    let actual = type_of(value);
    let fits =
        types.is_empty() || types.contains(&actual) || (actual == "integer" && types.contains(&"number"));
    if !fits {
        found.push(format!("{at}: {actual}, the schema says {types:?}"));
        return found;
    }
    if let Some(options) = schema["enum"].as_array()
        && !options.contains(value)
    {
        found.push(format!("{at}: {value} is not one of {options:?}"));
    }
    match value {
        Value::Object(fields) => {
            let properties = schema["properties"].as_object();
            for (key, field) in fields {
                match properties.and_then(|p| p.get(key)) {
                    Some(property) => found.extend(departures(doc, property, field, &format!("{at}.{key}"))),
                    None => found.push(format!("{at}.{key}: not in the schema")),
                }
            }
            for key in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                if !fields.contains_key(key) {
                    found.push(format!("{at}.{key}: required, missing"));
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                found.extend(departures(doc, &schema["items"], item, &format!("{at}[{i}]")));
            }
        }
        _ => {}
    }
    found
}

fn assert_conforms(doc: &Value, name: &str, value: &Value) {
    let schema = json!({"$ref": format!("#/components/schemas/{name}")});
    let found = departures(doc, &schema, value, name);
    assert!(found.is_empty(), "{name} departs from its schema: {found:#?}\nvalue: {value}");
}

async fn document(app: &crate::helpers::TestApp) -> Value {
    let response = app.http.get(app.url("/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// An update with every optional field set, so every key serde can write is in it.
fn full_update() -> TaskUpdate {
    let mut update = TaskUpdate::progress(TaskId::new(), Step::Extracting, Some("details".into()));
    update.seq = 7;
    update.current_status = Some("Extracting".into());
    update.message = Some("Reading the caption".into());
    update.recipe_id = Some(RecipeId::new());
    update.recipe_name = Some("Carbonara".into());
    update.error = Some("cancelled".into());
    update
}

/// An ingredient with every optional field set.
fn full_ingredient() -> Ingredient {
    Ingredient {
        raw: "125g/4½oz butter, diced".into(),
        quantity: Some(125.0),
        unit: Some("g".into()),
        name: "butter".into(),
        note: Some("diced".into()),
        quantity_max: Some(150.0),
        unit_text: Some("g".into()),
        size: Some("large".into()),
        preparation: Some("diced".into()),
        comment: Some("cold".into()),
        alt: Some(Measure {
            quantity: 4.5,
            quantity_max: Some(5.0),
            unit: Some("oz".into()),
            unit_text: Some("oz".into()),
        }),
    }
}

#[test]
fn the_checker_sees_a_field_the_schema_lacks() {
    // Arrange: the derived schema of today's TaskUpdate, and a message with one more field.
    let doc = api::openapi::document(None);
    let mut message = serde_json::to_value(full_update()).unwrap();
    message["eta_seconds"] = json!(12);

    let found = departures(&doc, &json!({"$ref": "#/components/schemas/TaskUpdate"}), &message, "TaskUpdate");

    // A field added to the struct would be in the derived schema; one the schema lacks is caught.
    assert_eq!(found, ["TaskUpdate.eta_seconds: not in the schema"]);
}

#[tokio::test]
async fn every_field_serde_writes_is_in_the_served_schemas() {
    // Arrange: a stored recipe with every optional field set, and a task of its owner.
    let app = spawn_app().await;
    let owner = TestUser::new();
    let doc = document(&app).await;
    let submitted: Value = app.start_task(&owner, "1").await;
    let mut saved = crate::helpers::recipe("Carbonara", &video_url("1"));
    saved.description = Some("Roman".into());
    saved.servings = Some(2);
    saved.prep_minutes = Some(5);
    saved.cook_minutes = Some(10);
    saved.total_minutes = Some(15);
    saved.cover_url = Some("https://p16.tiktokcdn.com/cover.jpg".into());
    saved.tags = vec!["pasta".into()];
    saved.source.author = Some("chef".into());
    saved.source.video_id = Some("1".into());
    saved.ingredients = vec![full_ingredient()];
    let recipe_id = app.worker().complete_with(&saved).await;

    // Act: real answers of the gateway.
    let served: Value = app
        .http
        .get(app.url(&format!("/recipes/{recipe_id}")))
        .bearer_auth(&owner.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let page: Value = app
        .http
        .get(app.url("/recipes"))
        .bearer_auth(&owner.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refused = app.submit(&owner, &json!({"url": video_url("2"), "language": "deutsch!"})).await;
    let problem: Value = refused.json().await.unwrap();

    // Assert: every key is described, with its type; the protocol values with every field too.
    assert_conforms(&doc, "TaskUpdate", &submitted);
    assert_conforms(&doc, "SavedRecipe", &served);
    assert_conforms(&doc, "RecipePage", &page);
    assert_conforms(&doc, "Problem", &problem);
    assert_conforms(&doc, "TaskUpdate", &serde_json::to_value(full_update()).unwrap());
    assert_conforms(&doc, "Recipe", &serde_json::to_value(&saved).unwrap());
    let with_detail =
        Problem { kind: "/problems/x".into(), title: "t".into(), status: 400, detail: Some("d".into()) };
    assert_conforms(&doc, "Problem", &serde_json::to_value(with_detail).unwrap());
    assert_eq!(served["ingredients"][0]["alt"]["unit"], "oz", "the fully set ingredient was served");
}

#[tokio::test]
async fn main_domain_makes_servers_location_and_problem_types_absolute() {
    let app = spawn_app_with(&[("MAIN_DOMAIN", "recipes.example.com")]).await;
    let user = TestUser::new();

    let doc = document(&app).await;
    let accepted = app.submit(&user, &json!({"url": video_url("1"), "language": "es-419"})).await;
    let location = accepted.headers()["location"].to_str().unwrap().to_owned();
    let task: Value = accepted.json().await.unwrap();
    let refused = app.submit(&user, &json!({"url": video_url("2"), "language": "en--US"})).await;
    let problem: Value = refused.json().await.unwrap();
    let unauthenticated: Value =
        app.http.get(app.url("/recipes")).send().await.unwrap().json().await.unwrap();

    assert_eq!(doc["servers"][0]["url"], "https://recipes.example.com");
    assert_eq!(location, format!("https://recipes.example.com/task/{}", task["task_id"].as_str().unwrap()));
    assert_eq!(
        problem["type"],
        format!("https://recipes.example.com{}", problems::type_uri(problems::INVALID_LANGUAGE))
    );
    assert_eq!(
        unauthenticated["type"],
        format!("https://recipes.example.com{}", problems::type_uri(problems::UNAUTHORIZED))
    );
}

#[tokio::test]
async fn without_main_domain_links_stay_relative() {
    let app = spawn_app().await;
    let user = TestUser::new();

    let doc = document(&app).await;
    let accepted = app.submit(&user, &json!({"url": video_url("1"), "language": "de"})).await;
    let location = accepted.headers()["location"].to_str().unwrap().to_owned();

    assert_eq!(doc["servers"][0]["url"], "/");
    assert!(location.starts_with("/task/"), "{location}");
}

#[tokio::test]
async fn every_problem_type_has_a_page_and_unknown_ones_get_404() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let slugs = doc["paths"]["/problems/{slug}"]["get"]["parameters"][0]["schema"]["enum"].clone();

    for slug in slugs.as_array().unwrap() {
        let slug = slug.as_str().unwrap();
        let response = app.http.get(app.url(&format!("/problems/{slug}"))).send().await.unwrap();
        assert_eq!(response.status(), 200, "{slug}");
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{slug}");
        let page = response.text().await.unwrap();
        assert!(page.contains(&format!("<code>{slug}</code>")), "{slug}: {page}");
    }
    let unknown = app.http.get(app.url("/problems/no-such-thing")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert!(slugs.as_array().unwrap().contains(&json!("invalid-language")));
}

#[tokio::test]
async fn the_socket_document_is_served_with_the_schemas_of_the_openapi_document() {
    let app = spawn_app().await;

    let openapi = document(&app).await;
    let response = app.http.get(app.url("/asyncapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let asyncapi: Value = response.json().await.unwrap();

    assert_eq!(asyncapi["asyncapi"], "3.0.0");
    assert_eq!(asyncapi["channels"]["task"]["address"], "/ws/{task_id}");
    assert_eq!(
        asyncapi["components"]["schemas"]["TaskUpdate"],
        openapi["components"]["schemas"]["TaskUpdate"]
    );
}

#[tokio::test]
async fn a_known_path_with_another_method_is_405_with_allow_and_unknown_paths_stay_404() {
    let app = spawn_app().await;
    let trace = |path: &str| app.http.request(reqwest::Method::TRACE, app.url(path)).send();

    let healthz = trace("/healthz").await.unwrap();
    let task = app.http.put(app.url(&format!("/task/{}", TaskId::new()))).send().await.unwrap();
    let unknown = trace("/nope").await.unwrap();

    assert_eq!(healthz.status(), 405);
    assert_eq!(healthz.headers()["allow"], "GET");
    assert_eq!(healthz.headers()["content-type"], PROBLEM_JSON);
    assert_eq!(task.status(), 405);
    assert_eq!(task.headers()["allow"], "GET, DELETE");
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn shopping_list_servings_may_be_written_as_a_whole_float_but_not_a_fraction() {
    let app = spawn_app().await;
    let user = TestUser::new();
    let list = |servings: Value| {
        let body = json!({"recipes": [{"id": RecipeId::new().to_string(), "servings": servings}]});
        app.http.post(app.url("/shopping-list")).bearer_auth(&user.token).json(&body).send()
    };

    let whole = list(json!(21.0)).await.unwrap();
    let fraction = list(json!(2.5)).await.unwrap();

    assert_eq!(whole.status(), 404, "21.0 is read as 21; the unknown recipe is what is refused");
    assert_eq!(fraction.status(), 400);
}
