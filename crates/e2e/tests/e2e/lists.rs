//! The kitchen side on the real binaries: a recipe scaled and converted, and `relay list`
//! merging two saved recipes into one shopping list.

use e2e::{Stack, bin_dir};
use serde_json::Value;
use uuid::Uuid;

use crate::{PASTA, assert_ordered_success, collect, lang, url};

#[tokio::test]
async fn relay_list_merges_two_saved_recipes_and_the_gateway_scales_them() {
    let stack = Stack::new().await;
    let api = stack.api(0, &[]).await.unwrap();
    let _worker = stack.worker(&[]).await.unwrap();
    let port = api.port.unwrap();
    let user = Uuid::new_v4();
    let client = stack.client(port, user, false);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let started = client.submit(&url(PASTA), &lang("en")).await.unwrap();
        let updates = collect(client.watch(started.task_id)).await;
        assert_ordered_success(&updates);
        ids.push(updates.last().unwrap().recipe_id.unwrap());
    }

    // The fixture serves 2 with 200 g spaghetti and 3 cloves of garlic.
    let doubled = client.recipe_view(ids[0], client::View { servings: Some(4), units: None }).await.unwrap();
    let output = tokio::process::Command::new(bin_dir().join("relay"))
        .args(["list", &ids[0].to_string(), &format!("{}:4", ids[1]), "--json"])
        .env("RELAY_URL", format!("http://127.0.0.1:{port}"))
        .env("RELAY_TOKEN", stack.token(user))
        .output()
        .await
        .unwrap();

    let spaghetti = doubled.ingredients.iter().find(|i| i.name == "spaghetti").expect("spaghetti");
    assert_eq!((spaghetti.quantity, spaghetti.unit.as_deref()), (Some(400.0), Some("g")));
    assert_eq!(doubled.servings, Some(4));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let list: Value = serde_json::from_slice(&output.stdout).unwrap();
    let item = |name: &str| {
        let items = list["items"].as_array().unwrap();
        items.iter().find(|i| i["name"] == name).cloned().unwrap_or_else(|| panic!("no {name}: {items:?}"))
    };
    assert_eq!(item("spaghetti")["quantity"], 600.0, "200 g for 2 plus 400 g for 4");
    assert_eq!(item("garlic")["quantity"], 9.0, "3 cloves plus 6");
    assert_eq!(item("garlic")["recipes"].as_array().unwrap().len(), 2);
    assert_eq!(list["recipes"][1]["servings"], 4);

    let text = tokio::process::Command::new(bin_dir().join("relay"))
        .args(["list", &ids[0].to_string()])
        .env("RELAY_URL", format!("http://127.0.0.1:{port}"))
        .env("RELAY_TOKEN", stack.token(user))
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(text.contains("[ ] 200 g spaghetti"), "{text}");
}
