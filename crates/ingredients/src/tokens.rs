//! Cleaning and tokenising a line: decoration and bullets out, parenthesised parts out (each
//! replaced by a marker word), and spaces where words touch numbers, so that every token the
//! parser sees is one word.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Marks a parenthesised part taken out of the line; the index follows it.
pub(crate) const PAREN: char = '\u{E000}';

/// Longest line read; longer text is a paragraph, not an ingredient.
const MAX_CHARS: usize = 400;

/// `word` in lower case, borrowed when it already is (most words are): the parser compares
/// words with its tables this way many times per line, and a copy each time showed in profiles.
/// ASCII text is lowered byte by byte; anything else takes the Unicode path.
pub(crate) fn lower(word: &str) -> Cow<'_, str> {
    if !word.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        Cow::Borrowed(word)
    } else if word.is_ascii() {
        Cow::Owned(word.to_ascii_lowercase())
    } else {
        Cow::Owned(word.to_lowercase())
    }
}

/// Whether `c` is decoration (emoji, pictograph, bullet) rather than text or punctuation.
fn is_decoration(c: char) -> bool {
    !(c.is_alphanumeric()
        || c.is_whitespace()
        || c.is_ascii_punctuation()
        || "–—…‘’‚“”„«»‹›°€£¥×⁄½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞%".contains(c))
}

/// The line without decoration and leading bullets, parentheses replaced by markers.
pub(crate) fn prepare(line: &str) -> (String, Vec<String>) {
    let line: String = line.chars().take(MAX_CHARS).map(|c| if is_decoration(c) { ' ' } else { c }).collect();
    let line = line.trim().trim_start_matches(['-', '*', '>', '+', '–', '—', '=', '•', ' ']);
    let mut main = String::with_capacity(line.len() + 8);
    let mut parens = Vec::new();
    let mut depth = 0_u32;
    let mut current = String::new();
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '(' | '[' => {
                // A plural marker glued to a word ("cup(s)", "Zehe(n)") stays in the word.
                let glued = line[..i].chars().next_back().is_some_and(char::is_alphabetic);
                let marker = ["(s)", "(n)", "(es)", "(en)"].iter().any(|m| line[i..].starts_with(m));
                if depth == 0 && glued && marker {
                    let end = line[i..].find(')').map_or(line.len(), |e| i + e + 1);
                    main.push_str(&line[i..end]);
                    while chars.peek().is_some_and(|(j, _)| *j < end) {
                        chars.next();
                    }
                    continue;
                }
                if depth > 0 {
                    current.push(' ');
                }
                depth += 1;
            }
            ')' | ']' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    push_marker(&mut main, parens.len());
                    parens.push(std::mem::take(&mut current).trim().to_owned());
                } else {
                    current.push(' ');
                }
            }
            _ if depth > 0 => current.push(c),
            _ => main.push(c),
        }
    }
    if depth > 0 {
        push_marker(&mut main, parens.len());
        parens.push(current.trim().to_owned());
    }
    (spaced(&main), parens)
}

/// Appends the marker word of parenthesised part `index` to `main`, without a `format!` copy.
fn push_marker(main: &mut String, index: usize) {
    let _ = write!(main, " {PAREN}{index} ");
}

/// `text` with spaces where words touch numbers ("200g" -> "200 g", "125g/4½oz" -> "125 g / 4½
/// oz") and around list punctuation, so that every token is one word.
pub(crate) fn spaced(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut prev: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let numeric = |c: char| c.is_ascii_digit() || crate::number::vulgar(c).is_some();
        match c {
            ',' | ';'
                if !(prev.is_some_and(|p| p.is_ascii_digit())
                    && next.is_some_and(|n| n.is_ascii_digit())) =>
            {
                out.push(' ');
                out.push(c);
                out.push(' ');
            }
            ':' if next.is_none_or(char::is_whitespace) => out.push_str(" : "),
            '/' if prev.is_some_and(|p| p.is_alphabetic() || p == '.')
                && next.is_some_and(|n| numeric(n) || n == ' ') =>
            {
                out.push_str(" / ");
            }
            _ => {
                if c.is_alphabetic() && prev.is_some_and(numeric) && c != 'x'
                    || (c == 'x' && prev.is_some_and(numeric))
                {
                    out.push(' ');
                }
                out.push(c);
            }
        }
        prev = Some(c);
    }
    out
}
