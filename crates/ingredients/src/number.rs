//! Amounts: digits ("200", "0,5", "1.5"), fractions ("1/2", "1 1/2", "½", "1½"), ranges ("2-3",
//! "2 – 3", "1 to 2", "1 bis 2", "2 a 3", "1 o 2") and number words ("two", "a", "half",
//! "eine", "zwei", "anderthalb", "una", "dos", "medio", "un par de").

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::lang::Langs;
use crate::tokens::lower;

/// An amount at the start of a word list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Amount {
    /// The amount, or the lower end of a range.
    pub(crate) value: f64,
    /// The upper end of a range.
    pub(crate) max: Option<f64>,
    /// How many words it took.
    pub(crate) words: usize,
    /// It is only an indefinite article ("a", "eine", "un"): "one" before a unit or a noun,
    /// nothing in "a little".
    pub(crate) article: bool,
}

/// The value of a unicode vulgar fraction.
pub(crate) fn vulgar(c: char) -> Option<f64> {
    Some(match c {
        '½' => 0.5,
        '⅓' => 1.0 / 3.0,
        '⅔' => 2.0 / 3.0,
        '¼' => 0.25,
        '¾' => 0.75,
        '⅕' => 0.2,
        '⅖' => 0.4,
        '⅗' => 0.6,
        '⅘' => 0.8,
        '⅙' => 1.0 / 6.0,
        '⅚' => 5.0 / 6.0,
        '⅛' => 0.125,
        '⅜' => 0.375,
        '⅝' => 0.625,
        '⅞' => 0.875,
        _ => return None,
    })
}

/// A whole word that is a number: "200", "1.5", "0,5", "1/2", "3⁄4", "½", "1½".
pub(crate) fn plain(word: &str) -> Option<f64> {
    let word = word.strip_prefix('~').unwrap_or(word);
    if word.is_empty() || word.len() > 12 {
        return None;
    }
    let mut chars = word.chars();
    let last = chars.next_back()?;
    if let Some(fraction) = vulgar(last) {
        let int = chars.as_str();
        if int.is_empty() {
            return Some(fraction);
        }
        return int
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| int.parse::<f64>().ok())
            .flatten()
            .map(|i| i + fraction);
    }
    if let Some((num, den)) = word.split_once(['/', '⁄']) {
        let all_digits = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(num) || !all_digits(den) {
            return None;
        }
        let den: f64 = den.parse().ok()?;
        return (den >= 1.0).then(|| num.parse::<f64>().ok().map(|n| n / den)).flatten();
    }
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 6 {
        return None;
    }
    let rest = &word[digits..];
    if rest.is_empty() {
        return word.parse().ok();
    }
    let separator = rest.as_bytes()[0];
    if !matches!(separator, b'.' | b',') {
        return None;
    }
    let fraction = &rest[1..];
    // A decimal comma has one or two digits ("0,5", "2,25"); recipes write no thousands commas.
    let ok = matches!(separator, b'.' | b',')
        && !fraction.is_empty()
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && (separator == b'.' || fraction.len() <= 2);
    ok.then(|| format!("{}.{fraction}", &word[..digits]).parse().ok()).flatten()
}

/// A word that is a range on its own: "2-3", "1/4–1/2".
fn range_word(word: &str) -> Option<(f64, f64)> {
    let (low, high) = word.split_once(['-', '–', '—'])?;
    let (low, high) = (plain(low)?, plain(high)?);
    (high > low).then_some((low, high))
}

/// Small numbers written as words, and the vocabularies they belong to.
const WORDS: &[(&str, f64, Langs)] = &[
    ("one", 1.0, Langs::EN),
    ("two", 2.0, Langs::EN),
    ("three", 3.0, Langs::EN),
    ("four", 4.0, Langs::EN),
    ("five", 5.0, Langs::EN),
    ("six", 6.0, Langs::EN),
    ("seven", 7.0, Langs::EN),
    ("eight", 8.0, Langs::EN),
    ("nine", 9.0, Langs::EN),
    ("ten", 10.0, Langs::EN),
    ("eleven", 11.0, Langs::EN),
    ("twelve", 12.0, Langs::EN),
    ("dozen", 12.0, Langs::EN),
    ("half", 0.5, Langs::EN),
    ("eins", 1.0, Langs::DE),
    ("zwei", 2.0, Langs::DE),
    ("drei", 3.0, Langs::DE),
    ("vier", 4.0, Langs::DE),
    ("fünf", 5.0, Langs::DE),
    ("sechs", 6.0, Langs::DE),
    ("sieben", 7.0, Langs::DE),
    ("acht", 8.0, Langs::DE),
    ("neun", 9.0, Langs::DE),
    ("zehn", 10.0, Langs::DE),
    ("elf", 11.0, Langs::DE),
    ("zwölf", 12.0, Langs::DE),
    ("halb", 0.5, Langs::DE),
    ("halbe", 0.5, Langs::DE),
    ("halben", 0.5, Langs::DE),
    ("halber", 0.5, Langs::DE),
    ("halbes", 0.5, Langs::DE),
    ("anderthalb", 1.5, Langs::DE),
    ("eineinhalb", 1.5, Langs::DE),
    ("uno", 1.0, Langs::ES),
    ("dos", 2.0, Langs::ES),
    ("tres", 3.0, Langs::ES),
    ("cuatro", 4.0, Langs::ES),
    ("cinco", 5.0, Langs::ES),
    ("seis", 6.0, Langs::ES),
    ("siete", 7.0, Langs::ES),
    ("ocho", 8.0, Langs::ES),
    ("nueve", 9.0, Langs::ES),
    ("diez", 10.0, Langs::ES),
    ("once", 11.0, Langs::ES),
    ("doce", 12.0, Langs::ES),
    ("docena", 12.0, Langs::ES),
    ("medio", 0.5, Langs::ES),
    ("media", 0.5, Langs::ES),
];

