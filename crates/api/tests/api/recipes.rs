//! `GET /recipes/{id}` (JSON and JSON-LD) and `GET /recipes` (newest first, by cursor).

use protocol::wire::{JSON, JSON_LD, PROBLEM_JSON};
use serde_json::Value;

use crate::helpers::{TestUser, spawn_app};

#[tokio::test]
async fn a_recipe_is_served_as_json_and_as_schema_org_json_ld_to_its_owner_only() {
    let app = spawn_app().await;
    let (owner, stranger) = (TestUser::new(), TestUser::new());
    let task = app.start_task(&owner, "1").await["task_id"].as_str().unwrap().to_owned();
    let (_, recipe_id) = app.worker().complete("Spaghetti Carbonara").await;
    let url = app.url(&format!("/recipes/{recipe_id}"));

    let json: Value =
        app.http.get(&url).bearer_auth(&owner.token).send().await.unwrap().json().await.unwrap();
    let ld = app.http.get(&url).bearer_auth(&owner.token).header("accept", JSON_LD).send().await.unwrap();
    let foreign = app.http.get(&url).bearer_auth(&stranger.token).send().await.unwrap();

    assert_eq!(json["id"], recipe_id.to_string());
    assert_eq!(json["task_id"], task);
    assert_eq!(json["title"], "Spaghetti Carbonara");
    assert_eq!(json["ingredients"][0]["name"], "Spaghetti");
    assert_eq!(ld.headers()["content-type"], JSON_LD);
    let ld: Value = ld.json().await.unwrap();
    assert_eq!((ld["@type"].as_str(), ld["name"].as_str()), (Some("Recipe"), Some("Spaghetti Carbonara")));
    assert_eq!(ld["totalTime"], "PT25M");
    assert_eq!(foreign.status(), 404);
}

#[tokio::test]
async fn the_recipe_list_is_newest_first_and_paginated_by_cursor() {
    let app = spawn_app().await;
    let (owner, stranger) = (TestUser::new(), TestUser::new());
    let mut titles = Vec::new();
    for (video, title) in [("1", "First"), ("2", "Second"), ("3", "Third")] {
        app.start_task(&owner, video).await;
        app.worker().complete(title).await;
        titles.push(title);
    }
    app.start_task(&stranger, "4").await;
    app.worker().complete("Not yours").await;
    let page = |query: String| {
        let request = app.http.get(app.url(&format!("/recipes{query}"))).bearer_auth(&owner.token);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };

    let first = page("?limit=2".into()).await;
    let cursor = first["next_cursor"].as_str().expect("a next page").to_owned();
    let second = page(format!("?limit=2&cursor={cursor}")).await;

    let names =
        |p: &Value| p["items"].as_array().unwrap().iter().map(|r| r["title"].clone()).collect::<Vec<_>>();
    assert_eq!(names(&first), ["Third", "Second"]);
    assert_eq!(names(&second), ["First"]);
    assert!(second.get("next_cursor").is_none(), "the last page has no cursor");
    let bad = app.http.get(app.url("/recipes?limit=0")).bearer_auth(&owner.token).send().await.unwrap();
    assert_eq!(bad.status(), 400);
}

/// A recipe for `servings` whose ingredient lines are parsed the way the worker parses them.
fn recipe_with(title: &str, servings: u32, lines: &[&str], steps: &[&str]) -> protocol::Recipe {
    let mut recipe = crate::helpers::recipe(title, &crate::helpers::video_url("1"));
    recipe.language = "en".into();
    recipe.servings = Some(servings);
    recipe.ingredients = lines.iter().map(|line| ingredients::parse(line, "en")).collect();
    recipe.steps = steps.iter().map(|s| (*s).to_owned()).collect();
    recipe
}

/// The ingredient whose name is `name`.
fn item<'a>(recipe: &'a Value, name: &str) -> &'a Value {
    let items = recipe["ingredients"].as_array().unwrap();
    items.iter().find(|i| i["name"] == name).unwrap_or_else(|| panic!("no {name} in {items:?}"))
}

