//! Every error kind of issue 16, one table row each: what the old parser got wrong.

use ingredients::parse;
use protocol::Ingredient;

/// What a parsed line should hold; `None` fields are not checked.
#[derive(Default)]
struct Want {
    quantity: Option<f64>,
    quantity_max: Option<f64>,
    unit: Option<&'static str>,
    unit_text: Option<&'static str>,
    name: &'static str,
    size: Option<&'static str>,
    preparation: Option<&'static str>,
    comment: Option<&'static str>,
    alt: Option<(f64, &'static str)>,
    no_quantity: bool,
    no_unit: bool,
}

fn check(line: &str, language: &str, want: &Want, why: &str) {
    let got: Ingredient = parse(line, language);
    assert_eq!(got.raw, line.trim(), "{why}: raw of {line:?}");
    assert_eq!(got.name, want.name, "{why}: name of {line:?} in {got:?}");
    if let Some(q) = want.quantity {
        assert!(got.quantity.is_some_and(|g| (g - q).abs() < 1e-6), "{why}: quantity of {line:?}: {got:?}");
    }
    if want.no_quantity {
        assert_eq!(got.quantity, None, "{why}: no quantity in {line:?}");
    }
    if let Some(m) = want.quantity_max {
        assert!(
            got.quantity_max.is_some_and(|g| (g - m).abs() < 1e-6),
            "{why}: range end of {line:?}: {got:?}"
        );
    }
    if let Some(unit) = want.unit {
        assert_eq!(got.unit.as_deref(), Some(unit), "{why}: unit of {line:?}");
    }
    if want.no_unit {
        assert_eq!(got.unit, None, "{why}: no unit in {line:?}");
    }
    if let Some(text) = want.unit_text {
        assert_eq!(got.unit_text.as_deref(), Some(text), "{why}: unit as written in {line:?}");
    }
    if let Some(size) = want.size {
        assert_eq!(got.size.as_deref(), Some(size), "{why}: size of {line:?}");
    }
    if let Some(preparation) = want.preparation {
        assert_eq!(got.preparation.as_deref(), Some(preparation), "{why}: preparation of {line:?}");
    }
    if let Some(comment) = want.comment {
        assert_eq!(got.comment.as_deref(), Some(comment), "{why}: comment of {line:?}");
    }
    if let Some((q, unit)) = want.alt {
        let alt = got.alt.as_ref().unwrap_or_else(|| panic!("{why}: no second measure in {line:?}"));
        assert!(
            (alt.quantity - q).abs() < 1e-6 && alt.unit.as_deref() == Some(unit),
            "{why}: alt of {line:?}: {alt:?}"
        );
    }
}

#[test]
fn a_comma_or_period_never_splits_a_line() {
    let cases = [
        (
            "1 ripe, medium cantaloupe",
            "en",
            Want {
                quantity: Some(1.0),
                name: "cantaloupe",
                size: Some("medium"),
                preparation: Some("ripe"),
                no_unit: true,
                ..Want::default()
            },
            "adjectives before a comma",
        ),
        (
            "4 Stk. Eier (Gr. M)",
            "de",
            Want {
                quantity: Some(4.0),
                unit: Some("piece"),
                unit_text: Some("Stk."),
                name: "Eier",
                size: Some("Gr. M"),
                ..Want::default()
            },
            "abbreviation dots and a grade",
        ),
        (
            "4 boneless, skinless chicken breasts",
            "en",
            Want { quantity: Some(4.0), name: "chicken breasts", ..Want::default() },
            "two preparation words",
        ),
    ];
    for (line, language, want, why) in cases {
        check(line, language, &want, why);
        assert_eq!(
            ingredients::split_list(line, language),
            vec![line],
            "{why}: split_list keeps {line:?} whole"
        );
    }
}

#[test]
fn metric_and_imperial_pairs_keep_both_measures() {
    let cases = [
        (
            "125g/4½oz butter, diced",
            "en",
            Want {
                quantity: Some(125.0),
                unit: Some("g"),
                name: "butter",
                preparation: Some("diced"),
                alt: Some((4.5, "oz")),
                ..Want::default()
            },
            "slash pair",
        ),
        (
            "2 teaspoons/8 grams lemon juice",
            "en",
            Want {
                quantity: Some(2.0),
                unit: Some("tsp"),
                name: "lemon juice",
                alt: Some((8.0, "g")),
                ..Want::default()
            },
            "spelled-out pair",
        ),
        (
            "1 cup (240 ml) milk",
            "en",
            Want {
                quantity: Some(1.0),
                unit: Some("cup"),
                name: "milk",
                alt: Some((240.0, "ml")),
                ..Want::default()
            },
            "pair in parentheses",
        ),
        (
            "300ml/10fl oz double cream",
            "en-GB",
            Want {
                quantity: Some(300.0),
                unit: Some("ml"),
                name: "double cream",
                alt: Some((10.0, "fl oz")),
                ..Want::default()
            },
            "fluid ounces",
        ),
    ];
    for (line, language, want, why) in cases {
        check(line, language, &want, why);
    }
}

#[test]
fn size_preparation_and_comment_leave_the_name() {
    let cases = [
        (
            "1/4 tsp freshly ground cardamom",
            "en",
            Want { name: "cardamom", preparation: Some("freshly ground"), ..Want::default() },
            "leading preparation",
        ),
        (
            "1 md onion",
            "en",
            Want { quantity: Some(1.0), name: "onion", size: Some("md"), ..Want::default() },
            "abbreviated size",
        ),
        (
            "Oil for pan-frying",
            "en",
            Want { name: "Oil", comment: Some("for pan-frying"), no_quantity: true, ..Want::default() },
            "comment after for",
        ),
        (
            "2 tablespoons butter or margarine",
            "en",
            Want { name: "butter", comment: Some("or margarine"), ..Want::default() },
            "alternative",
        ),
        (
            "Öl zum Braten",
            "de",
            Want { name: "Öl", comment: Some("zum Braten"), ..Want::default() },
            "German comment",
        ),
        (
            "sal al gusto",
            "es",
            Want { name: "sal", comment: Some("al gusto"), no_quantity: true, ..Want::default() },
            "Spanish to taste",
        ),
        (
            "3 dientes de ajo picados",
            "es",
            Want {
                quantity: Some(3.0),
                unit: Some("clove"),
                name: "ajo",
                preparation: Some("picados"),
                ..Want::default()
            },
            "Spanish trailing participle",
        ),
        (
            "200 g geriebener Käse",
            "de",
            Want { name: "Käse", preparation: Some("geriebener"), ..Want::default() },
            "German participle",
        ),
        (
            "1 can diced tomatoes",
            "en",
            Want { name: "diced tomatoes", unit: Some("can"), ..Want::default() },
            "a container keeps its product's adjectives",
        ),
    ];
    for (line, language, want, why) in cases {
        check(line, language, &want, why);
    }
}

#[test]
fn units_are_read_before_after_the_name_and_after_a_size() {
    let cases = [
        (
            "2 c milk",
            "en",
            Want {
                quantity: Some(2.0),
                unit: Some("cup"),
                unit_text: Some("c"),
                name: "milk",
                ..Want::default()
            },
            "c is a cup",
        ),
        (
            "2 celery stalks",
            "en",
            Want { unit: Some("stalk"), name: "celery", ..Want::default() },
            "stalk after the name",
        ),
        (
            "1 sheet puff pastry",
            "en",
            Want { unit: Some("sheet"), name: "puff pastry", ..Want::default() },
            "sheet",
        ),
        ("3 sprigs thyme", "en", Want { unit: Some("sprig"), name: "thyme", ..Want::default() }, "sprig"),
        (
            "1 punnet raspberries",
            "en",
            Want { unit: Some("punnet"), name: "raspberries", ..Want::default() },
            "punnet",
        ),
        ("2 ribs celery", "en", Want { unit: Some("rib"), name: "celery", ..Want::default() }, "rib"),
        ("4 ears corn", "en", Want { unit: Some("ear"), name: "corn", ..Want::default() }, "ear"),
        (
            "6 stems coriander",
            "en",
            Want { unit: Some("stem"), name: "coriander", ..Want::default() },
            "stem",
        ),
        ("3 cm ginger", "en", Want { unit: Some("cm"), name: "ginger", ..Want::default() }, "cm"),
        ("1 sachet yeast", "en", Want { unit: Some("sachet"), name: "yeast", ..Want::default() }, "sachet"),
        (
            "10 thyme sprigs",
            "en",
            Want {
                quantity: Some(10.0),
                unit: Some("sprig"),
                unit_text: Some("sprigs"),
                name: "thyme",
                ..Want::default()
            },
            "unit after the name",
        ),
        (
            "4 garlic cloves",
            "en",
            Want { quantity: Some(4.0), unit: Some("clove"), name: "garlic", ..Want::default() },
            "cloves after the name",
        ),
        (
            "3 Knoblauchzehen",
            "de",
            Want { quantity: Some(3.0), unit: Some("clove"), name: "Knoblauch", ..Want::default() },
            "German compound",
        ),
        (
            "1 14-ounce can tomatoes",
            "en",
            Want {
                quantity: Some(1.0),
                unit: Some("can"),
                size: Some("14-ounce"),
                name: "tomatoes",
                ..Want::default()
            },
            "size before a container",
        ),
        (
            "1 (14.5-ounce) can diced tomatoes",
            "en",
            Want {
                quantity: Some(1.0),
                unit: Some("can"),
                size: Some("14.5-ounce"),
                name: "diced tomatoes",
                ..Want::default()
            },
            "size in parentheses",
        ),
        (
            "2 x 150g fillets",
            "en-GB",
            Want {
                quantity: Some(2.0),
                size: Some("150 g"),
                name: "fillets",
                no_unit: true,
                ..Want::default()
            },
            "multiplied size",
        ),
        (
            "400g tin chopped tomatoes",
            "en-GB",
            Want {
                quantity: Some(1.0),
                unit: Some("can"),
                size: Some("400 g"),
                name: "chopped tomatoes",
                ..Want::default()
            },
            "measure before a container",
        ),
    ];
    for (line, language, want, why) in cases {
        check(line, language, &want, why);
    }
}

#[test]
fn amounts_not_at_the_start_are_found() {
    let cases = [
        (
            "zest of 2 oranges",
            "en",
            Want { quantity: Some(2.0), name: "oranges", preparation: Some("zest"), ..Want::default() },
            "zest of",
        ),
        (
            "juice of 1 lemon",
            "en",
            Want { quantity: Some(1.0), name: "lemon", preparation: Some("juice"), ..Want::default() },
            "juice of",
        ),
        (
            "scant ½ cup sugar",
            "en",
            Want {
                quantity: Some(0.5),
                unit: Some("cup"),
                name: "sugar",
                comment: Some("scant"),
                ..Want::default()
            },
            "scant",
        ),
        (
            "Saft von 1 Zitrone",
            "de",
            Want { quantity: Some(1.0), name: "Zitrone", ..Want::default() },
            "German juice of",
        ),
        (
            "el zumo de 1 limón",
            "es",
            Want { quantity: Some(1.0), name: "limón", ..Want::default() },
            "Spanish juice of",
        ),
        (
            "Mehl: 200 g",
            "de",
            Want { quantity: Some(200.0), unit: Some("g"), name: "Mehl", ..Want::default() },
            "amount after a colon",
        ),
        (
            "Spaghetti 500g",
            "en",
            Want { quantity: Some(500.0), unit: Some("g"), name: "Spaghetti", ..Want::default() },
            "amount at the end",
        ),
    ];
    for (line, language, want, why) in cases {
        check(line, language, &want, why);
    }
}

#[test]
fn ranges_fractions_decimals_and_number_words_are_read() {
    let range =
        |q, m, unit, name| Want { quantity: Some(q), quantity_max: Some(m), unit, name, ..Want::default() };
    let cases = [
        ("2-3 cloves garlic", "en", range(2.0, 3.0, Some("clove"), "garlic"), "hyphen"),
        ("2–3 Eier", "de", range(2.0, 3.0, None, "Eier"), "en dash"),
        ("1 to 2 tbsp honey", "en", range(1.0, 2.0, Some("tbsp"), "honey"), "to"),
        ("1 bis 2 EL Honig", "de", range(1.0, 2.0, Some("tbsp"), "Honig"), "bis"),
        ("2 a 3 cucharadas de miel", "es", range(2.0, 3.0, Some("tbsp"), "miel"), "a"),
    ];
    for (line, language, want, why) in cases {
        check(line, language, &want, why);
    }
    let amount = |q, unit, name| Want { quantity: Some(q), unit, name, ..Want::default() };
    let cases = [
        ("1 1/2 cups flour", "en", amount(1.5, Some("cup"), "flour"), "ASCII mixed number"),
        ("1½ cups flour", "en", amount(1.5, Some("cup"), "flour"), "glued unicode"),
        ("⅓ cup sugar", "en", amount(1.0 / 3.0, Some("cup"), "sugar"), "unicode third"),
        ("0,5 l Milch", "de", amount(0.5, Some("l"), "Milch"), "decimal comma"),
        ("one onion", "en", amount(1.0, None, "onion"), "one"),
        ("two eggs", "en", amount(2.0, None, "eggs"), "two"),
        ("a pinch of salt", "en", amount(1.0, Some("pinch"), "salt"), "a"),
        ("an egg", "en", amount(1.0, None, "egg"), "an"),
        ("half a lemon", "en", amount(0.5, None, "lemon"), "half"),
        ("ein Ei", "de", amount(1.0, None, "Ei"), "ein"),
        ("eine Prise Salz", "de", amount(1.0, Some("pinch"), "Salz"), "eine"),
        ("zwei Zwiebeln", "de", amount(2.0, None, "Zwiebeln"), "zwei"),
        ("un huevo", "es", amount(1.0, None, "huevo"), "un"),
        ("una taza de harina", "es", amount(1.0, Some("cup"), "harina"), "una"),
        ("dos huevos", "es", amount(2.0, None, "huevos"), "dos"),
        ("medio limón", "es", amount(0.5, None, "limón"), "medio"),
    ];
    for (line, language, want, why) in cases {
        check(line, language, &want, why);
    }
}

#[test]
fn german_and_spanish_units_map_to_canonical_codes() {
    let cases = [
        ("2 EL Öl", "de", "tbsp", "Öl"),
        ("1 TL Salz", "de", "tsp", "Salz"),
        ("1 Prise Zucker", "de", "pinch", "Zucker"),
        ("1 Msp. Zimt", "de", "knifepoint", "Zimt"),
        ("1 Pck. Backpulver", "de", "package", "Backpulver"),
        ("1 Päckchen Vanillezucker", "de", "package", "Vanillezucker"),
        ("1 Bund Dill", "de", "bunch", "Dill"),
        ("2 Zehen Knoblauch", "de", "clove", "Knoblauch"),
        ("1 Dose Mais", "de", "can", "Mais"),
        ("1 Becher Sahne", "de", "tub", "Sahne"),
        ("3 Scheiben Käse", "de", "slice", "Käse"),
        ("1 kg Kartoffeln", "de", "kg", "Kartoffeln"),
        ("1 cda de aceite", "es", "tbsp", "aceite"),
        ("1 cdta de sal", "es", "tsp", "sal"),
        ("2 cucharadas de azúcar", "es", "tbsp", "azúcar"),
        ("1 cucharadita de comino", "es", "tsp", "comino"),
        ("una pizca de sal", "es", "pinch", "sal"),
        ("2 tazas de arroz", "es", "cup", "arroz"),
        ("2 dientes de ajo", "es", "clove", "ajo"),
        ("1 lata de atún", "es", "can", "atún"),
        ("1 manojo de perejil", "es", "bunch", "perejil"),
    ];
    for (line, language, unit, name) in cases {
        check(line, language, &Want { unit: Some(unit), name, ..Want::default() }, "vocabulary");
    }
}

#[test]
fn unknown_languages_accept_every_vocabulary() {
    check("2 EL Öl", "pt-BR", &Want { unit: Some("tbsp"), name: "Öl", ..Want::default() }, "German unit");
    check(
        "2 cdas de aceite",
        "fr",
        &Want { unit: Some("tbsp"), name: "aceite", ..Want::default() },
        "Spanish unit",
    );
}
