//! Amounts at the start of a text: "200", "0,5", "1.5", "1/2", "1 1/2", "½", "1½", "2-3", "2x",
//! and small number words in English and German ("two", "a", "eine", "half a", "anderthalb").

use super::text::{first_word, strip_prefix_ci};

/// An amount found at the start of a text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Quantity {
    /// The amount. For a range ("2-3", "2 to 3") the lower bound: the recipe stays usable ("start
    /// with 2 cloves") and the ingredient's `raw` text keeps the full range.
    pub(super) value: f64,
    /// How many bytes of the text the amount used.
    pub(super) len: usize,
    /// The amount is an indefinite article ("a", "eine"), which only means "one" before a unit
    /// or a countable noun, never in "a little" or "ein paar".
    pub(super) article: bool,
}

/// Numbers written as words, English then German. Only small numbers: recipes spell out "two
/// eggs", never "two hundred grams".
const NUMBER_WORDS: &[(&str, f64)] = &[
    ("one", 1.0),
    ("two", 2.0),
    ("three", 3.0),
    ("four", 4.0),
    ("five", 5.0),
    ("six", 6.0),
    ("seven", 7.0),
    ("eight", 8.0),
    ("nine", 9.0),
    ("ten", 10.0),
    ("eleven", 11.0),
    ("twelve", 12.0),
    ("dozen", 12.0),
    ("half", 0.5),
    ("eins", 1.0),
    ("zwei", 2.0),
    ("drei", 3.0),
    ("vier", 4.0),
    ("fünf", 5.0),
    ("sechs", 6.0),
    ("sieben", 7.0),
    ("acht", 8.0),
    ("neun", 9.0),
    ("zehn", 10.0),
    ("elf", 11.0),
    ("zwölf", 12.0),
    ("dutzend", 12.0),
    ("halb", 0.5),
    ("halbe", 0.5),
    ("halben", 0.5),
    ("halber", 0.5),
    ("halbes", 0.5),
    ("anderthalb", 1.5),
    ("eineinhalb", 1.5),
];

/// Indefinite articles, read as "one".
const ARTICLES: &[&str] = &["a", "an", "ein", "eine", "einen", "einem", "einer"];

/// Words that turn an article into a fraction ("a half", "eine halbe").
const HALF_WORDS: &[&str] = &["half", "halbe", "halben", "halber", "halbes"];

/// The value of a unicode vulgar fraction ("½" is 0.5).
pub(super) fn vulgar_fraction(c: char) -> Option<f64> {
    let value = match c {
        '½' => 1.0 / 2.0,
        '⅓' => 1.0 / 3.0,
        '⅔' => 2.0 / 3.0,
        '¼' => 1.0 / 4.0,
        '¾' => 3.0 / 4.0,
        '⅕' => 1.0 / 5.0,
        '⅖' => 2.0 / 5.0,
        '⅗' => 3.0 / 5.0,
        '⅘' => 4.0 / 5.0,
        '⅙' => 1.0 / 6.0,
        '⅚' => 5.0 / 6.0,
        '⅐' => 1.0 / 7.0,
        '⅛' => 1.0 / 8.0,
        '⅜' => 3.0 / 8.0,
        '⅝' => 5.0 / 8.0,
        '⅞' => 7.0 / 8.0,
        '⅑' => 1.0 / 9.0,
        '⅒' => 1.0 / 10.0,
        _ => return None,
    };
    Some(value)
}

/// Number of leading ASCII digits.
fn digits(s: &str) -> usize {
    s.bytes().take_while(u8::is_ascii_digit).count()
}

/// A fraction "a/b" (or with the fraction slash "a⁄b") at the start of `s`.
fn fraction(s: &str) -> Option<(f64, usize)> {
    let num_len = digits(s);
    if num_len == 0 || num_len > 3 {
        return None;
    }
    let rest = &s[num_len..];
    let after = rest.strip_prefix('/').or_else(|| rest.strip_prefix('⁄'))?;
    let den_len = digits(after);
    if den_len == 0 || den_len > 3 {
        return None;
    }
    let num: f64 = s[..num_len].parse().ok()?;
    let den: f64 = after[..den_len].parse().ok()?;
    if den < 1.0 {
        return None;
    }
    Some((num / den, s.len() - after.len() + den_len))
}

