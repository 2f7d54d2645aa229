//! Word lists the parser sorts a line with: sizes, preparation, comments, hedges. Kept apart from
//! the parser so that adding a word is a one-line change that cannot break its logic.

use crate::lang::Langs;
use crate::tokens::lower;

/// Hedges before an amount ("about 2 cups", "scant ½ cup"): kept as a comment.
pub(crate) const HEDGES: &[&str] = &[
    "about",
    "approx",
    "approx.",
    "approximately",
    "around",
    "roughly",
    "circa",
    "ca",
    "ca.",
    "~",
    "scant",
    "heaping",
    "heaped",
    "generous",
    "rounded",
    "level",
    "good",
    "etwa",
    "ungefähr",
    "knapp",
    "gut",
    "gute",
    "guter",
    "gestr",
    "gestr.",
    "gestrichen",
    "gestrichene",
    "gestrichener",
    "geh",
    "geh.",
    "gehäuft",
    "gehäufte",
    "gehäufter",
    "unos",
    "unas",
    "aprox",
    "aprox.",
    "aproximadamente",
    "colmada",
    "colmado",
    "rasa",
    "raso",
];

/// Determiners that mean "some" rather than a number ("a few", "etwas", "unas"): no amount.
pub(crate) const SOME: &[&str] = &[
    "few",
    "some",
    "several",
    "little",
    "bit",
    "touch",
    "couple",
    "etwas",
    "paar",
    "wenig",
    "bisschen",
    "einige",
    "algunos",
    "algunas",
    "unos",
    "unas",
    "poco",
    "poca",
    "un poco de",
];

/// Size words ("large", "md", "kleine", "grandes").
pub(crate) fn is_size(word: &str, langs: Langs) -> bool {
    let w = lower(word);
    let w = w.trim_end_matches(['.', ',']);
    const EN: &[&str] = &[
        "small",
        "medium",
        "large",
        "big",
        "huge",
        "jumbo",
        "extra-large",
        "xl",
        "md",
        "med",
        "lg",
        "lge",
        "lrg",
        "sm",
        "medium-large",
        "medium-sized",
        "large-sized",
        "small-sized",
        "baby-sized",
        "thick-cut",
        "thin-cut",
        "center-cut",
        "thick",
        "thin",
    ];
    const ES: &[&str] = &[
        "grande",
        "grandes",
        "mediano",
        "mediana",
        "medianos",
        "medianas",
        "pequeño",
        "pequeña",
        "pequeños",
        "pequeñas",
        "chico",
        "chica",
        "chicos",
        "chicas",
    ];
    if w.ends_with("-sized") || w.ends_with("-size") {
        return true;
    }
    if langs.has(Langs::EN) && EN.contains(&w) {
        return true;
    }
    if langs.has(Langs::ES) && ES.contains(&w) {
        return true;
    }
    langs.has(Langs::DE)
        && ["klein", "groß", "gross", "mittelgroß", "mittel", "mittler"].iter().any(|stem| inflects(w, stem))
}

/// Whether `word` is `stem` with a German adjective ending ("kleine", "großer").
fn inflects(word: &str, stem: &str) -> bool {
    word.strip_prefix(stem).is_some_and(|end| matches!(end, "" | "e" | "er" | "es" | "en" | "em"))
}

/// English words before a food that say how it is prepared, not what it is ("chopped", "melted",
/// "freshly"). Product words ("ground cumin", "dried oregano", "smoked paprika", "toasted
/// sesame oil", "fresh basil") are deliberately absent.
const EN_PREPARATION: &[&str] = &[
    "chopped",
    "finely",
    "roughly",
    "coarsely",
    "thinly",
    "thickly",
    "freshly",
    "lightly",
    "firmly",
    "loosely",
    "packed",
    "diced",
    "minced",
    "sliced",
    "grated",
    "shredded",
    "melted",
    "softened",
    "crushed",
    "crumbled",
    "cubed",
    "mashed",
    "beaten",
    "whisked",
    "peeled",
    "cooked",
    "uncooked",
    "boiling",
    "cold",
    "chilled",
    "warm",
    "lukewarm",
    "ripe",
    "overripe",
    "boneless",
    "skinless",
    "trimmed",
    "halved",
    "quartered",
    "pitted",
    "seeded",
    "deseeded",
    "sifted",
    "drained",
    "rinsed",
    "julienned",
    "torn",
    "leftover",
    "well",
    "very",
    "cooled",
    "room-temperature",
    "good-quality",
    "store-bought",
    "homemade",
    "squeezed",
    "zested",
    "juiced",
    "mixed-up",
    "hard-boiled",
    "soft-boiled",
    "steamed",
    "blanched",
    "spiralized",
    "riced",
    "bone-in",
    "skin-on",
    "skin-off",
    "day-old",
    "shelled",
    "unpeeled",
    "defrosted",
    "thawed",
];

