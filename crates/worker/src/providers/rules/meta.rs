//! Servings and times: "Serves 4", "für 2 Personen", "Prep 10 min", "Backzeit 25 Minuten".

use std::sync::LazyLock;

use regex::Regex;

use super::ingredient::parse_quantity;
use super::text::{regex, strip_prefix_ci};

/// Longest plausible time, in minutes (a week: long ferments and brines).
const MAX_MINUTES: f64 = 7.0 * 24.0 * 60.0;

/// Most servings we believe ("makes 48 cookies" is fine, "serves 2024" is a year).
const MAX_SERVINGS: f64 = 500.0;

/// A labelled time: "Prep 10 min", "Cook time: 1 hour", "Backzeit 25 Minuten", "ready in 20 min".
///
/// The labels are ASCII words, so the boundary before them is ASCII's (`(?-u:\b)`): with a
/// Unicode one the regex engine cannot use its DFA on a text with any non-ASCII character (an
/// emoji, an umlaut), and the search over a caption took 30 times as long. The one difference: a
/// label glued to a non-ASCII letter ("Grießkochzeit") is read as a label.
static TIME_LABEL: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)(?-u:\b)(?P<label>prep(?:aration)?(?:\s*time)?|vorbereitungszeit|vorbereitung|arbeitszeit|zubereitungszeit|cook(?:ing)?(?:\s*time)?|bak(?:e|ing)(?:\s*time)?|kochzeit|backzeit|garzeit|bratzeit|total(?:\s*time)?|gesamtzeit|ready in|fertig in)\s*[:\-–=]?\s*(?:for\s+|about\s+|approx\.?\s*|ca\.?\s*|circa\s+|etwa\s+|~\s*)?",
    )
});

/// "Serves 4", "Servings: 4", "Portionen: 4", "makes 12".
///
/// The word boundaries of this and the next two are ASCII's too, as in [`TIME_LABEL`]: the
/// words around them end in ASCII letters or digits, and a count word that ends in another
/// letter is no count [`count`] knows either.
static SERVES: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)(?-u:\b)(?:serves|servings?|portionen|portions?|yields?|makes|ergibt|reicht für)(?-u:\b)\s*:?\s*(?:about\s+|ca\.?\s*|etwa\s+)?(?P<n>\d{1,3}|\p{L}+)(?-u:\b)",
    )
});

/// "for 2 people", "für 4 Personen".
static FOR_PEOPLE: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)(?-u:\b)(?:for|für)\s+(?P<n>\d{1,3}|\p{L}+)\s+(?:people|persons?|personen|pers(?-u:\b)|portionen|portions?|servings?|leute|hungrige)",
    )
});

/// "4 Portionen", "4 servings".
static N_PORTIONS: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"(?i)(?-u:\b)(?P<n>\d{1,3})\s*(?:servings|portionen|portions|personen|people)(?-u:\b)")
});

/// Times found in a text, in minutes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Times {
    pub(super) prep: Option<u32>,
    /// Cooking or baking time.
    pub(super) cook: Option<u32>,
    /// Total time as stated.
    pub(super) total: Option<u32>,
}

impl Times {
    /// Fills the times this one lacks from `other`.
    pub(super) fn or(self, other: Self) -> Self {
        Self {
            prep: self.prep.or(other.prep),
            cook: self.cook.or(other.cook),
            total: self.total.or(other.total),
        }
    }
}

/// Minutes per unit for a time unit at the start of `s`, and the bytes it used.
fn time_unit(s: &str) -> Option<(f64, usize)> {
    const UNITS: &[(&str, f64)] = &[
        ("hours", 60.0),
        ("hour", 60.0),
        ("hrs", 60.0),
        ("hr", 60.0),
        ("h", 60.0),
        ("stunden", 60.0),
        ("stunde", 60.0),
        ("std", 60.0),
        ("minutes", 1.0),
        ("minute", 1.0),
        ("minuten", 1.0),
        ("mins", 1.0),
        ("min", 1.0),
    ];
    let start = s.len() - s.trim_start().len();
    let text = &s[start..];
    let (spelling, minutes) = UNITS.iter().find(|(spelling, _)| {
        strip_prefix_ci(text, spelling)
            .is_some_and(|rest| rest.chars().next().is_none_or(|c| !c.is_alphabetic()))
    })?;
    let mut len = start + spelling.len();
    if s[len..].starts_with('.') {
        len += 1;
    }
    Some((*minutes, len))
}

/// A duration at the start of `s` ("1 hr 15 min", "1h15", "½ Stunde", "an hour", "20-25 min"),
/// in whole minutes, and the bytes it used.
pub(super) fn parse_duration(s: &str) -> Option<(u32, usize)> {
    let mut minutes = 0.0;
    let mut pos = 0;
    let mut after_hours = false;
    let mut any = false;
    loop {
        let trimmed = s[pos..].trim_start();
        let start = s.len() - trimmed.len();
        let Some(amount) = parse_quantity(trimmed) else { break };
        let after_amount = start + amount.len;
        match time_unit(&s[after_amount..]) {
            Some((per_unit, len)) => {
                minutes += amount.value * per_unit;
                pos = after_amount + len;
                after_hours = per_unit > 1.0;
                any = true;
            }
            None => {
                // "1h15": a bare number right after hours is minutes.
                if after_hours && !amount.article && start == pos {
                    minutes += amount.value;
                    pos = after_amount;
                }
                break;
            }
        }
        let rest = &s[pos..];
        let joined =
            ["and ", "und ", ", "].iter().find_map(|joiner| strip_prefix_ci(rest.trim_start(), joiner));
        if let Some(after) = joined {
            pos = s.len() - after.len();
        }
    }
    let rounded = minutes.round();
    (any && (1.0..=MAX_MINUTES).contains(&rounded)).then_some((rounded as u32, pos))
}