/// A number written with digits or fraction characters at the start of `s`.
fn parse_number(s: &str) -> Option<(f64, usize)> {
    let first = s.chars().next()?;
    if let Some(value) = vulgar_fraction(first) {
        return Some((value, first.len_utf8()));
    }
    if let Some(found) = fraction(s) {
        return Some(found);
    }
    let int_len = digits(s);
    // Seven digits are a date or an id, not an amount.
    if int_len == 0 || int_len > 6 {
        return None;
    }
    let int: f64 = s[..int_len].parse().ok()?;
    let rest = &s[int_len..];
    if let Some(separator) = rest.chars().next().filter(|c| matches!(c, '.' | ',')) {
        let frac_len = digits(&rest[1..]);
        // A decimal comma ("0,5", "2,25") has one or two digits; "1,000" would be a thousands
        // separator, which recipes do not use, so the number stops at the comma.
        if frac_len > 0 && (separator == '.' || frac_len <= 2) {
            let value: f64 = format!("{}.{}", &s[..int_len], &rest[1..=frac_len]).parse().ok()?;
            return Some((value, int_len + 1 + frac_len));
        }
    }
    if let Some(value) = rest.chars().next().and_then(vulgar_fraction) {
        return Some((int + value, int_len + rest.chars().next().map_or(0, char::len_utf8)));
    }
    // Mixed numbers take exactly one space: "1 ½", "1 1/2".
    if let Some(after) = rest.strip_prefix(' ') {
        if let Some(c) = after.chars().next() {
            if let Some(value) = vulgar_fraction(c) {
                return Some((int + value, int_len + 1 + c.len_utf8()));
            }
        }
        if let Some((value, len)) = fraction(after).filter(|(value, _)| *value < 1.0) {
            return Some((int + value, int_len + 1 + len));
        }
    }
    Some((int, int_len))
}

/// A number word (or an article) at the start of `s`.
fn parse_word(s: &str) -> Option<Quantity> {
    let word = first_word(s);
    if word.is_empty() {
        return None;
    }
    let lower = word.to_lowercase();
    let after_word = &s[word.len()..];
    let next_start = s.len() - after_word.trim_start().len();
    let next = first_word(&s[next_start..]);
    let next_lower = next.to_lowercase();
    let through_next = next_start + next.len();

    if ARTICLES.contains(&lower.as_str()) {
        if !next.is_empty() {
            let value = match next_lower.as_str() {
                w if HALF_WORDS.contains(&w) => Some(0.5),
                "quarter" => Some(0.25),
                "dozen" | "dutzend" => Some(12.0),
                "couple" => Some(2.0),
                _ => None,
            };
            if let Some(value) = value {
                return Some(Quantity { value, len: through_next, article: false });
            }
        }
        return Some(Quantity { value: 1.0, len: word.len(), article: true });
    }
    if lower == "half" && matches!(next_lower.as_str(), "a" | "an") {
        return Some(Quantity { value: 0.5, len: through_next, article: false });
    }
    let value = NUMBER_WORDS.iter().find(|(w, _)| *w == lower)?.1;
    if strip_prefix_ci(after_word, " and a half").is_some() {
        return Some(Quantity { value: value + 0.5, len: word.len() + 11, article: false });
    }
    Some(Quantity { value, len: word.len(), article: false })
}

/// Whether `rest` (right after a number) is an ordinal suffix: "2nd", "3rd".
fn is_ordinal(rest: &str) -> bool {
    ["st", "nd", "rd", "th"].iter().any(|suffix| {
        strip_prefix_ci(rest, suffix)
            .is_some_and(|after| after.chars().next().is_none_or(|c| !c.is_alphabetic()))
    })
}

/// Where a range that starts at `len` ends ("2-3", "2 – 3", "2 to 3", "2 bis 3", "2 or 3").
fn range_end(s: &str, len: usize) -> usize {
    let rest = s[len..].trim_start();
    let after = rest
        .strip_prefix(['-', '–', '—'])
        .or_else(|| ["to ", "bis ", "or ", "oder "].iter().find_map(|w| strip_prefix_ci(rest, w)));
    let Some(after) = after else { return len };
    let second = after.trim_start();
    let second_len = parse_number(second)
        .map(|(_, l)| l)
        .or_else(|| parse_word(second).filter(|q| !q.article).map(|q| q.len));
    second_len.map_or(len, |l| s.len() - second.len() + l)
}

