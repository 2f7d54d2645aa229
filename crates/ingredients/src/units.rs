//! The unit table: every spelling the parser knows, the canonical code it means, and what a
//! code measures (mass, volume, length or a counted thing) for conversion and merging.
//!
//! The canonical codes are listed in the crate docs.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use crate::lang::Langs;
use crate::tokens::lower;

/// What a unit measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Weight; the factor is grams per unit.
    Mass,
    /// Volume; the factor is millilitres per unit.
    Volume,
    /// Length; the factor is centimetres per unit.
    Length,
    /// A small, inexact amount ("pinch"): never converted.
    Small,
    /// A counted thing ("clove", "can"): never converted, scaled to whole or half units.
    Count,
}

/// Which system a unit belongs to, for conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum System {
    /// g, ml, cm, …
    Metric,
    /// cups, spoons, ounces, inches.
    Us,
    /// Neither (counts and small amounts).
    None,
}

/// What a canonical unit measures and how big it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Unit {
    /// What it measures.
    pub(crate) kind: Kind,
    /// Grams, millilitres or centimetres per unit (1 for counts).
    pub(crate) factor: f64,
    /// Its system.
    pub(crate) system: System,
}

const fn unit(code: &'static str, kind: Kind, factor: f64, system: System) -> (&'static str, Unit) {
    (code, Unit { kind, factor, system })
}

/// Every canonical unit that can be converted.
const UNITS: &[(&str, Unit)] = &[
    unit("mg", Kind::Mass, 0.001, System::Metric),
    unit("g", Kind::Mass, 1.0, System::Metric),
    unit("kg", Kind::Mass, 1000.0, System::Metric),
    unit("oz", Kind::Mass, 28.349_523_125, System::Us),
    unit("lb", Kind::Mass, 453.592_37, System::Us),
    unit("ml", Kind::Volume, 1.0, System::Metric),
    unit("cl", Kind::Volume, 10.0, System::Metric),
    unit("dl", Kind::Volume, 100.0, System::Metric),
    unit("l", Kind::Volume, 1000.0, System::Metric),
    // Kitchen measures rather than the exact US customary ones (14.79 ml), as recipe sites and
    // measuring spoons do: 1 tbsp = 15 ml, 1 cup = 240 ml.
    unit("tsp", Kind::Volume, 5.0, System::Us),
    unit("tbsp", Kind::Volume, 15.0, System::Us),
    unit("cup", Kind::Volume, 240.0, System::Us),
    unit("fl oz", Kind::Volume, 29.573_53, System::Us),
    unit("pint", Kind::Volume, 473.176_47, System::Us),
    unit("quart", Kind::Volume, 946.352_95, System::Us),
    unit("gallon", Kind::Volume, 3_785.411_8, System::Us),
    unit("cm", Kind::Length, 1.0, System::Metric),
    unit("inch", Kind::Length, 2.54, System::Us),
];

/// Codes of small amounts.
const SMALL: &[&str] = &["pinch", "dash", "drop", "splash", "drizzle", "knob", "handful", "knifepoint"];

/// Counted units that hold something of a size ("1 (14-ounce) can", "400g tin"): a measure
/// next to them is the container's size, not the amount.
pub(crate) const CONTAINERS: &[&str] = &[
    "can", "jar", "bottle", "package", "sachet", "bag", "box", "block", "ball", "tub", "roll", "sleeve",
    "punnet",
];

/// Units that may stand without an amount ("pinch of salt", "Prise Salz", "knob of butter").
pub(crate) const WITHOUT_AMOUNT: &[&str] = &[
    "pinch",
    "dash",
    "drop",
    "splash",
    "drizzle",
    "knob",
    "handful",
    "knifepoint",
    "bunch",
    "sprig",
    "piece",
];

/// Units that English lines also write after the food ("10 thyme sprigs", "4 garlic cloves").
pub(crate) const AFTER_NAME: &[&str] = &["sprig", "clove", "stalk", "rib", "stem", "sheet", "head"];

/// The canonical unit for `code`: known measures get their factor, anything else is a count.
pub(crate) fn lookup(code: &str) -> Unit {
    if let Some((_, found)) = UNITS.iter().find(|(known, _)| *known == code) {
        return *found;
    }
    let kind = if SMALL.contains(&code) { Kind::Small } else { Kind::Count };
    Unit { kind, factor: 1.0, system: System::None }
}