#[tokio::test]
async fn a_recipe_is_scaled_to_other_servings_and_converted_in_both_forms() {
    let app = spawn_app().await;
    let owner = TestUser::new();
    app.start_task(&owner, "1").await;
    let saved = recipe_with(
        "Custard",
        2,
        &["4 eggs", "250 ml milk", "2 tablespoons sugar"],
        &["Bake at 350°F for 30 minutes."],
    );
    let recipe_id = app.worker().complete_with(&saved).await;
    let get = |query: &str, accept: &str| {
        let request = app
            .http
            .get(app.url(&format!("/recipes/{recipe_id}{query}")))
            .bearer_auth(&owner.token)
            .header("accept", accept);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };

    let three = get("?servings=3", JSON).await;
    let metric = get("?units=metric", JSON).await;
    let us = get("?units=us", JSON).await;
    let ld = get("?servings=4", JSON_LD).await;
    let as_written = get("", JSON).await;

    assert_eq!(three["servings"], 3);
    assert_eq!(item(&three, "eggs")["quantity"], 6.0, "{three}");
    assert_eq!(item(&three, "milk")["quantity"], 375.0);
    assert_eq!(item(&three, "sugar")["quantity"], 3.0);
    assert!(item(&three, "eggs")["raw"].as_str().unwrap().starts_with("6 "), "the line is re-rendered");
    assert!(metric["steps"][0].as_str().unwrap().contains("175 °C"), "{}", metric["steps"]);
    assert_eq!(item(&us, "milk")["unit"], "cup", "{us}");
    let cups = item(&us, "milk")["quantity"].as_f64().unwrap();
    assert!((1.0..=1.1).contains(&cups), "250 ml is about a cup: {cups}");
    assert_eq!(ld["recipeYield"], "4");
    assert!(ld["recipeIngredient"][0].as_str().unwrap().starts_with("8 "), "{}", ld["recipeIngredient"]);
    assert_eq!(item(&as_written, "eggs")["quantity"], 4.0, "without parameters nothing changes");
    assert_eq!(as_written["steps"][0], "Bake at 350°F for 30 minutes.");
}

#[tokio::test]
async fn bad_servings_and_units_get_a_400_problem() {
    let app = spawn_app().await;
    let owner = TestUser::new();
    app.start_task(&owner, "1").await;
    let (_, recipe_id) = app.worker().complete("Soup").await;
    for (query, why) in [
        ("servings=0", "no servings"),
        ("servings=101", "past the maximum"),
        ("servings=-2", "negative"),
        ("servings=two", "not a number"),
        ("units=imperial", "an unknown system"),
    ] {
        let response = app
            .http
            .get(app.url(&format!("/recipes/{recipe_id}?{query}")))
            .bearer_auth(&owner.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{why}: {query}");
        assert_eq!(response.headers()["content-type"], PROBLEM_JSON, "{why}");
    }
}

#[tokio::test]
async fn a_shopping_list_merges_the_owners_recipes_and_refuses_foreign_ones() {
    let app = spawn_app().await;
    let (owner, stranger) = (TestUser::new(), TestUser::new());
    app.start_task(&owner, "1").await;
    let cake = app
        .worker()
        .complete_with(&recipe_with("Cake", 4, &["3 eggs", "200 g flour", "2 cloves garlic"], &[]))
        .await;
    app.start_task(&owner, "2").await;
    let bread = app
        .worker()
        .complete_with(&recipe_with("Bread", 2, &["1 egg", "0.5 kg flour", "1 tsp garlic"], &[]))
        .await;
    app.start_task(&stranger, "3").await;
    let (_, foreign) = app.worker().complete("Not yours").await;
    let list = |body: Value, user: &TestUser| {
        let request = app.http.post(app.url("/shopping-list")).bearer_auth(&user.token).json(&body);
        async move { request.send().await.unwrap() }
    };

    // Bread for 4 doubles it: 3 + 2 eggs, 200 g + 1 kg flour.
    let response = list(
        serde_json::json!({"recipes": [{"id": cake.to_string()}, {"id": bread.to_string(), "servings": 4}]}),
        &owner,
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let items = body["items"].as_array().unwrap();
    let named = |name: &str| items.iter().filter(|i| i["name"] == name).collect::<Vec<_>>();
    let eggs = named("eggs");
    assert_eq!(eggs.len(), 1, "{items:?}");
    assert_eq!(eggs[0]["quantity"], 5.0);
    assert_eq!(eggs[0]["recipes"].as_array().unwrap().len(), 2, "both recipes are named");
    let flour = named("flour");
    assert_eq!(flour.len(), 1, "{items:?}");
    let grams = match flour[0]["unit"].as_str() {
        Some("kg") => flour[0]["quantity"].as_f64().unwrap() * 1000.0,
        _ => flour[0]["quantity"].as_f64().unwrap(),
    };
    assert_eq!(grams, 1200.0, "{:?}", flour[0]);
    assert_eq!(named("garlic").len(), 2, "cloves and teaspoons stay side by side: {items:?}");
    assert_eq!(body["recipes"][1]["servings"], 4);

    for (body, status, why) in [
        (serde_json::json!({"recipes": [{"id": foreign.to_string()}]}), 404, "a foreign recipe"),
        (
            serde_json::json!({"recipes": [{"id": cake.to_string()}, {"id": foreign.to_string()}]}),
            404,
            "one foreign",
        ),
        (serde_json::json!({"recipes": []}), 400, "an empty list"),
        (serde_json::json!({"recipes": [{"id": cake.to_string()}, {"id": cake.to_string()}]}), 400, "twice"),
        (serde_json::json!({"recipes": [{"id": cake.to_string(), "servings": 0}]}), 400, "no servings"),
        (serde_json::json!({"recipe_ids": [cake.to_string()]}), 400, "an unknown field"),
    ] {
        assert_eq!(list(body, &owner).await.status(), status, "{why}");
    }
}