/// Where a multiplier sign after an amount ends ("2x Eier", "3 × Zwiebel").
fn multiplier_end(s: &str, len: usize) -> usize {
    let rest = &s[len..];
    let trimmed = rest.trim_start_matches(' ');
    if rest.len() - trimmed.len() > 1 {
        return len;
    }
    let mut chars = trimmed.chars();
    match chars.next() {
        Some(c @ ('x' | 'X' | '×')) if chars.next().is_none_or(char::is_whitespace) => {
            s.len() - trimmed.len() + c.len_utf8()
        }
        _ => len,
    }
}

/// The amount at the very start of `s`, if there is one.
pub(super) fn parse_quantity(s: &str) -> Option<Quantity> {
    let quantity = match parse_number(s) {
        Some((value, len)) => {
            if is_ordinal(&s[len..]) {
                return None;
            }
            let len = range_end(s, len);
            Quantity { value, len: multiplier_end(s, len), article: false }
        }
        None => {
            let word = parse_word(s)?;
            if word.article { word } else { Quantity { len: range_end(s, word.len), ..word } }
        }
    };
    quantity.value.is_finite().then_some(quantity)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(s: &str) -> Option<f64> {
        parse_quantity(s).map(|q| q.value)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn amounts_in_every_notation_are_read() {
        let cases: &[(&str, f64, usize, &str)] = &[
            ("200 g", 200.0, 3, "integer"),
            ("0.5 l", 0.5, 3, "decimal point"),
            ("0,5 l", 0.5, 3, "German decimal comma"),
            ("2,25 kg", 2.25, 4, "two-digit decimal comma"),
            ("1/2 cup", 0.5, 3, "fraction"),
            ("3⁄4 cup", 0.75, 5, "fraction slash"),
            ("1 1/2 cups", 1.5, 5, "mixed number"),
            ("½ cup", 0.5, 2, "unicode half"),
            ("¾ cup", 0.75, 2, "unicode three quarters"),
            ("⅓ cup", 1.0 / 3.0, 3, "unicode third"),
            ("⅛ tsp", 0.125, 3, "unicode eighth"),
            ("1½ cups", 1.5, 3, "glued unicode mixed number"),
            ("2 ¼ cups", 2.25, 4, "spaced unicode mixed number"),
            ("2-3 cloves", 2.0, 3, "range takes the lower bound"),
            ("2 – 3 Zehen", 2.0, 7, "spaced en-dash range"),
            ("2 to 3 eggs", 2.0, 6, "worded range"),
            ("2 bis 3 Eier", 2.0, 7, "German worded range"),
            ("2x Eier", 2.0, 2, "multiplier"),
            ("two eggs", 2.0, 3, "English word"),
            ("Twelve", 12.0, 6, "capitalised word"),
            ("one and a half cups", 1.5, 14, "worded mixed number"),
            ("half a cup", 0.5, 6, "half a"),
            ("a half cup", 0.5, 6, "a half"),
            ("zwei Eier", 2.0, 4, "German word"),
            ("eine halbe Zitrone", 0.5, 10, "German half"),
            ("anderthalb Tassen", 1.5, 10, "German one and a half"),
            ("a dozen eggs", 12.0, 7, "a dozen"),
        ];
        for &(input, expected, len, why) in cases {
            let q = parse_quantity(input);
            assert!(q.is_some_and(|q| close(q.value, expected)), "{why}: {input:?} gave {q:?}");
            assert_eq!(q.map(|q| q.len), Some(len), "{why}: length of {input:?}");
        }
    }

    #[test]
    fn articles_are_marked_so_callers_can_require_a_unit() {
        for (input, why) in
            [("a pinch", "English a"), ("an onion", "English an"), ("eine Prise", "German eine")]
        {
            let q = parse_quantity(input);
            assert_eq!(q.map(|q| (q.value, q.article)), Some((1.0, true)), "{why}");
        }
    }

    #[test]
    fn things_that_are_not_amounts_are_refused() {
        let cases = [
            ("salt", "a plain word"),
            ("2nd step", "ordinal"),
            ("20230101 video", "a date-like number"),
            ("", "empty"),
            ("- 2 eggs", "a bullet, not a negative number"),
            ("oneself", "a word starting with a number word"),
        ];
        for (input, why) in cases {
            assert_eq!(value(input), None, "{why}: {input:?}");
        }
    }

    #[test]
    fn a_thousands_comma_stops_the_number() {
        assert_eq!(parse_quantity("1,000 g").map(|q| q.len), Some(1), "three digits after a comma");
    }
}
