//! The JSON schema the model answers with.

use serde_json::{Value, json};

/// The JSON schema the model must answer with, in OpenAI strict mode: every object closed with
/// `additionalProperties: false` and listing every property in `required`, optional values typed
/// as a union with `null`.
pub fn recipe_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": [
            "is_recipe", "title", "description", "servings", "prep_minutes", "cook_minutes",
            "total_minutes", "ingredients", "steps", "tags"
        ],
        "properties": {
            "is_recipe": {"type": "boolean", "description": "false when the video holds no recipe"},
            "title": {"type": "string", "description": "the dish's name"},
            "description": {"type": ["string", "null"], "description": "one or two sentences"},
            "servings": {"type": ["integer", "null"]},
            "prep_minutes": {"type": ["integer", "null"]},
            "cook_minutes": {"type": ["integer", "null"]},
            "total_minutes": {"type": ["integer", "null"]},
            "ingredients": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["raw", "quantity", "unit", "name", "note"],
                    "properties": {
                        "raw": {"type": "string", "description": "the whole ingredient line"},
                        "quantity": {"type": ["number", "null"]},
                        "unit": {"type": ["string", "null"]},
                        "name": {"type": "string"},
                        "note": {"type": ["string", "null"], "description": "e.g. finely chopped"}
                    }
                }
            },
            "steps": {"type": "array", "items": {"type": "string"}},
            "tags": {"type": "array", "items": {"type": "string"}}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_follows_strict_mode_rules_everywhere() {
        /// Checks one schema node and its children; returns how many objects it checked.
        fn check(node: &Value, at: &str) -> usize {
            let types: Vec<&str> = match &node["type"] {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                other => panic!("{at}: every node needs a type, found {other}"),
            };
            for t in &types {
                assert!(
                    ["object", "array", "string", "number", "integer", "boolean", "null"].contains(t),
                    "{at}: unknown type {t}"
                );
            }
            let mut objects = 0;
            if types.contains(&"object") {
                assert_eq!(node["additionalProperties"], false, "{at}: objects must be closed");
                let properties =
                    node["properties"].as_object().unwrap_or_else(|| panic!("{at}: no properties"));
                let mut required: Vec<&str> = node["required"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{at}: no required list"))
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                let mut keys: Vec<&str> = properties.keys().map(String::as_str).collect();
                required.sort_unstable();
                keys.sort_unstable();
                assert_eq!(required, keys, "{at}: every property must be required");
                objects += 1;
                for (key, child) in properties {
                    objects += check(child, &format!("{at}.{key}"));
                }
            }
            if types.contains(&"array") {
                objects += check(&node["items"], &format!("{at}[]"));
            }
            objects
        }
        let schema = recipe_schema();
        assert_eq!(check(&schema, "$"), 2, "the recipe and the ingredient objects were both checked");
        for optional in ["description", "servings", "prep_minutes", "cook_minutes", "total_minutes"] {
            let types = &schema["properties"][optional]["type"];
            assert!(
                types.as_array().is_some_and(|t| t.contains(&json!("null"))),
                "{optional} must be nullable"
            );
        }
        for optional in ["quantity", "unit", "note"] {
            let types = &schema["properties"]["ingredients"]["items"]["properties"][optional]["type"];
            assert!(
                types.as_array().is_some_and(|t| t.contains(&json!("null"))),
                "{optional} must be nullable"
            );
        }
    }

    /// The non-null JSON types a property allows.
    fn types(property: &Value) -> Vec<String> {
        let listed = match &property["type"] {
            Value::String(t) => vec![t.clone()],
            Value::Array(ts) => ts.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect(),
            _ => Vec::new(),
        };
        listed.into_iter().filter(|t| t != "null").collect()
    }

    #[test]
    fn the_answer_schema_asks_only_for_fields_of_the_protocol_types_with_their_types() {
        // The derived schemas /openapi.json serves: a renamed or retyped protocol field makes
        // the model's strict schema disagree, and this test says where.
        use utoipa::PartialSchema;
        let recipe = serde_json::to_value(protocol::Recipe::schema()).expect("schema");
        let ingredient = serde_json::to_value(protocol::Ingredient::schema()).expect("schema");
        let ours = recipe_schema();
        let pairs = [(&ours, &recipe), (&ours["properties"]["ingredients"]["items"], &ingredient)];
        for (asked, protocol) in pairs {
            for (name, property) in asked["properties"].as_object().expect("properties") {
                if name == "is_recipe" {
                    continue; // the model's verdict, not a recipe field
                }
                let field = &protocol["properties"][name];
                assert!(field.is_object(), "{name} is not a field of the protocol type");
                assert_eq!(types(property), types(field), "{name}: the model's type and the protocol's");
            }
        }
    }
}