/// German adjective stems that are preparation or temperature ("weiche Butter", "lauwarmes
/// Wasser"), besides "ge…t" participles.
const DE_PREPARATION: &[&str] = &[
    "weich",
    "kalt",
    "heiß",
    "heiss",
    "warm",
    "lauwarm",
    "zimmerwarm",
    "reif",
    "flüssig",
    "zerlassen",
    "geschmolzen",
    "säuerlich",
    "frisch gerieben",
    "fein",
    "grob",
];

/// German participles that name a product ("gemahlene Mandeln", "getrockneter Oregano").
const DE_PRODUCT_PARTICIPLES: &[&str] =
    &["gemahlen", "getrocknet", "geräuchert", "gesalzen", "gebrannt", "geröstet"];

/// Spanish participle stems after the food that are preparation ("cebolla picada").
const ES_PREPARATION: &[&str] = &[
    "picad",
    "rallad",
    "batid",
    "trocead",
    "pelad",
    "cortad",
    "machacad",
    "laminad",
    "filetead",
    "derretid",
    "tamizad",
    "escurrid",
    "lavad",
    "desmenuzad",
    "madur",
    "aplastad",
    "triturad",
    "cocid",
    "tostad",
    "hervid",
    "congelad",
    "descongelad",
    "deshuesad",
    "sin piel",
    "fundid",
    "ablandad",
    "tibi",
    "templad",
    "frí",
    "fri",
    "caliente",
];

/// Spanish food phrases whose participle is part of the product ("carne picada").
const ES_PRODUCTS: &[&str] = &[
    "carne picada",
    "tomate triturado",
    "tomates triturados",
    "jamón cocido",
    "garbanzos cocidos",
    "frijoles negros cocidos",
    "pan tostado",
    "pimienta negra molida",
];

/// Whether `word` (lower case) is a German "ge…t"/"ge…en" participle used as preparation.
fn german_participle(word: &str) -> bool {
    let stemmed =
        ["e", "er", "es", "en", "em", ""].iter().filter_map(|end| word.strip_suffix(end)).any(|stem| {
            stem.len() >= 5 && stem.starts_with("ge") && (stem.ends_with('t') || stem.ends_with("en"))
        });
    stemmed && !DE_PRODUCT_PARTICIPLES.iter().any(|p| word.starts_with(p))
}

/// Whether `word`, before the food, is preparation rather than part of its name.
pub(crate) fn is_leading_preparation(word: &str, next: Option<&str>, langs: Langs) -> bool {
    let w = lower(word);
    let w = w.trim_end_matches(',');
    if langs.has(Langs::EN) && EN_PREPARATION.contains(&w) {
        return true;
    }
    if langs.has(Langs::EN) && w == "hot" {
        // "hot water" is water; "hot sauce" and "hot honey" are products.
        return next.is_some_and(|n| {
            ["water", "stock", "broth", "milk", "coffee", "tea", "vegetable", "chicken", "beef"]
                .contains(&&*lower(n))
        });
    }
    // German adjectives are lower case before a capitalised noun; a capitalised word is a noun.
    if langs.has(Langs::DE) && matches!(w, "frisch" | "fein" | "grob") {
        // Adverbs before a participle: "frisch gehackte Petersilie".
        return next.is_some_and(|n| german_participle(&lower(n)));
    }
    langs.has(Langs::DE)
        && word.chars().next().is_some_and(char::is_lowercase)
        && (DE_PREPARATION.iter().any(|stem| inflects(w, stem)) || german_participle(w))
}

/// Whether `word`, after the food (Spanish word order), is preparation ("picada", "maduros").
pub(crate) fn is_trailing_preparation(word: &str, langs: Langs) -> bool {
    if !langs.has(Langs::ES) {
        return false;
    }
    let w = lower(word);
    ES_PREPARATION.iter().any(|stem| {
        w.strip_prefix(stem)
            .is_some_and(|end| matches!(end, "o" | "a" | "os" | "as" | "" | "s") && !stem.contains(' '))
    })
}

/// Whether the food phrase keeps its participle ("carne picada").
pub(crate) fn is_spanish_product(phrase: &str) -> bool {
    let lower = phrase.to_lowercase();
    ES_PRODUCTS.iter().any(|p| lower.starts_with(p))
}

