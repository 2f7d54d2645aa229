//! Writing an ingredient back as a line, and writing amounts the way cooks read them:
//! fractions ("1 ½ cups", "⅓ cup") for US measures and counts, decimals ("0,5 l" in German and
//! Spanish, "1.5 kg" in English) for metric ones.

use protocol::{Ingredient, Measure};

use crate::lang::Langs;
use crate::units::{Kind, System, lookup};

/// Fractions a kitchen measures, with their glyphs.
const FRACTIONS: &[(f64, &str)] =
    &[(0.125, "⅛"), (0.25, "¼"), (1.0 / 3.0, "⅓"), (0.5, "½"), (2.0 / 3.0, "⅔"), (0.75, "¾")];

/// `value` with at most two decimals and no trailing zeros, with `comma` as decimal separator.
pub(crate) fn decimal(value: f64, comma: bool) -> String {
    let text = format!("{:.2}", (value * 100.0).round() / 100.0);
    let text = text.trim_end_matches('0').trim_end_matches('.').to_owned();
    if comma { text.replace('.', ",") } else { text }
}

/// `value` as a whole number and a kitchen fraction ("1 ½", "⅔", "3"), or as a decimal when no
/// fraction is within 4 % of it.
pub(crate) fn fraction(value: f64) -> String {
    let whole = value.floor();
    let rest = value - whole;
    if rest < 0.06 {
        return decimal(whole.max(if value > 0.0 { 1.0 } else { 0.0 }).max(whole), false);
    }
    if rest > 0.94 {
        return decimal(whole + 1.0, false);
    }
    let (best, glyph) = FRACTIONS
        .iter()
        .min_by(|a, b| (a.0 - rest).abs().total_cmp(&(b.0 - rest).abs()))
        .copied()
        .unwrap_or((0.5, "½"));
    if (best - rest).abs() > 0.04 {
        return decimal(value, false);
    }
    if whole == 0.0 { glyph.to_owned() } else { format!("{whole} {glyph}") }
}

/// An amount (and range) as plain decimals, the way sizes are written ("400", "1.5").
pub(crate) fn number(value: f64, max: Option<f64>) -> String {
    match max {
        Some(max) => format!("{}-{}", decimal(value, false), decimal(max, false)),
        None => decimal(value, false),
    }
}

/// Whether amounts in `unit` read best as fractions.
fn uses_fractions(unit: Option<&str>) -> bool {
    match unit {
        None => true,
        Some(code) => {
            let u = lookup(code);
            u.system == System::Us || matches!(u.kind, Kind::Count | Kind::Small)
        }
    }
}

/// An amount for a line in `unit`, in the language's notation.
pub(crate) fn amount(value: f64, max: Option<f64>, unit: Option<&str>, langs: Langs) -> String {
    let comma = langs.primary() != Langs::EN;
    let one = |v: f64| if uses_fractions(unit) { fraction(v) } else { decimal(v, comma) };
    match max {
        Some(max) => {
            let (low, high) = (one(value), one(max));
            if low.contains(' ') || high.contains(' ') {
                // "¾-1 ½" would read as a range to 1, then a stray half.
                let word = match langs.primary() {
                    l if l == Langs::DE => "bis",
                    l if l == Langs::ES => "a",
                    _ => "to",
                };
                format!("{low} {word} {high}")
            } else {
                format!("{low}-{high}")
            }
        }
        None => one(value),
    }
}