/// Spelling (lower case, without dots), canonical code, vocabularies. Longest spellings win, so
/// "fl oz" beats "fl" and "cucharadita" beats "cucharada".
const SPELLINGS: &[(&str, &str, Langs)] = &[
    // Mass.
    ("mg", "mg", Langs::ALL),
    ("milligram", "mg", Langs::EN),
    ("milligrams", "mg", Langs::EN),
    ("g", "g", Langs::ALL),
    ("gr", "g", Langs::ALL),
    ("grs", "g", Langs::ALL),
    ("gm", "g", Langs::EN),
    ("gms", "g", Langs::EN),
    ("gram", "g", Langs::EN),
    ("grams", "g", Langs::EN),
    ("gramme", "g", Langs::EN),
    ("grammes", "g", Langs::EN),
    ("gramm", "g", Langs::DE),
    ("gramos", "g", Langs::ES),
    ("gramo", "g", Langs::ES),
    ("kg", "kg", Langs::ALL),
    ("kgs", "kg", Langs::EN),
    ("kilo", "kg", Langs::ALL),
    ("kilos", "kg", Langs::ALL),
    ("kilogram", "kg", Langs::EN),
    ("kilograms", "kg", Langs::EN),
    ("kilogramm", "kg", Langs::DE),
    ("kilogramo", "kg", Langs::ES),
    ("kilogramos", "kg", Langs::ES),
    ("oz", "oz", Langs::ALL),
    ("ozs", "oz", Langs::EN),
    ("ounce", "oz", Langs::EN),
    ("ounces", "oz", Langs::EN),
    ("onza", "oz", Langs::ES),
    ("onzas", "oz", Langs::ES),
    ("lb", "lb", Langs::ALL),
    ("lbs", "lb", Langs::ALL),
    ("pound", "lb", Langs::EN),
    ("pounds", "lb", Langs::EN),
    ("libra", "lb", Langs::ES),
    ("libras", "lb", Langs::ES),
    // Volume.
    ("ml", "ml", Langs::ALL),
    ("mls", "ml", Langs::EN),
    ("cc", "ml", Langs::ES),
    ("milliliter", "ml", Langs::ALL),
    ("milliliters", "ml", Langs::EN),
    ("millilitre", "ml", Langs::EN),
    ("millilitres", "ml", Langs::EN),
    ("mililitro", "ml", Langs::ES),
    ("mililitros", "ml", Langs::ES),
    ("cl", "cl", Langs::ALL),
    ("centiliter", "cl", Langs::ALL),
    ("centilitre", "cl", Langs::EN),
    ("dl", "dl", Langs::ALL),
    ("deciliter", "dl", Langs::ALL),
    ("decilitre", "dl", Langs::EN),
    ("l", "l", Langs::ALL),
    ("lt", "l", Langs::ALL),
    ("ltr", "l", Langs::ALL),
    ("liter", "l", Langs::ALL),
    ("liters", "l", Langs::EN),
    ("litre", "l", Langs::EN),
    ("litres", "l", Langs::EN),
    ("litro", "l", Langs::ES),
    ("litros", "l", Langs::ES),
    ("tsp", "tsp", Langs::ALL),
    ("tsps", "tsp", Langs::EN),
    ("tspn", "tsp", Langs::EN),
    ("teaspoon", "tsp", Langs::EN),
    ("teaspoons", "tsp", Langs::EN),
    ("teaspoonful", "tsp", Langs::EN),
    ("tl", "tsp", Langs::DE),
    ("teelöffel", "tsp", Langs::DE),
    ("cdta", "tsp", Langs::ES),
    ("cdtas", "tsp", Langs::ES),
    ("cdita", "tsp", Langs::ES),
    ("cditas", "tsp", Langs::ES),
    ("cucharadita", "tsp", Langs::ES),
    ("cucharaditas", "tsp", Langs::ES),
    ("cucharada de postre", "tsp", Langs::ES),
    ("cucharadas de postre", "tsp", Langs::ES),
    ("cucharadita de café", "tsp", Langs::ES),
    ("tbsp", "tbsp", Langs::ALL),
    ("tbsps", "tbsp", Langs::EN),
    ("tbs", "tbsp", Langs::EN),
    ("tbl", "tbsp", Langs::EN),
    ("tbls", "tbsp", Langs::EN),
    ("tblsp", "tbsp", Langs::EN),
    ("tblspn", "tbsp", Langs::EN),
    ("tablespoon", "tbsp", Langs::EN),
    ("tablespoons", "tbsp", Langs::EN),
    ("tablespoonful", "tbsp", Langs::EN),
    ("el", "tbsp", Langs::DE),
    ("esslöffel", "tbsp", Langs::DE),
    ("eßlöffel", "tbsp", Langs::DE),
    ("cda", "tbsp", Langs::ES),
    ("cdas", "tbsp", Langs::ES),
    ("cucharada", "tbsp", Langs::ES),
    ("cucharadas", "tbsp", Langs::ES),
    ("cucharada sopera", "tbsp", Langs::ES),
    ("cucharadas soperas", "tbsp", Langs::ES),
    ("c", "cup", Langs::EN),
    ("cup", "cup", Langs::ALL),
    ("cups", "cup", Langs::ALL),
    ("tasse", "cup", Langs::DE),
    ("tassen", "cup", Langs::DE),
    ("taza", "cup", Langs::ES),
    ("tazas", "cup", Langs::ES),
    ("fl oz", "fl oz", Langs::ALL),
    ("floz", "fl oz", Langs::ALL),
    ("fluid ounce", "fl oz", Langs::EN),
    ("fluid ounces", "fl oz", Langs::EN),
    ("pint", "pint", Langs::EN),
    ("pints", "pint", Langs::EN),
    ("pt", "pint", Langs::EN),
    ("quart", "quart", Langs::EN),
    ("quarts", "quart", Langs::EN),
    ("qt", "quart", Langs::EN),
    ("gallon", "gallon", Langs::EN),
    ("gallons", "gallon", Langs::EN),
    ("gal", "gallon", Langs::EN),
    // Length.
    ("cm", "cm", Langs::ALL),
    ("centimeter", "cm", Langs::ALL),
    ("centimetre", "cm", Langs::EN),
    ("centímetro", "cm", Langs::ES),
    ("centímetros", "cm", Langs::ES),
    ("inch", "inch", Langs::EN),
    ("inches", "inch", Langs::EN),
    // Small amounts.
    ("pinch", "pinch", Langs::EN),
    ("pinches", "pinch", Langs::EN),
    ("prise", "pinch", Langs::DE),
    ("prisen", "pinch", Langs::DE),
    ("pizca", "pinch", Langs::ES),
    ("pizcas", "pinch", Langs::ES),
    ("pellizco", "pinch", Langs::ES),
    ("pellizcos", "pinch", Langs::ES),
    ("dash", "dash", Langs::EN),
    ("dashes", "dash", Langs::EN),
    ("schuss", "dash", Langs::DE),
    ("spritzer", "dash", Langs::DE),
    ("chorrito", "dash", Langs::ES),
    ("chorritos", "dash", Langs::ES),
    ("chorro", "dash", Langs::ES),
    ("chorros", "dash", Langs::ES),
    ("drop", "drop", Langs::EN),
    ("drops", "drop", Langs::EN),
    ("tropfen", "drop", Langs::DE),
    ("gota", "drop", Langs::ES),
    ("gotas", "drop", Langs::ES),
    ("splash", "splash", Langs::EN),
    ("splashes", "splash", Langs::EN),
    ("drizzle", "drizzle", Langs::EN),
    ("drizzles", "drizzle", Langs::EN),
    ("knob", "knob", Langs::EN),
    ("knobs", "knob", Langs::EN),
    ("handful", "handful", Langs::EN),
    ("handfuls", "handful", Langs::EN),
    ("handvoll", "handful", Langs::DE),
    ("puñado", "handful", Langs::ES),
    ("puñados", "handful", Langs::ES),
    ("msp", "knifepoint", Langs::DE),
    ("messerspitze", "knifepoint", Langs::DE),
    ("messerspitzen", "knifepoint", Langs::DE),
    // Counted things.
    ("piece", "piece", Langs::EN),
    ("pieces", "piece", Langs::EN),
    ("pc", "piece", Langs::EN),
    ("pcs", "piece", Langs::EN),
    ("stk", "piece", Langs::DE),
    ("stück", "piece", Langs::DE),
    ("stücke", "piece", Langs::DE),
    ("stueck", "piece", Langs::DE),
    ("unidad", "piece", Langs::ES),
    ("unidades", "piece", Langs::ES),
    ("ud", "piece", Langs::ES),
    ("uds", "piece", Langs::ES),
    ("pieza", "piece", Langs::ES),
    ("piezas", "piece", Langs::ES),
    ("trozo", "piece", Langs::ES),
    ("trozos", "piece", Langs::ES),
    ("clove", "clove", Langs::EN),
    ("cloves", "clove", Langs::EN),
    ("zehe", "clove", Langs::DE),
    ("zehen", "clove", Langs::DE),
    ("diente", "clove", Langs::ES),
    ("dientes", "clove", Langs::ES),
    ("slice", "slice", Langs::EN),
    ("slices", "slice", Langs::EN),
    ("scheibe", "slice", Langs::DE),
    ("scheiben", "slice", Langs::DE),
    ("rebanada", "slice", Langs::ES),
    ("rebanadas", "slice", Langs::ES),
    ("rodaja", "slice", Langs::ES),
    ("rodajas", "slice", Langs::ES),
    ("loncha", "slice", Langs::ES),
    ("lonchas", "slice", Langs::ES),
    ("rasher", "rasher", Langs::EN),
    ("rashers", "rasher", Langs::EN),
    ("fillet", "fillet", Langs::EN),
    ("fillets", "fillet", Langs::EN),
    ("filete", "fillet", Langs::ES),
    ("filetes", "fillet", Langs::ES),
    ("can", "can", Langs::EN),
    ("cans", "can", Langs::EN),
    ("tin", "can", Langs::EN),
    ("tins", "can", Langs::EN),
    ("dose", "can", Langs::DE),
    ("dosen", "can", Langs::DE),
    ("lata", "can", Langs::ES),
    ("latas", "can", Langs::ES),
    ("jar", "jar", Langs::EN),
    ("jars", "jar", Langs::EN),
    ("glas", "jar", Langs::DE),
    ("gläser", "jar", Langs::DE),
    ("bote", "jar", Langs::ES),
    ("botes", "jar", Langs::ES),
    ("frasco", "jar", Langs::ES),
    ("frascos", "jar", Langs::ES),
    ("bottle", "bottle", Langs::EN),
    ("bottles", "bottle", Langs::EN),
    ("flasche", "bottle", Langs::DE),
    ("flaschen", "bottle", Langs::DE),
    ("botella", "bottle", Langs::ES),
    ("botellas", "bottle", Langs::ES),
    ("package", "package", Langs::EN),
    ("packages", "package", Langs::EN),
    ("pkg", "package", Langs::ALL),
    ("pkgs", "package", Langs::EN),
    ("pack", "package", Langs::EN),
    ("packs", "package", Langs::EN),
    ("packet", "package", Langs::EN),
    ("packets", "package", Langs::EN),
    ("pck", "package", Langs::DE),
    ("pkt", "package", Langs::DE),
    ("päckchen", "package", Langs::DE),
    ("packung", "package", Langs::DE),
    ("packungen", "package", Langs::DE),
    ("tüte", "package", Langs::DE),
    ("beutel", "package", Langs::DE),
    ("paquete", "package", Langs::ES),
    ("paquetes", "package", Langs::ES),
    ("sachet", "sachet", Langs::EN),
    ("sachets", "sachet", Langs::EN),
    ("sobre", "sachet", Langs::ES),
    ("sobres", "sachet", Langs::ES),
    ("bag", "bag", Langs::EN),
    ("bags", "bag", Langs::EN),
    ("bolsa", "bag", Langs::ES),
    ("bolsas", "bag", Langs::ES),
    ("box", "box", Langs::EN),
    ("boxes", "box", Langs::EN),
    ("caja", "box", Langs::ES),
    ("cajas", "box", Langs::ES),
    ("block", "block", Langs::EN),
    ("blocks", "block", Langs::EN),
    ("ball", "ball", Langs::EN),
    ("balls", "ball", Langs::EN),
    ("kugel", "ball", Langs::DE),
    ("kugeln", "ball", Langs::DE),
    ("bola", "ball", Langs::ES),
    ("bolas", "ball", Langs::ES),
    ("tub", "tub", Langs::EN),
    ("tubs", "tub", Langs::EN),
    ("becher", "tub", Langs::DE),
    ("pot", "tub", Langs::EN),
    ("pots", "tub", Langs::EN),
    ("tarrina", "tub", Langs::ES),
    ("tarrinas", "tub", Langs::ES),
    ("roll", "roll", Langs::EN),
    ("rolls", "roll", Langs::EN),
    ("rolle", "roll", Langs::DE),
    ("rollen", "roll", Langs::DE),
    ("sleeve", "sleeve", Langs::EN),
    ("sleeves", "sleeve", Langs::EN),
    ("bunch", "bunch", Langs::EN),
    ("bunches", "bunch", Langs::EN),
    ("bund", "bunch", Langs::DE),
    ("manojo", "bunch", Langs::ES),
    ("manojos", "bunch", Langs::ES),
    ("atado", "bunch", Langs::ES),
    ("atados", "bunch", Langs::ES),
    ("sprig", "sprig", Langs::EN),
    ("sprigs", "sprig", Langs::EN),
    ("zweig", "sprig", Langs::DE),
    ("zweige", "sprig", Langs::DE),
    ("zweiglein", "sprig", Langs::DE),
    ("rama", "sprig", Langs::ES),
    ("ramas", "sprig", Langs::ES),
    ("ramita", "sprig", Langs::ES),
    ("ramitas", "sprig", Langs::ES),
    ("stalk", "stalk", Langs::EN),
    ("stalks", "stalk", Langs::EN),
    ("stange", "stalk", Langs::DE),
    ("stangen", "stalk", Langs::DE),
    ("tallo", "stalk", Langs::ES),
    ("tallos", "stalk", Langs::ES),
    ("stem", "stem", Langs::EN),
    ("stems", "stem", Langs::EN),
    ("rib", "rib", Langs::EN),
    ("ribs", "rib", Langs::EN),
    ("ear", "ear", Langs::EN),
    ("ears", "ear", Langs::EN),
    ("sheet", "sheet", Langs::EN),
    ("sheets", "sheet", Langs::EN),
    ("blatt", "sheet", Langs::DE),
    ("blätter", "sheet", Langs::DE),
    ("lámina", "sheet", Langs::ES),
    ("láminas", "sheet", Langs::ES),
    ("hoja", "leaf", Langs::ES),
    ("hojas", "leaf", Langs::ES),
    ("head", "head", Langs::EN),
    ("heads", "head", Langs::EN),
    ("bulb", "head", Langs::EN),
    ("bulbs", "head", Langs::EN),
    ("kopf", "head", Langs::DE),
    ("köpfe", "head", Langs::DE),
    ("cabeza", "head", Langs::ES),
    ("cabezas", "head", Langs::ES),
    ("punnet", "punnet", Langs::EN),
    ("punnets", "punnet", Langs::EN),
    ("schale", "punnet", Langs::DE),
    ("schälchen", "punnet", Langs::DE),
    ("stick", "stick", Langs::EN),
    ("sticks", "stick", Langs::EN),
    ("loaf", "loaf", Langs::EN),
    ("loaves", "loaf", Langs::EN),
    ("cube", "cube", Langs::EN),
    ("cubes", "cube", Langs::EN),
    ("würfel", "cube", Langs::DE),
    ("cubito", "cube", Langs::ES),
    ("cubitos", "cube", Langs::ES),
    ("pastilla", "cube", Langs::ES),
    ("pastillas", "cube", Langs::ES),
    ("scoop", "scoop", Langs::EN),
    ("scoops", "scoop", Langs::EN),
    ("glass", "glass", Langs::EN),
    ("glasses", "glass", Langs::EN),
    ("vaso", "glass", Langs::ES),
    ("vasos", "glass", Langs::ES),
];