/// Words that start a comment in the middle of a name ("Oil for pan-frying", "Salz zum
/// Bestreuen", "sal al gusto", "butter or margarine").
pub(crate) fn starts_comment(words: &[&str], langs: Langs) -> bool {
    let Some(first) = words.first() else { return false };
    let w = lower(first);
    let next = words.get(1).map(|n| lower(n)).unwrap_or_default();
    let en = langs.has(Langs::EN)
        && (matches!(&*w, "for" | "or" | "plus" | "+" | "if" | "optional" | "such" | "e.g." | "i.e.")
            || (w == "to" && matches!(&*next, "taste" | "serve" | "garnish" | "decorate" | "finish"))
            || (w == "as" && matches!(&*next, "needed" | "required"))
            || (matches!(&*w, "mixed" | "dissolved" | "whisked") && matches!(&*next, "with" | "in")));
    let de = langs.has(Langs::DE)
        && (matches!(&*w, "zum" | "zur" | "für" | "oder" | "z.b." | "zb" | "optional" | "nach")
            || (w == "aus" && next == "der")
            || (w == "je" && next == "nach"));
    let es = langs.has(Langs::ES)
        && ((w == "para" && !matches!(&*next, "montar" | "cocinar" | "batir"))
            || matches!(&*w, "o" | "opcional" | "(opcional)")
            || (matches!(&*w, "al" | "a") && next == "gusto"));
    en || de || es
}

/// Words that start a preparation in the middle of a name ("cut into cubes", "in Würfeln",
/// "en dados").
pub(crate) fn starts_preparation(words: &[&str], langs: Langs) -> bool {
    let Some(first) = words.first() else { return false };
    let w = lower(first);
    let next = words.get(1).map(|n| lower(n)).unwrap_or_default();
    let en = langs.has(Langs::EN)
        && ((w == "cut" && matches!(&*next, "into" | "in")) || (w == "at" && next == "room"));
    let de = langs.has(Langs::DE)
        && w == "in"
        && ["würfel", "scheiben", "röllchen", "streifen", "stücke", "ringe", "spalten"]
            .iter()
            .any(|p| next.starts_with(p));
    let es = langs.has(Langs::ES)
        && ((w == "en"
            && [
                "dados",
                "taquitos",
                "tiras",
                "juliana",
                "rodajas",
                "trozos",
                "cubos",
                "láminas",
                "rebanadas",
                "gajos",
                "cuartos",
            ]
            .contains(&&*next))
            || (w == "a" && next == "temperatura"));
    en || de || es
}

/// Whether a whole fragment after a comma is a comment rather than preparation.
pub(crate) fn is_comment_fragment(fragment: &str, langs: Langs) -> bool {
    let words: Vec<&str> = fragment.split_whitespace().collect();
    let first = words.first().map(|w| lower(w)).unwrap_or_default();
    starts_comment(&words, langs)
        || matches!(
            &*first,
            "to" | "optional"
                | "about"
                | "approx"
                | "approximately"
                | "preferably"
                | "ideally"
                | "plus"
                | "more"
                | "such"
                | "see"
                | "we"
                | "i"
                | "any"
                | "ca."
                | "ca"
                | "etwa"
                | "z.b."
                | "optional)"
                | "nach"
                | "al"
                | "a"
                | "opcional"
                | "unos"
                | "unas"
                | "aprox"
                | "divided"
                | "at"
                | "if"
                | "or"
                | "and"
                | "store-bought"
                | "homemade"
                | "from"
                | "in"
                | "about)"
                | "warm"
                | "cold"
        ) && !starts_preparation(&words, langs)
}

/// Leading words of a name to drop ("of", articles).
pub(crate) fn is_filler(word: &str, langs: Langs) -> bool {
    let w = lower(word);
    (langs.has(Langs::EN) && matches!(&*w, "of" | "the" | "a" | "an" | "each"))
        || (langs.has(Langs::DE) && matches!(&*w, "von" | "vom" | "der" | "die" | "das" | "je"))
        || (langs.has(Langs::ES) && matches!(&*w, "de" | "del" | "el" | "la" | "los" | "las" | "un" | "una"))
}

/// Words that precede "of <amount> <food>" ("juice of 1 lemon", "Saft von 1 Zitrone").
pub(crate) const PART_WORDS: &[&str] = &[
    "juice",
    "zest",
    "rind",
    "grated",
    "finely",
    "and",
    "the",
    "freshly",
    "squeezed",
    "saft",
    "abrieb",
    "schale",
    "der",
    "abgeriebene",
    "zumo",
    "jugo",
    "ralladura",
    "piel",
    "el",
    "la",
    "y",
    "unwaxed",
];