/// Indefinite articles, read as "one" when a unit or a noun follows.
const ARTICLES: &[(&str, Langs)] = &[
    ("a", Langs::EN),
    ("an", Langs::EN),
    ("ein", Langs::DE),
    ("eine", Langs::DE),
    ("einen", Langs::DE),
    ("einer", Langs::DE),
    ("un", Langs::ES),
    ("una", Langs::ES),
];

/// Words between the ends of a range.
const RANGE_WORDS: &[(&str, Langs)] = &[
    ("-", Langs::ALL),
    ("–", Langs::ALL),
    ("—", Langs::ALL),
    ("to", Langs::EN),
    ("or", Langs::EN),
    ("bis", Langs::DE),
    ("oder", Langs::DE),
    ("a", Langs::ES),
    ("o", Langs::ES),
];

/// [`WORDS`] by word, each word's values in table order: a number word is looked for at most
/// words of a line, and a scan of the table at each showed in profiles.
static BY_WORD: LazyLock<HashMap<&str, Vec<(f64, Langs)>>> = LazyLock::new(|| {
    let mut by_word: HashMap<&str, Vec<(f64, Langs)>> = HashMap::new();
    for &(word, value, langs) in WORDS {
        by_word.entry(word).or_default().push((value, langs));
    }
    by_word
});

/// Whether `word` is made of letters only, as every number word and article is.
fn is_word(word: &str) -> bool {
    !word.is_empty() && word.chars().all(char::is_alphabetic)
}

/// A number word (not an article) and how many words it took: "two", "half a", "a half",
/// "one and a half", "eine halbe", "un par de", "una docena de".
fn word_number(words: &[&str], langs: Langs) -> Option<(f64, usize)> {
    let first = lower(words.first()?);
    // Number words and articles are letters only: digits, punctuation and marks are told at
    // once, without a scan of the tables.
    if !is_word(&first) {
        return None;
    }
    // The next words, lower-cased only once the first one asks for them (most words are no
    // number at all).
    let nth = |i: usize| words.get(i).map(|w| lower(w)).unwrap_or_default();
    let is_article = ARTICLES.iter().any(|(a, l)| *a == first && langs.has(*l));
    if is_article {
        let value = match &*nth(1) {
            "half" | "halbe" | "halber" | "halben" | "halbes" => Some(0.5),
            "quarter" => Some(0.25),
            "dozen" | "docena" => Some(12.0),
            "couple" | "par" => Some(2.0),
            _ => None,
        }?;
        let linked = matches!(&*nth(2), "of" | "de");
        return Some((value, if linked { 3 } else { 2 }));
    }
    if first == "half" && matches!(&*nth(1), "a" | "an") {
        return Some((0.5, 2));
    }
    let value = BY_WORD.get(&*first)?.iter().find(|(_, l)| langs.has(*l))?.0;
    let (second, third) = (nth(1), nth(2));
    if second == "and" && third == "a" && words.get(3).is_some_and(|w| lower(w) == "half") {
        return Some((value + 0.5, 4));
    }
    if second == "y" && matches!(&*third, "medio" | "media") {
        return Some((value + 0.5, 3));
    }
    Some((value, 1))
}