/// Prep, cook and total times named in `text`; the first of each kind wins.
pub(super) fn find_times(text: &str) -> Times {
    let mut times = Times::default();
    // The label opens the match and every prefix below fits inside the label it names, so the
    // whole match stands in for the label group and the search needs no captures.
    for whole in TIME_LABEL.find_iter(text) {
        let Some((minutes, _)) = parse_duration(&text[whole.end()..]) else { continue };
        let label = whole.as_str().to_lowercase();
        let slot = if label.starts_with("prep")
            || label.starts_with("vorbereitung")
            || label.starts_with("arbeitszeit")
            || label.starts_with("zubereitungszeit")
        {
            // "Zubereitungszeit" is literally preparation time; German recipes list baking
            // separately ("Backzeit"), so it maps to prep, not total.
            &mut times.prep
        } else if label.starts_with("total")
            || label.starts_with("gesamt")
            || label.starts_with("ready")
            || label.starts_with("fertig")
        {
            &mut times.total
        } else {
            &mut times.cook
        };
        if slot.is_none() {
            *slot = Some(minutes);
        }
    }
    times
}

/// A count written as digits or a small number word.
fn count(text: &str) -> Option<u32> {
    let amount = parse_quantity(text).filter(|q| !q.article)?;
    let value = amount.value.round();
    ((1.0..=MAX_SERVINGS).contains(&value) && amount.len == text.len()).then_some(value as u32)
}

/// The number of servings named in `text`.
pub(super) fn find_servings(text: &str) -> Option<u32> {
    [&*FOR_PEOPLE, &*SERVES, &*N_PORTIONS].iter().find_map(|pattern| {
        pattern.captures_iter(text).find_map(|caps| caps.name("n").and_then(|n| count(n.as_str())))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_in_minutes() {
        let cases = [
            ("10 min", Some(10), "minutes abbreviated"),
            ("20 minutes", Some(20), "minutes"),
            ("1 hr 15 min", Some(75), "hours and minutes"),
            ("1 hour and 30 minutes", Some(90), "joined with and"),
            ("1h15", Some(75), "compact hours and minutes"),
            ("1,5 Std.", Some(90), "German decimal hours"),
            ("½ Stunde", Some(30), "unicode half hour"),
            ("an hour", Some(60), "article"),
            ("half an hour", Some(30), "half an hour"),
            ("20-25 Minuten", Some(20), "range takes the lower bound"),
            ("30 Min.", Some(30), "German abbreviation"),
            ("180 degrees", None, "not a time"),
            ("the pasta", None, "no amount"),
        ];
        for (input, expected, why) in cases {
            assert_eq!(parse_duration(input).map(|(m, _)| m), expected, "{why}: {input:?}");
        }
    }

    #[test]
    fn labelled_times_are_assigned_to_prep_cook_and_total() {
        let cases = [
            (
                "Prep 10 min, cook 20 minutes",
                Times { prep: Some(10), cook: Some(20), total: None },
                "English",
            ),
            ("Total: 1 hr 15 min", Times { prep: None, cook: None, total: Some(75) }, "total"),
            (
                "Prep time: 15 minutes | Cook time: 1 hour",
                Times { prep: Some(15), cook: Some(60), total: None },
                "time suffix",
            ),
            (
                "Zubereitungszeit 30 Min. Backzeit 25 Minuten",
                Times { prep: Some(30), cook: Some(25), total: None },
                "German",
            ),
            (
                "Bake for 25 minutes",
                Times { prep: None, cook: Some(25), total: None },
                "instruction with a time",
            ),
            ("ready in 20 minutes!", Times { prep: None, cook: None, total: Some(20) }, "ready in"),
            ("Cook the pasta al dente", Times::default(), "cook without a time"),
            ("cookies 12 minutes", Times::default(), "cook inside another word"),
            (
                "🍝 Serves 2 | Prep 5 min, cook 15 min ⏱️",
                Times { prep: Some(5), cook: Some(15), total: None },
                "emoji around the labels",
            ),
            ("Überkochzeit 5 Min.", Times::default(), "a label inside a word after an ASCII letter"),
            ("Grießkochzeit 5 Min.", Times { prep: None, cook: Some(5), total: None }, "glued to ß"),
        ];
        for (input, expected, why) in cases {
            assert_eq!(find_times(input), expected, "{why}: {input:?}");
        }
    }

    #[test]
    fn servings_are_found_in_english_and_german() {
        let cases = [
            ("Serves 4", Some(4), "serves"),
            ("Servings: 6", Some(6), "servings with colon"),
            ("serves two", Some(2), "number word"),
            ("for 2 people", Some(2), "for people"),
            ("Zutaten (für 4 Personen):", Some(4), "für Personen"),
            ("4 Portionen", Some(4), "Portionen after the number"),
            ("Portionen: 3", Some(3), "Portionen label"),
            ("makes 12 cookies", Some(12), "makes"),
            ("bake for 20 minutes", None, "for with minutes"),
            ("makes sure it is crispy", None, "makes without a number"),
            ("serves 2024", None, "a year is not servings"),
        ];
        for (input, expected, why) in cases {
            assert_eq!(find_servings(input), expected, "{why}: {input:?}");
        }
    }
}
