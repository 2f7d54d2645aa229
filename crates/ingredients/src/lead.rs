//! The amount and unit at the start of running text, with byte offsets, for extractors that
//! scan captions and transcripts ("… you'll need 2 cups of flour and …") rather than whole
//! ingredient lines.

use crate::lang::Langs;
use crate::number::amount_at;
use crate::tokens::lower;
use crate::units::unit_at;
use crate::words::{HEDGES, SOME};

/// An amount (and unit) found at the start of a text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lead {
    /// The amount, or the lower end of a range.
    pub quantity: f64,
    /// The upper end of a range.
    pub quantity_max: Option<f64>,
    /// Canonical unit code, if a unit follows the amount.
    pub unit: Option<&'static str>,
    /// Byte offset where the amount ends (after any range).
    pub amount_end: usize,
    /// Byte offset where the food's name starts: after the unit and a linking "of"/"de"/"von".
    pub name_start: usize,
    /// The amount is only an article ("a", "eine", "una") before a noun: the weakest kind.
    pub article: bool,
}

/// A bare amount at the start of a text ("1 1/2", "20-25", "zwei", "an").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeadingAmount {
    /// The amount, or the lower end of a range.
    pub value: f64,
    /// The upper end of a range.
    pub max: Option<f64>,
    /// Bytes of the text the amount used.
    pub len: usize,
    /// The amount is only an indefinite article ("a", "eine", "una").
    pub article: bool,
}

/// The amount at the very start of `text`, whatever follows it ("1h15" is 1, then "h15").
pub(crate) fn amount_here(text: &str, langs: Langs) -> Option<LeadingAmount> {
    if text.starts_with(char::is_whitespace) {
        return None;
    }
    let (spans, _) = spans(text, AMOUNT_WORDS + 1);
    let words: Vec<&str> = spans.iter().map(|&(s, e)| &text[s..e]).collect();
    let amount = amount_at(&words, langs)?;
    Some(LeadingAmount {
        value: amount.value,
        max: amount.max,
        len: spans[amount.words - 1].1,
        article: amount.article,
    })
}

/// Most words an amount reads, looking ahead included: a number phrase of up to four words
/// ("one and a half"), a range word, and a second phrase.
const AMOUNT_WORDS: usize = 9;

/// Most words a lead reads after its hedges, looking ahead included: the amount, an "x", a unit
/// of up to three words, a linking "of" and the word after it, and the name's first word.
const LEAD_WORDS: usize = AMOUNT_WORDS + 1 + 3 + 2 + 1;

/// Words tokenised before a lead is read; a text whose hedges leave fewer than
/// [`LEAD_WORDS`] of them is tokenised whole. Amounts are looked for at every word of captions
/// and transcripts, so tokenising the whole rest of the text each time was most of the cost.
const HEAD_WORDS: usize = LEAD_WORDS + 4;

/// Byte spans of the first `limit` words of `text` (at least), split the way the line parser
/// splits them: at whitespace, where letters follow digits ("200g"), and around list
/// punctuation; and whether they are all of its words. A word's span is only pushed once the
/// word has ended, so the first spans are the same whatever the limit.
fn spans(text: &str, limit: usize) -> (Vec<(usize, usize)>, bool) {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut prev: Option<char> = None;
    let numeric = |c: char| c.is_ascii_digit() || crate::number::vulgar(c).is_some();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if out.len() >= limit {
            return (out, false);
        }
        let next = chars.peek().map(|&(_, n)| n);
        let decimal =
            c == ',' && prev.is_some_and(|p| p.is_ascii_digit()) && next.is_some_and(|n| n.is_ascii_digit());
        let punct = matches!(c, ',' | ';') && !decimal || (c == ':' && next.is_none_or(char::is_whitespace));
        if c.is_whitespace() || punct {
            if let Some(s) = start.take() {
                out.push((s, i));
            }
            if punct {
                out.push((i, i + c.len_utf8()));
            }
        } else {
            if c.is_alphabetic()
                && prev.is_some_and(numeric)
                && let Some(s) = start.take()
            {
                out.push((s, i));
            }
            start.get_or_insert(i);
        }
        prev = Some(c);
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    (out, true)
}

/// The amount and unit at the start of `text` ("about 2 cups of …", "1EL …", "a pinch of …").
pub(crate) fn lead_at(text: &str, langs: Langs) -> Option<Lead> {
    let (head, whole) = spans(text, HEAD_WORDS);
    let hedged = hedges(text, &head);
    if whole || hedged + LEAD_WORDS < head.len() {
        lead_after(text, &head, hedged, langs)
    } else {
        let (spans, _) = spans(text, usize::MAX);
        lead_after(text, &spans, hedges(text, &spans), langs)
    }
}