/// A number in digits, with a following fraction ("1 1/2", "1 ½") or "y media".
fn digit_number(words: &[&str]) -> Option<(f64, usize)> {
    let value = plain(words.first()?)?;
    if let Some(next) = words.get(1) {
        let is_fraction = next.contains(['/', '⁄']) || next.chars().count() == 1;
        if value.fract() == 0.0
            && is_fraction
            && let Some(fraction) = plain(next).filter(|f| *f < 1.0)
        {
            return Some((value + fraction, 2));
        }
        if lower(next) == "y" && words.get(2).is_some_and(|w| matches!(&*lower(w), "medio" | "media")) {
            return Some((value + 0.5, 3));
        }
    }
    Some((value, 1))
}

/// The amount at the start of `words`, if there is one.
pub(crate) fn amount_at(words: &[&str], langs: Langs) -> Option<Amount> {
    let first = *words.first()?;
    if let Some((low, high)) = range_word(first) {
        return Some(Amount { value: low, max: Some(high), words: 1, article: false });
    }
    let Some((value, used)) = digit_number(words).or_else(|| word_number(words, langs)) else {
        let lower = lower(first);
        let article = is_word(&lower) && ARTICLES.iter().any(|(a, l)| *a == lower && langs.has(*l));
        return article.then_some(Amount { value: 1.0, max: None, words: 1, article: true });
    };
    if !value.is_finite() || value <= 0.0 {
        return None;
    }
    let mut amount = Amount { value, max: None, words: used, article: false };
    // "2 -3" is a range written with a stray space.
    if let Some(high) = words.get(used).and_then(|w| w.strip_prefix(['-', '–'])).and_then(plain) {
        if high > value {
            amount.max = Some(high);
            amount.words += 1;
        }
        return Some(amount);
    }
    let separator = words.get(used).map(|w| lower(w)).unwrap_or_default();
    if RANGE_WORDS.iter().any(|(w, l)| *w == separator && langs.has(*l)) {
        let rest = &words[used + 1..];
        let high = digit_number(rest).or_else(|| word_number(rest, langs));
        if let Some((high, high_used)) = high.filter(|(h, _)| *h > value) {
            amount.max = Some(high);
            amount.words += 1 + high_used;
        }
    }
    Some(amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, tag: &str) -> Option<(f64, Option<f64>, usize)> {
        let words: Vec<&str> = text.split_whitespace().collect();
        amount_at(&words, Langs::for_tag(tag)).map(|a| (a.value, a.max, a.words))
    }

    #[test]
    fn amounts_in_every_notation_are_read() {
        let cases = [
            ("200 g", "en", Some((200.0, None, 1))),
            ("0,5 l", "de", Some((0.5, None, 1))),
            ("1.5 kg", "en", Some((1.5, None, 1))),
            ("1/2 cup", "en", Some((0.5, None, 1))),
            ("1 1/2 cups", "en", Some((1.5, None, 2))),
            ("1 ½ cups", "en", Some((1.5, None, 2))),
            ("1½ cups", "en", Some((1.5, None, 1))),
            ("⅓ cup", "en", Some((1.0 / 3.0, None, 1))),
            ("2-3 eggs", "en", Some((2.0, Some(3.0), 1))),
            ("2–3 eggs", "en", Some((2.0, Some(3.0), 1))),
            ("2 - 3 eggs", "en", Some((2.0, Some(3.0), 3))),
            ("1 to 2 tbsp", "en", Some((1.0, Some(2.0), 3))),
            ("1/4 to 1/2 tsp", "en", Some((0.25, Some(0.5), 3))),
            ("2 bis 3 EL", "de", Some((2.0, Some(3.0), 3))),
            ("2 a 3 dientes", "es", Some((2.0, Some(3.0), 3))),
            ("1 o 2 guindillas", "es", Some((1.0, Some(2.0), 3))),
            ("two eggs", "en", Some((2.0, None, 1))),
            ("one and a half cups", "en", Some((1.5, None, 4))),
            ("half a lemon", "en", Some((0.5, None, 2))),
            ("a dozen eggs", "en", Some((12.0, None, 2))),
            ("eine halbe Zitrone", "de", Some((0.5, None, 2))),
            ("zwei Eier", "de", Some((2.0, None, 1))),
            ("dos huevos", "es", Some((2.0, None, 1))),
            ("media taza", "es", Some((0.5, None, 1))),
            ("un par de huevos", "es", Some((2.0, None, 3))),
            ("1 y media tazas", "es", Some((1.5, None, 3))),
            ("salt", "en", None),
            ("1,000 g", "en", None),
        ];
        for (text, tag, expected) in cases {
            assert_eq!(read(text, tag), expected, "{text:?}");
        }
    }

    #[test]
    fn articles_are_marked() {
        let words = ["a", "pinch"];
        assert!(amount_at(&words, Langs::EN).is_some_and(|a| a.article && a.value == 1.0));
        assert_eq!(amount_at(&["una", "pizca"], Langs::EN), None, "Spanish article needs Spanish");
    }
}