/// Longest spelling in words.
const MAX_WORDS: usize = 3;

/// `word` as a lookup key: lower case, without dots, and without a plural marker "(s)",
/// "(n)", "(es)".
fn key(word: &str) -> Cow<'_, str> {
    if !word.contains(['(', '.']) {
        return lower(word);
    }
    let lower = lower(word);
    let lower = ["(s)", "(n)", "(es)", "(en)"].iter().find_map(|m| lower.strip_suffix(m)).unwrap_or(&lower);
    Cow::Owned(lower.replace('.', ""))
}

/// A unit written at the start of `words`: its code, how many words it took.
///
/// Single letters are case-sensitive where cooks make them so: "T" is a tablespoon and "t" a
/// teaspoon; "c" is a cup only in English.
pub(crate) fn unit_at(words: &[&str], langs: Langs) -> Option<(&'static str, usize)> {
    let first = *words.first()?;
    match first.trim_end_matches('.') {
        "T" | "Tb" | "Tbl" => return Some(("tbsp", 1)),
        "t" => return Some(("tsp", 1)),
        _ => {}
    }
    // Most words start no unit: those are told by their first word alone.
    let first = key(first);
    if !FIRST_WORDS.contains(&*first) {
        return None;
    }
    let keys: Vec<Cow<'_, str>> =
        std::iter::once(first).chain(words.iter().skip(1).take(MAX_WORDS - 1).map(|w| key(w))).collect();
    for n in (1..=keys.len()).rev() {
        // One word, the common case, needs no joined copy.
        let joined = if n == 1 { Cow::Borrowed(&*keys[0]) } else { Cow::Owned(keys[..n].join(" ")) };
        if joined.is_empty() {
            continue;
        }
        let codes = BY_SPELLING.get(&*joined);
        if let Some((code, _)) = codes.and_then(|codes| codes.iter().find(|(_, known)| langs.has(*known))) {
            return Some((code, n));
        }
    }
    None
}

