//! The model's ingredients get the same canonical fields as parsed ones.

use ingredients::{canonicalize, parse};
use protocol::Ingredient;

#[test]
fn a_model_ingredient_keeps_its_text_and_gets_canonical_fields_from_raw() {
    let mut from_model = Ingredient {
        raw: "2 EL Olivenöl, extra vergine".into(),
        quantity: Some(2.0),
        unit: Some("EL".into()),
        name: "Olivenöl".into(),
        ..Ingredient::default()
    };
    canonicalize(&mut from_model, "de");
    assert_eq!(from_model.name, "Olivenöl", "the model's name is kept");
    assert_eq!(from_model.raw, "2 EL Olivenöl, extra vergine", "the model's raw is kept");
    assert_eq!(from_model.unit.as_deref(), Some("tbsp"), "canonical unit");
    assert_eq!(from_model.unit_text.as_deref(), Some("EL"));
    let offline = parse(&from_model.raw, "de");
    assert_eq!(
        (from_model.quantity, from_model.unit.clone()),
        (offline.quantity, offline.unit),
        "same as offline"
    );
}

#[test]
fn raw_wins_where_the_model_disagrees() {
    let mut from_model = Ingredient {
        raw: "1 cup (240 ml) milk".into(),
        quantity: Some(240.0),
        unit: Some("ml".into()),
        name: "milk".into(),
        ..Ingredient::default()
    };
    canonicalize(&mut from_model, "en");
    assert_eq!((from_model.quantity, from_model.unit.as_deref()), (Some(1.0), Some("cup")));
    assert_eq!(from_model.alt.as_ref().map(|a| a.quantity), Some(240.0), "the pair's second measure");
}

#[test]
fn without_an_amount_in_raw_the_models_values_stay_with_a_canonical_unit() {
    let mut from_model = Ingredient {
        raw: "Olivenöl".into(),
        quantity: Some(2.0),
        unit: Some("Esslöffel".into()),
        name: "Olivenöl".into(),
        ..Ingredient::default()
    };
    canonicalize(&mut from_model, "de");
    assert_eq!((from_model.quantity, from_model.unit.as_deref()), (Some(2.0), Some("tbsp")));
    assert_eq!(from_model.unit_text.as_deref(), Some("Esslöffel"));
}
