//! Units of measure after an amount, normalised to one spelling per unit ("tablespoons" and
//! "Tbsp" become "tbsp", "Esslöffel" becomes "EL"). German units keep their German names because
//! the extractor does not translate.

/// Spellings (matched ASCII-case-insensitively) and the unit they mean.
///
/// Single letters that are ambiguous in running text ("T", "t", "c") are left out on purpose:
/// "2 t" is more often a typo than a teaspoon, and a wrong unit is worse than none.
const UNITS: &[(&str, &str)] = &[
    // Metric.
    ("kilograms", "kg"),
    ("kilogram", "kg"),
    ("kilos", "kg"),
    ("kilo", "kg"),
    ("kg", "kg"),
    ("grams", "g"),
    ("gram", "g"),
    ("grammes", "g"),
    ("gramme", "g"),
    ("gramm", "g"),
    ("gr", "g"),
    ("g", "g"),
    ("milliliters", "ml"),
    ("millilitres", "ml"),
    ("milliliter", "ml"),
    ("millilitre", "ml"),
    ("ml", "ml"),
    ("centiliters", "cl"),
    ("centilitres", "cl"),
    ("cl", "cl"),
    ("deciliters", "dl"),
    ("decilitres", "dl"),
    ("dl", "dl"),
    ("liters", "l"),
    ("litres", "l"),
    ("liter", "l"),
    ("litre", "l"),
    ("ltr", "l"),
    ("l", "l"),
    // Imperial and US.
    ("cups", "cup"),
    ("cup", "cup"),
    ("tablespoons", "tbsp"),
    ("tablespoon", "tbsp"),
    ("tbsps", "tbsp"),
    ("tbsp", "tbsp"),
    ("tbs", "tbsp"),
    ("teaspoons", "tsp"),
    ("teaspoon", "tsp"),
    ("tsps", "tsp"),
    ("tsp", "tsp"),
    ("fl oz", "fl oz"),
    ("ounces", "oz"),
    ("ounce", "oz"),
    ("oz", "oz"),
    ("pounds", "lb"),
    ("pound", "lb"),
    ("lbs", "lb"),
    ("lb", "lb"),
    ("pints", "pint"),
    ("pint", "pint"),
    ("quarts", "quart"),
    ("quart", "quart"),
    // Counted things, English.
    ("cloves", "clove"),
    ("clove", "clove"),
    ("pinches", "pinch"),
    ("pinch", "pinch"),
    ("dashes", "dash"),
    ("dash", "dash"),
    ("handfuls", "handful"),
    ("handful", "handful"),
    ("cans", "can"),
    ("can", "can"),
    ("tins", "can"),
    ("tin", "can"),
    ("slices", "slice"),
    ("slice", "slice"),
    ("sticks", "stick"),
    ("stick", "stick"),
    ("sprigs", "sprig"),
    ("sprig", "sprig"),
    ("bunches", "bunch"),
    ("bunch", "bunch"),
    ("packages", "package"),
    ("package", "package"),
    ("packs", "package"),
    ("pack", "package"),
    ("jars", "jar"),
    ("jar", "jar"),
    ("scoops", "scoop"),
    ("scoop", "scoop"),
    ("heads", "head"),
    ("head", "head"),
    ("knobs", "knob"),
    ("knob", "knob"),
    // French, the other language captions most often mix in.
    ("pincées", "pincée"),
    ("pincée", "pincée"),
    // German.
    ("esslöffel", "EL"),
    ("el", "EL"),
    ("teelöffel", "TL"),
    ("tl", "TL"),
    ("prisen", "Prise"),
    ("prise", "Prise"),
    ("stücke", "Stück"),
    ("stück", "Stück"),
    ("stk", "Stück"),
    ("becher", "Becher"),
    ("packungen", "Packung"),
    ("packung", "Packung"),
    ("päckchen", "Packung"),
    ("pkg", "Packung"),
    ("pck", "Packung"),
    ("pkt", "Packung"),
    ("bund", "Bund"),
    ("zehen", "Zehe"),
    ("zehe", "Zehe"),
    ("dosen", "Dose"),
    ("dose", "Dose"),
    ("tassen", "Tasse"),
    ("tasse", "Tasse"),
    ("scheiben", "Scheibe"),
    ("scheibe", "Scheibe"),
    ("handvoll", "Handvoll"),
    ("messerspitze", "Msp"),
    ("msp", "Msp"),
    ("gläser", "Glas"),
    ("glas", "Glas"),
    ("würfel", "Würfel"),
    ("blätter", "Blatt"),
    ("blatt", "Blatt"),
];

/// The unit at the start of `s` (after optional spaces), normalised, and how many bytes it used,
/// including the spaces, an abbreviation dot ("Stk.") and a plural marker ("cup(s)").
pub(super) fn parse_unit(s: &str) -> Option<(&'static str, usize)> {
    let start = s.len() - s.trim_start().len();
    let text = &s[start..];
    let mut best: Option<(&'static str, usize)> = None;
    for &(spelling, unit) in UNITS {
        let Some(head) = text.get(..spelling.len()) else { continue };
        // The unit must end the word: "g" is not the start of "garlic".
        let ends_word = text[spelling.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric());
        if head.eq_ignore_ascii_case(spelling)
            && ends_word
            && best.is_none_or(|(_, len)| spelling.len() > len)
        {
            best = Some((unit, spelling.len()));
        }
    }
    let (unit, mut len) = best?;
    let rest = &text[len..];
    if rest.starts_with("(s)") {
        len += 3;
    } else if let Some(after) = rest.strip_prefix('.') {
        if after.chars().next().is_none_or(|c| !c.is_alphanumeric()) {
            len += 1;
        }
    }
    Some((unit, start + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_recognised_and_normalised() {
        let cases = [
            ("g Mehl", Some(("g", 1)), "gram symbol"),
            ("grams of flour", Some(("g", 5)), "spelled-out grams"),
            (" kg", Some(("kg", 3)), "leading space is counted"),
            ("ml milk", Some(("ml", 2)), "millilitres"),
            ("L Milch", Some(("l", 1)), "upper-case litre"),
            ("Tbsp butter", Some(("tbsp", 4)), "capitalised tablespoon"),
            ("tablespoons sugar", Some(("tbsp", 11)), "plural tablespoon"),
            ("cup(s) flour", Some(("cup", 6)), "plural marker"),
            ("oz. cheese", Some(("oz", 3)), "abbreviation dot"),
            ("EL Zucker", Some(("EL", 2)), "Esslöffel"),
            ("Stk. Eier", Some(("Stück", 4)), "Stück abbreviation"),
            ("Zehen Knoblauch", Some(("Zehe", 5)), "German plural"),
            ("Pkg. Vanillezucker", Some(("Packung", 4)), "Packung abbreviation"),
            ("fl oz water", Some(("fl oz", 5)), "unit with a space"),
            ("scoop protein powder", Some(("scoop", 5)), "scoop"),
            ("pincée de sel", Some(("pincée", 7)), "French pinch"),
            ("garlic", None, "a word starting with a unit letter"),
            ("large eggs", None, "l is not the start of large"),
            ("candy", None, "can is not the start of candy"),
            ("eggs", None, "no unit"),
        ];
        for (input, expected, why) in cases {
            assert_eq!(parse_unit(input), expected, "{why}: {input:?}");
        }
    }
}