/// The first word of every spelling in [`SPELLINGS`].
static FIRST_WORDS: LazyLock<HashSet<&str>> =
    LazyLock::new(|| SPELLINGS.iter().filter_map(|&(spelling, _, _)| spelling.split(' ').next()).collect());

/// [`SPELLINGS`] by spelling, each spelling's codes in table order: `unit_at` runs at every
/// word of every line, and a scan of the table at each was most of a line's parse.
static BY_SPELLING: LazyLock<HashMap<&str, Vec<(&str, Langs)>>> = LazyLock::new(|| {
    let mut by_spelling: HashMap<&str, Vec<(&str, Langs)>> = HashMap::new();
    for &(spelling, code, langs) in SPELLINGS {
        by_spelling.entry(spelling).or_default().push((code, langs));
    }
    by_spelling
});

/// Whether `code` is a container that carries a size ("can", "package").
pub(crate) fn is_container(code: &str) -> bool {
    CONTAINERS.contains(&code)
}

/// Whether `code` weighs or measures volume.
pub(crate) fn is_measure(code: &str) -> bool {
    matches!(lookup(code).kind, Kind::Mass | Kind::Volume)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(text: &str, tag: &str) -> Option<(&'static str, usize)> {
        let words: Vec<&str> = text.split_whitespace().collect();
        unit_at(&words, Langs::for_tag(tag))
    }

    #[test]
    fn every_spelling_is_found_whole_in_its_languages() {
        // Also the first-word shortcut's check: no spelling is missed by it.
        for &(spelling, _, langs) in SPELLINGS {
            let words: Vec<&str> = spelling.split(' ').collect();
            assert_eq!(unit_at(&words, langs).map(|(_, n)| n), Some(words.len()), "{spelling:?}");
        }
    }

    #[test]
    fn spellings_map_to_canonical_codes_in_their_languages() {
        let cases = [
            ("tablespoons sugar", "en", Some(("tbsp", 1))),
            ("EL Zucker", "de", Some(("tbsp", 1))),
            ("Stk. Eier", "de", Some(("piece", 1))),
            ("Zehe(n) Knoblauch", "de", Some(("clove", 1))),
            ("cdta de sal", "es", Some(("tsp", 1))),
            ("cucharada de postre de azúcar", "es", Some(("tsp", 3))),
            ("fl oz water", "en", Some(("fl oz", 2))),
            ("fl. oz. cream", "en", Some(("fl oz", 2))),
            ("c milk", "en", Some(("cup", 1))),
            ("T. butter", "en", Some(("tbsp", 1))),
            ("t vanilla", "en", Some(("tsp", 1))),
            ("el zumo", "es", None),
            ("garlic", "en", None),
        ];
        for (text, tag, expected) in cases {
            assert_eq!(find(text, tag), expected, "{text:?} in {tag}");
        }
    }

    #[test]
    fn every_spelling_has_a_known_code() {
        for (spelling, code, _) in SPELLINGS {
            let known = UNITS.iter().any(|(known, _)| known == code)
                || SMALL.contains(code)
                || CONTAINERS.contains(code)
                || [
                    "piece", "clove", "slice", "rasher", "fillet", "bunch", "sprig", "stalk", "stem", "rib",
                    "ear", "sheet", "leaf", "head", "stick", "loaf", "cube", "scoop", "glass",
                ]
                .contains(code);
            assert!(known, "{spelling:?} maps to unknown code {code:?}");
        }
    }
}