/// How a unit is written in a language: (singular, plural).
fn unit_words(code: &str, langs: Langs) -> (String, String) {
    let lang = langs.primary();
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    if lang == Langs::DE {
        return match code {
            "tbsp" => pair("EL", "EL"),
            "tsp" => pair("TL", "TL"),
            "cup" => pair("Tasse", "Tassen"),
            "pinch" => pair("Prise", "Prisen"),
            "piece" => pair("Stk.", "Stk."),
            "clove" => pair("Zehe", "Zehen"),
            "can" => pair("Dose", "Dosen"),
            "package" => pair("Pck.", "Pck."),
            "bunch" => pair("Bund", "Bund"),
            "slice" => pair("Scheibe", "Scheiben"),
            "tub" => pair("Becher", "Becher"),
            "knifepoint" => pair("Msp.", "Msp."),
            "sprig" => pair("Zweig", "Zweige"),
            "stalk" => pair("Stange", "Stangen"),
            "sheet" => pair("Blatt", "Blatt"),
            "jar" => pair("Glas", "Gläser"),
            "handful" => pair("Handvoll", "Handvoll"),
            "cube" => pair("Würfel", "Würfel"),
            "head" => pair("Kopf", "Köpfe"),
            other => pair(other, other),
        };
    }
    if lang == Langs::ES {
        return match code {
            "tbsp" => pair("cucharada", "cucharadas"),
            "tsp" => pair("cucharadita", "cucharaditas"),
            "cup" => pair("taza", "tazas"),
            "pinch" => pair("pizca", "pizcas"),
            "piece" => pair("unidad", "unidades"),
            "clove" => pair("diente", "dientes"),
            "can" => pair("lata", "latas"),
            "package" => pair("paquete", "paquetes"),
            "sachet" => pair("sobre", "sobres"),
            "bunch" => pair("manojo", "manojos"),
            "slice" => pair("rebanada", "rebanadas"),
            "sprig" => pair("rama", "ramas"),
            "handful" => pair("puñado", "puñados"),
            "dash" => pair("chorrito", "chorritos"),
            "leaf" => pair("hoja", "hojas"),
            "sheet" => pair("lámina", "láminas"),
            "glass" => pair("vaso", "vasos"),
            other => pair(other, other),
        };
    }
    match code {
        "g" | "kg" | "mg" | "ml" | "l" | "dl" | "cl" | "tsp" | "tbsp" | "oz" | "lb" | "fl oz" | "cm" => {
            pair(code, code)
        }
        "inch" => pair("inch", "inches"),
        "pinch" | "dash" | "bunch" | "box" | "glass" | "splash" => (code.to_owned(), format!("{code}es")),
        "leaf" => pair("leaf", "leaves"),
        "loaf" => pair("loaf", "loaves"),
        "knifepoint" => pair("knifepoint", "knifepoints"),
        other => (other.to_owned(), format!("{other}s")),
    }
}

/// The unit as the line writes it: the original spelling when there is one (inflected for
/// number where it is a plain word), else the language's own word.
pub(crate) fn unit_text(code: &str, written: Option<&str>, plural: bool, langs: Langs) -> String {
    let (one, many) = unit_words(code, langs);
    let Some(written) = written else { return if plural { many } else { one } };
    let lower = written.to_lowercase();
    if lower == one.to_lowercase() || lower == many.to_lowercase() {
        return if plural { many } else { one };
    }
    let word = lower.chars().count() > 3 && lower.chars().all(|c| c.is_alphabetic() || c == ' ');
    if word && langs.primary() != Langs::DE {
        // "tablespoon" <-> "tablespoons", "cucharada" <-> "cucharadas", "pinch" <-> "pinches".
        let singular = if lower.ends_with("ches") || lower.ends_with("shes") || lower.ends_with("ntes") {
            &written[..written.len() - 2]
        } else {
            written.strip_suffix('s').unwrap_or(written)
        };
        let inflected = match plural {
            false => singular.to_owned(),
            true if singular.ends_with("ch") || singular.ends_with("sh") || singular.ends_with("nt") => {
                format!("{singular}es")
            }
            true => format!("{singular}s"),
        };
        // Only a spelling the parser reads back as the same unit ("tblsps" is none).
        let same = crate::units::unit_at(&[inflected.as_str()], Langs::ALL).is_some_and(|(c, _)| c == code);
        return if same { inflected } else { written.to_owned() };
    }
    written.to_owned()
}

/// A measure ("125 g", "4 ½ oz").
fn measure(
    quantity: f64,
    max: Option<f64>,
    unit: Option<&str>,
    written: Option<&str>,
    langs: Langs,
) -> String {
    let amount = amount(quantity, max, unit, langs);
    match unit {
        Some(code) => {
            let plural = max.unwrap_or(quantity) > 1.0;
            format!("{amount} {}", unit_text(code, written, plural, langs))
        }
        None => amount,
    }
}

/// The second measure, for a line.
fn alt_text(alt: &Measure, langs: Langs) -> String {
    measure(alt.quantity, alt.quantity_max, alt.unit.as_deref(), alt.unit_text.as_deref(), langs)
}

