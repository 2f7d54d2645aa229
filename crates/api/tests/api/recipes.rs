//! `GET /recipes/{id}` (JSON and JSON-LD) and `GET /recipes` (newest first, by cursor).

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
    let ld = app
        .http
        .get(&url)
        .bearer_auth(&owner.token)
        .header("accept", "application/ld+json")
        .send()
        .await
        .unwrap();
    let foreign = app.http.get(&url).bearer_auth(&stranger.token).send().await.unwrap();

    assert_eq!(json["id"], recipe_id.to_string());
    assert_eq!(json["task_id"], task);
    assert_eq!(json["title"], "Spaghetti Carbonara");
    assert_eq!(json["ingredients"][0]["name"], "Spaghetti");
    assert_eq!(ld.headers()["content-type"], "application/ld+json");
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