/// How many words at the start of `spans` are hedges ("about", "approx."), leaving one word.
fn hedges(text: &str, spans: &[(usize, usize)]) -> usize {
    let mut i = 0;
    while i + 1 < spans.len() && HEDGES.contains(&&*lower(&text[spans[i].0..spans[i].1])) {
        i += 1;
    }
    i
}

/// The lead of `text` whose words are `spans`, after `i` hedges.
fn lead_after(text: &str, spans: &[(usize, usize)], i: usize, langs: Langs) -> Option<Lead> {
    let words: Vec<&str> = spans.iter().map(|&(s, e)| &text[s..e]).collect();
    let amount = amount_at(&words[i..], langs)?;
    let mut pos = i + amount.words;
    let amount_end = spans[pos - 1].1;
    if words.get(pos).is_some_and(|w| matches!(*w, "x" | "X" | "×")) {
        pos += 1;
    }
    let unit = unit_at(&words[pos..], langs);
    if let Some((_, len)) = unit {
        pos += len;
    } else {
        // "7up" and "3D" are words, not amounts.
        if spans.get(pos).is_some_and(|&(s, _)| s == amount_end) {
            return None;
        }
        if amount.article {
            let next = words.get(pos).map(|w| lower(w)).unwrap_or_default();
            if next.is_empty() || SOME.contains(&&*next) || !next.chars().any(char::is_alphabetic) {
                return None;
            }
        }
    }
    if words.get(pos).is_some_and(|w| matches!(&*lower(w), "of" | "de" | "von" | "d'"))
        && words.get(pos + 1).is_some_and(|w| w.chars().any(char::is_alphabetic))
    {
        pos += 1;
    }
    let name_start = spans.get(pos).map_or(text.len(), |&(s, _)| s);
    Some(Lead {
        quantity: amount.value,
        quantity_max: amount.max,
        unit: unit.map(|(code, _)| code),
        amount_end,
        name_start,
        article: amount.article && unit.is_none(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leads_give_amount_unit_and_where_the_name_starts() {
        let text = "about 2 cups of flour and more";
        let lead = lead_at(text, Langs::ALL).unwrap();
        assert_eq!((lead.quantity, lead.unit), (2.0, Some("cup")));
        assert_eq!(&text[lead.name_start..], "flour and more");
        let glued = lead_at("1EL Zucker", Langs::ALL).unwrap();
        assert_eq!((glued.unit, glued.name_start), (Some("tbsp"), 4));
        assert!(lead_at("7up soda", Langs::ALL).is_none(), "a number glued to a word");
        assert!(lead_at("a little oil", Langs::ALL).is_none(), "'a little' is no amount");
        assert!(lead_at("an onion", Langs::ALL).is_some_and(|l| l.article));
        assert_eq!(lead_at("2-3 Zehen", Langs::ALL).map(|l| l.quantity_max), Some(Some(3.0)));
    }

    /// Words that make long leads: hedges, number words, fractions, range words, articles,
    /// units of one to three words, "x", "of", and plain words.
    const VOCABULARY: &[&str] = &[
        "about",
        "approx.",
        "around",
        "ca.",
        "one",
        "and",
        "a",
        "half",
        "y",
        "media",
        "un",
        "par",
        "de",
        "1",
        "1/2",
        "½",
        "2",
        "-3",
        "to",
        "or",
        "bis",
        "o",
        "x",
        "×",
        "fl",
        "oz",
        "cup",
        "cucharada",
        "postre",
        "of",
        "von",
        "flour",
        ",",
        ":",
        "200g",
        "1EL",
        "Zucker",
        "7up",
        "pinch",
    ];

    proptest::proptest! {
        /// A lead read from the first words is the one read from the whole text, however long
        /// the text and its hedges are.
        #[test]
        fn a_lead_from_the_head_is_the_lead_of_the_whole_text(
            picks in proptest::collection::vec(0..VOCABULARY.len(), 0..60),
            hedges_first in 0usize..30,
        ) {
            let mut words: Vec<&str> = std::iter::repeat_n("about", hedges_first).collect();
            words.extend(picks.iter().map(|&i| VOCABULARY[i]));
            let text = words.join(" ");
            let (all, _) = spans(&text, usize::MAX);
            let whole = lead_after(&text, &all, hedges(&text, &all), Langs::ALL);
            proptest::prop_assert_eq!(lead_at(&text, Langs::ALL), whole, "{}", text);
            let words: Vec<&str> = all.iter().map(|&(s, e)| &text[s..e]).collect();
            let amount = (!text.starts_with(char::is_whitespace)).then(|| amount_at(&words, Langs::ALL)).flatten();
            let expected = amount.map(|a| (a.value, a.max, all[a.words - 1].1, a.article));
            let got = amount_here(&text, Langs::ALL).map(|a| (a.value, a.max, a.len, a.article));
            proptest::prop_assert_eq!(got, expected, "{}", text);
        }
    }
}