/// The line of `after`, an ingredient whose amount (and maybe unit) changed from `before`: the
/// line as the author wrote it with only its leading measure replaced, so "4 Stk. Eier (Gr. M)"
/// scales to "6 Stk. Eier (Gr. M)" and "500 g de harina" converts to "1 lb de harina" with
/// every other word kept. A line that does not start with that measure (a hedge, an amount
/// later in the line, a metric/imperial pair) is rendered from the fields instead.
pub(crate) fn rewrite_line(before: &Ingredient, after: &Ingredient, langs: Langs) -> String {
    let raw = before.raw.trim();
    let lead = crate::lead::lead_at(raw, langs).filter(|lead| {
        let at_start = crate::lead::amount_here(raw, langs).is_some_and(|a| a.len == lead.amount_end);
        let same_amount = before.quantity.is_some_and(|q| (q - lead.quantity).abs() < 1e-9);
        at_start && same_amount && lead.unit == before.unit.as_deref() && before.alt.is_none()
    });
    let (Some(lead), Some(quantity)) = (lead, after.quantity) else { return render_line(after, langs) };
    let mut line =
        measure(quantity, after.quantity_max, after.unit.as_deref(), after.unit_text.as_deref(), langs);
    if let Some(alt) = &after.alt {
        line.push_str(&format!(" ({})", alt_text(alt, langs)));
    }
    match lead.unit {
        // Keep the linking word between unit and food ("cups of", "g de", "g von").
        Some(_) => {
            let between = &raw[lead.amount_end..lead.name_start];
            let linker = between.split_whitespace().last().filter(|w| {
                between.split_whitespace().count() >= 2
                    && matches!(w.to_lowercase().as_str(), "of" | "de" | "von" | "d'")
            });
            if let Some(linker) = linker {
                line.push(' ');
                line.push_str(linker);
            }
            if lead.name_start < raw.len() {
                line.push(' ');
                line.push_str(&raw[lead.name_start..]);
            }
        }
        None => line.push_str(&raw[lead.amount_end..]),
    }
    line
}

/// The ingredient written as one line from its fields.
pub(crate) fn render_line(ingredient: &Ingredient, langs: Langs) -> String {
    let mut out = String::new();
    if let Some(q) = ingredient.quantity {
        out.push_str(&measure(
            q,
            ingredient.quantity_max,
            ingredient.unit.as_deref(),
            ingredient.unit_text.as_deref(),
            langs,
        ));
    } else if let Some(unit) = &ingredient.unit {
        out.push_str(&unit_text(unit, ingredient.unit_text.as_deref(), false, langs));
    }
    if let Some(alt) = &ingredient.alt {
        out.push_str(&format!(" ({})", alt_text(alt, langs)));
    }
    let spanish_link = langs.primary() == Langs::ES && ingredient.unit.is_some();
    // Spanish puts sizes after the food ("huevos grandes"), and a grade letter ("L", "M")
    // before it would read as a unit.
    let grade =
        ingredient.size.as_deref().is_some_and(|s| s.len() <= 2 && s.chars().all(|c| c.is_ascii_uppercase()));
    let size_after = langs.primary() == Langs::ES || grade;
    // A measured size follows the unit in parentheses: "1 can (14-ounce)", "2 (150 g) fillets".
    let measured = ingredient.size.as_deref().is_some_and(|s| s.chars().any(|c| c.is_ascii_digit()));
    if let Some(size) = ingredient.size.as_ref() {
        if measured {
            out.push_str(&format!(" ({size})"));
        } else if !size_after {
            out.push(' ');
            out.push_str(size);
        }
    }
    if !ingredient.name.is_empty() {
        if !out.is_empty() {
            out.push(' ');
        }
        if spanish_link {
            out.push_str("de ");
        }
        out.push_str(&ingredient.name);
    }
    if let Some(size) = ingredient.size.as_ref().filter(|_| size_after && !measured) {
        out.push(' ');
        out.push_str(size);
    }
    let note = match (&ingredient.preparation, &ingredient.comment) {
        (None, None) => ingredient.note.clone(),
        (p, c) => Some([p.as_deref(), c.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(", ")),
    };
    if let Some(note) = note.filter(|n| !n.is_empty()) {
        out.push_str(", ");
        out.push_str(&note);
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_cooks_write_them() {
        assert_eq!(fraction(1.5), "1 ½");
        assert_eq!(fraction(0.333), "⅓");
        assert_eq!(fraction(2.0), "2");
        assert_eq!(fraction(0.74), "¾");
        assert_eq!(decimal(0.5, true), "0,5");
        assert_eq!(decimal(250.0, false), "250");
        assert_eq!(amount(2.0, Some(3.0), Some("tbsp"), Langs::EN), "2-3");
    }
}
