//! One ingredient line into amount, unit, size, name, preparation and comment.
//!
//! The line is cleaned (bullets, emojis), parenthesised parts are taken out and judged on their
//! own ("(240 ml)" is a second measure, "(14.5-ounce)" a size, "(optional)" a comment), and the
//! rest is read left to right: hedges ("about", "scant"), the amount, a multiplier ("2 x"), a
//! container size ("14-ounce", "400g tin"), the unit, a second measure after a slash
//! ("125g/4½oz"), then the name, which gives up its leading size and preparation words and
//! everything from a comment word ("for", "zum", "al gusto") or a comma on.
//!
//! Commas never split a line into two ingredients here; a comma fragment made only of
//! modifiers ("1 ripe, medium cantaloupe") belongs to the name that follows it.

use protocol::{Ingredient, Measure};

use crate::lang::Langs;
use crate::number::{Amount, amount_at};
use crate::tokens::{PAREN, lower, prepare, spaced};
use crate::units::{AFTER_NAME, WITHOUT_AMOUNT, is_container, is_measure, unit_at};
use crate::words::{
    HEDGES, PART_WORDS, SOME, is_comment_fragment, is_filler, is_leading_preparation, is_size,
    is_spanish_product, is_trailing_preparation, starts_comment, starts_preparation,
};

/// The parts of a line as the parser sorts them.
#[derive(Debug, Default)]
struct Parts {
    quantity: Option<f64>,
    quantity_max: Option<f64>,
    unit: Option<&'static str>,
    unit_text: Option<String>,
    size: Vec<String>,
    preparation: Vec<String>,
    comment: Vec<String>,
    alt: Option<Measure>,
    name: String,
}

fn is_paren(word: &str) -> Option<usize> {
    word.strip_prefix(PAREN)?.parse().ok()
}

/// An amount with a unit at the start of `words` ("15 oz", "7 g"), as (amount, unit, words used).
fn measure_at(words: &[&str], langs: Langs) -> Option<(Amount, &'static str, usize, String)> {
    let amount = amount_at(words, langs).filter(|a| !a.article)?;
    let (unit, len) = unit_at(&words[amount.words..], langs)?;
    let used = amount.words + len;
    Some((amount, unit, used, words[amount.words..used].join(" ")))
}

/// A size written as one hyphenated word: "14-ounce", "15-oz", "9-inch".
fn hyphen_size(word: &str, langs: Langs) -> bool {
    let Some((number, unit)) = word.split_once('-') else { return false };
    crate::number::plain(number).is_some() && unit_at(&[unit], langs).is_some() && !unit.is_empty()
}

/// "2lb 4oz": ounces right after pounds join them (2.25 lb); returns the words used.
fn ounces_after_pounds(
    words: &[&str],
    unit: Option<&str>,
    quantity: &mut Option<f64>,
    langs: Langs,
) -> usize {
    if unit != Some("lb") {
        return 0;
    }
    match (measure_at(words, langs), quantity.as_mut()) {
        (Some((ounces, "oz", used, _)), Some(pounds)) if ounces.max.is_none() && ounces.value < 16.0 => {
            *pounds += ounces.value / 16.0;
            used
        }
        _ => 0,
    }
}

/// Reads `words` into `parts`; returns the index where the name starts.
fn read_lead(words: &[&str], langs: Langs, parts: &mut Parts, name_before: bool) -> usize {
    let mut i = 0;
    while i + 1 < words.len()
        && HEDGES.contains(&&*lower(words[i]))
        && (amount_at(&words[i + 1..], langs).is_some() || HEDGES.contains(&&*lower(words[i + 1])))
    {
        parts.comment.push(words[i].to_owned());
        i += 1;
    }
    let mut amount = amount_at(&words[i..], langs);
    if let Some(found) = amount.filter(|a| a.article) {
        let next = words.get(i + 1).map(|w| lower(w)).unwrap_or_default();
        let number_after = amount_at(&words[i + 1..], langs).filter(|a| !a.article);
        if let Some(number) = number_after {
            // "a ½ cup": the number is the amount, the article only its article.
            parts.comment.push(words[i].to_owned());
            i += 1;
            amount = Some(number);
        } else if next.is_empty() || SOME.contains(&&*next) {
            // "a few sprigs", "a little oil": no number.
            parts.comment.push(words[i..=i + usize::from(!next.is_empty())].join(" "));
            i += 1 + usize::from(!next.is_empty());
            amount = None;
        } else {
            let _ = found;
        }
    }
    let mut multiplied = false;
    if let Some(found) = amount {
        parts.quantity = Some(found.value);
        parts.quantity_max = found.max;
        i += found.words;
        if words.get(i).is_some_and(|w| matches!(*w, "x" | "X" | "×")) {
            multiplied = true;
            i += 1;
        }
    } else {
        while i < words.len() && SOME.contains(&&*lower(words[i])) {
            parts.comment.push(words[i].to_owned());
            i += 1;
        }
    }
    while parts.quantity.is_some() && words.get(i).is_some_and(|w| matches!(*w, "," | ";")) {
        i += 1;
    }
    // Sizes and hedges between the amount and the unit: "1 large onion", "1 gestr. TL",
    // "1 14-ounce can", "2 x 150g fillets".
    while let Some(word) = words.get(i) {
        if is_size(word, langs) && i + 1 < words.len() {
            parts.size.push((*word).to_owned());
            i += 1;
        } else if HEDGES.contains(&&*lower(word)) && parts.quantity.is_some() && i + 1 < words.len() {
            parts.comment.push((*word).to_owned());
            i += 1;
        } else if is_paren(word).is_some() {
            i += 1;
        } else if hyphen_size(word, langs) && i + 1 < words.len() {
            parts.size.push((*word).to_owned());
            i += 1;
        } else if let Some((_, unit, used, _)) =
            measure_at(&words[i..], langs).filter(|_| parts.quantity.is_some())
        {
            let then_container = unit_at(&words[i + used..], langs).is_some_and(|(u, _)| is_container(u));
            if (then_container || multiplied) && is_measure(unit) {
                parts.size.push(words[i..i + used].join(" "));
                i += used;
            } else {
                break;
            }
        } else {
            break;
        }
    }
    if langs.has(Langs::ES) && parts.quantity.is_some() && words.get(i).is_some_and(|w| lower(w) == "de") {
        // "3/4 de taza de aceite".
        if unit_at(&words[i + 1..], langs).is_some() {
            i += 1;
        }
    }
    // German "1 gr. Zwiebel" is a large onion, not a gram: the dotted abbreviation after a
    // small count is the size.
    if langs.has(Langs::DE)
        && parts.quantity.is_some_and(|q| q <= 5.0)
        && words.get(i).is_some_and(|w| matches!(*w, "gr." | "kl." | "Gr." | "Kl."))
        && words.get(i + 1).is_some_and(|w| w.starts_with(char::is_uppercase))
    {
        parts.size.push(words[i].to_owned());
        i += 1;
    }
    if let Some((unit, len)) = unit_at(&words[i..], langs) {
        let stands_alone = parts.quantity.is_some() || WITHOUT_AMOUNT.contains(&unit);
        // A unit needs something after it to be the unit of ("2 cups" has no food).
        // A unit needs a food after it ("pinch of salt"), except a measure after an amount:
        // "200 g" alone is a measure without a name, while "2 cloves" is the spice.
        if stands_alone
            && (i + len < words.len() || name_before || (parts.quantity.is_some() && is_measure(unit)))
        {
            let text = words[i..i + len].join(" ");
            i += len;
            // "400g (14oz) tin": the container may follow a parenthesis.
            let parens = words[i..].iter().take_while(|w| is_paren(w).is_some()).count();
            let next_container = unit_at(&words[i + parens..], langs).filter(|(u, _)| is_container(u));
            if next_container.is_some() && is_measure(unit) {
                i += parens;
            }
            if let (Some((container, clen)), true, Some(q)) =
                (next_container, is_measure(unit), parts.quantity)
            {
                // "400g tin chopped tomatoes": one tin of 400 g.
                parts.size.push(format!("{} {text}", crate::render::number(q, parts.quantity_max)));
                parts.quantity = Some(1.0);
                parts.quantity_max = None;
                parts.unit = Some(container);
                parts.unit_text = Some(words[i..i + clen].join(" "));
                i += clen;
            } else {
                parts.unit = Some(unit);
                parts.unit_text = Some(text);
            }
            i += ounces_after_pounds(&words[i..], parts.unit, &mut parts.quantity, langs);
            if words.get(i) == Some(&"/")
                && let Some((alt, alt_unit, used, alt_text)) = measure_at(&words[i + 1..], langs)
            {
                let mut quantity = Some(alt.value);
                i += 1 + used;
                i += ounces_after_pounds(&words[i..], Some(alt_unit), &mut quantity, langs);
                parts.alt = Some(Measure {
                    quantity: quantity.unwrap_or(alt.value),
                    quantity_max: alt.max,
                    unit: Some(alt_unit.to_owned()),
                    unit_text: Some(alt_text),
                });
            }
            if words.get(i).is_some_and(|w| matches!(&*lower(w), "plus" | "+" | "más")) {
                // "1 cup plus 2 tablespoons flour": the extra goes to the comment.
                if let Some((_, _, used, _)) = measure_at(&words[i + 1..], langs) {
                    parts.comment.push(words[i..i + 1 + used].join(" "));
                    i += 1 + used;
                }
            }
            if matches!(unit, "cm" | "inch")
                && words.get(i).is_some_and(|w| matches!(&*lower(w), "piece" | "pieces" | "stück" | "trozo"))
            {
                i += 1;
            }
        }
    }
    i
}

/// "juice of 1 lemon", "Saft von 1 Zitrone", "el zumo de 1 limón": where the amount is, and
/// the words before it.
fn amount_inside(words: &[&str], langs: Langs) -> Option<usize> {
    let link = words.iter().position(|w| matches!(&*lower(w), "of" | "von" | "de"))?;
    let all_parts = link > 0 && words[..link].iter().all(|w| PART_WORDS.contains(&&*lower(w)));
    let amount = amount_at(&words[link + 1..], langs).filter(|a| !a.article);
    (all_parts && amount.is_some()).then_some(link)
}

/// "Mehl: 200 g", "Spaghetti 500g", "Flour - 2 cups": where a trailing amount starts.
fn amount_after_name(words: &[&str], langs: Langs) -> Option<usize> {
    (1..words.len()).rev().find(|&k| {
        let Some(amount) = amount_at(&words[k..], langs).filter(|a| !a.article) else { return false };
        let after = &words[k + amount.words..];
        let unit = unit_at(after, langs);
        let rest = unit.map_or(after, |(_, len)| &after[len..]);
        let separated = matches!(words[k - 1], ":" | "-" | "–" | "—");
        rest.iter().all(|w| is_paren(w).is_some()) && (unit.is_some() || separated)
    })
}

/// Splits the words after the amount and unit into name, size, preparation and comment.
fn read_name(words: &[&str], langs: Langs, parts: &mut Parts) {
    let mut segments: Vec<Vec<&str>> = vec![Vec::new()];
    for word in words {
        if matches!(*word, "," | ";") {
            segments.push(Vec::new());
        } else if let Some(last) = segments.last_mut() {
            last.push(word);
        }
    }
    segments.retain(|s| !s.is_empty());
    let keep_adjectives = parts.unit.is_some_and(is_container);
    let modifier = |w: &str, next: Option<&str>| is_size(w, langs) || is_leading_preparation(w, next, langs);
    let mut head = 0;
    // "1 ripe, medium cantaloupe", "4 boneless, skinless chicken breasts".
    while head + 1 < segments.len() && segments[head].iter().all(|w| modifier(w, None)) {
        for w in &segments[head] {
            if is_size(w, langs) {
                parts.size.push((*w).to_owned())
            } else {
                parts.preparation.push((*w).to_owned())
            }
        }
        head += 1;
    }
    let Some(first) = segments.get(head) else { return };
    let mut name: Vec<&str> = first.iter().copied().filter(|w| is_paren(w).is_none()).collect();

    // Leading fillers, sizes and preparation, always leaving one word.
    let mut start = 0;
    let mut leading_prep: Vec<&str> = Vec::new();
    while start + 1 < name.len() {
        let word = name[start];
        let next = name.get(start + 1).copied();
        let after_adverb = leading_prep
            .last()
            .is_some_and(|p| p.ends_with("ly") || matches!(*p, "frisch" | "fein" | "grob"));
        if is_filler(word, langs) && leading_prep.is_empty() {
            start += 1;
        } else if HEDGES.contains(&&*lower(word)) && leading_prep.is_empty() {
            // "1 cucharada colmada de harina", "1 cup heaping flour".
            parts.comment.push(word.to_owned());
            start += 1;
        } else if is_size(word, langs) {
            parts.size.push(word.to_owned());
            start += 1;
        } else if !leading_prep.is_empty()
            && matches!(&*lower(word), "and" | "und" | "y" | "or" | "oder")
            && next.is_some_and(|n| is_leading_preparation(n, None, langs))
            && start + 2 < name.len()
        {
            // "cooked and shredded chicken".
            leading_prep.push(word);
            start += 1;
        } else if !keep_adjectives && (is_leading_preparation(word, next, langs) || after_adverb) {
            leading_prep.push(word);
            start += 1;
        } else if !keep_adjectives
            && lower(word) == "room"
            && next.is_some_and(|n| lower(n) == "temperature")
            && start + 2 < name.len()
        {
            leading_prep.extend(["room", "temperature"]);
            start += 2;
        } else {
            break;
        }
    }
    if !leading_prep.is_empty() {
        parts.preparation.insert(0, leading_prep.join(" "));
    }
    name.drain(..start);
    while name.len() > 1 && is_filler(name[0], langs) {
        name.remove(0);
    }
    // A comment or preparation phrase inside the name.
    if let Some(cut) = (1..name.len()).find(|&j| starts_comment(&name[j..], langs)) {
        parts.comment.push(name[cut..].join(" "));
        name.truncate(cut);
    }
    if let Some(cut) = (1..name.len()).find(|&j| starts_preparation(&name[j..], langs)) {
        parts.preparation.push(name[cut..].join(" "));
        name.truncate(cut);
    }
    if !keep_adjectives
        && let Some(cut) = (1..name.len())
            .find(|&j| is_trailing_preparation(name[j], langs) && !is_spanish_product(&name[..=j].join(" ")))
    {
        parts.preparation.push(name[cut..].join(" "));
        name.truncate(cut);
    }
    // "3 huevos L", "Eier M": a grade letter after the food.
    while name.len() > 1
        && name.last().is_some_and(|w| is_size(w, langs) || matches!(*w, "S" | "M" | "L" | "XL"))
    {
        if let Some(w) = name.pop() {
            parts.size.push(w.to_owned());
        }
    }
    // "10 thyme sprigs", "4 garlic cloves", "3 Knoblauchzehen".
    if parts.quantity.is_some() && parts.unit.is_none() {
        if let Some(&last) = name.last().filter(|_| name.len() > 1) {
            if let Some((unit, _)) = unit_at(&[last], langs).filter(|(u, _)| AFTER_NAME.contains(u)) {
                parts.unit = Some(unit);
                parts.unit_text = Some(last.to_owned());
                name.pop();
            }
        } else if let Some(&only) = name.first().filter(|_| name.len() == 1 && langs.has(Langs::DE)) {
            let lower_only = lower(only);
            if let Some(stem_len) =
                ["zehen", "zehe"].iter().find_map(|z| lower_only.strip_suffix(z).map(str::len))
                && stem_len >= 3
                && only.is_char_boundary(stem_len)
            {
                parts.unit = Some("clove");
                parts.unit_text = Some(only[stem_len..].to_owned());
                name = vec![&only[..stem_len]];
            }
        }
    }
    if parts.unit == Some("sprig") && name.len() == 1 && lower(name[0]) == "apio" {
        // "1 rama de apio" is a stalk of celery, not a sprig.
        parts.unit = Some("stalk");
    }
    if !name.iter().any(|w| w.chars().any(char::is_alphabetic)) {
        name.clear();
    }
    parts.name = name
        .join(" ")
        .trim_matches(|c: char| c.is_whitespace() || matches!(c, ':' | '-' | '–' | '—' | '.' | '*' | '/'))
        .to_owned();

    for segment in &segments[head + 1..] {
        let text: Vec<&str> = segment.iter().copied().filter(|w| is_paren(w).is_none()).collect();
        let text = text.join(" ");
        let text = text.trim_matches(|c: char| c.is_whitespace() || matches!(c, '.' | ':'));
        if text.is_empty() {
            continue;
        }
        if is_comment_fragment(text, langs) {
            parts.comment.push(text.to_owned());
        } else {
            parts.preparation.push(text.to_owned());
        }
    }
}

/// What a parenthesised part is, given the line around it.
fn read_paren(content: &str, langs: Langs, parts: &mut Parts) {
    let spaced = spaced(content);
    let words: Vec<&str> = spaced.split_whitespace().collect();
    let Some(first) = words.first() else { return };
    let first_lower = lower(first);
    if matches!(&*first_lower, "gr." | "gr" | "größe" | "grösse" | "size" | "talla" | "tamaño") {
        parts.size.push(content.to_owned());
        return;
    }
    let skip = words.iter().take_while(|w| HEDGES.contains(&&*lower(w))).count();
    // "(14.5 oz each)", "(je 200 g)": a size per piece.
    let words: Vec<&str> =
        words.iter().copied().filter(|w| !matches!(&*lower(w), "each" | "je" | "cada")).collect();
    if let Some((amount, unit, used, text)) = measure_at(&words[skip..], langs) {
        let whole = skip + used >= words.len();
        // "1 cup (240 ml)", "1 stick (8 tablespoons)": the same amount measured twice; after a
        // container or a bare count ("1 (14-ounce) can", "2 shallots (about ½ cup)") it is the
        // size, or a hedged comment.
        let main_measures = parts.unit.is_some_and(|u| !is_container(u));
        if whole && main_measures && parts.alt.is_none() && skip == 0 {
            parts.alt = Some(Measure {
                quantity: amount.value,
                quantity_max: amount.max,
                unit: Some(unit.to_owned()),
                unit_text: Some(text),
            });
            return;
        }
        if whole && !main_measures && skip == 0 {
            // "400g (14oz) tin": the size in both systems.
            let text = if parts.size.is_empty() { content.to_owned() } else { format!("({content})") };
            parts.size.push(text);
            return;
        }
    }
    if hyphen_size(first, langs) && words.len() == 1 {
        parts.size.push(content.to_owned());
        return;
    }
    let next = words.get(1).copied();
    let prep = is_leading_preparation(first, next, langs)
        || is_trailing_preparation(first, langs)
        || (first_lower.len() > 4 && first_lower.ends_with("ed") && langs.has(Langs::EN));
    if prep && !is_comment_fragment(content, langs) {
        parts.preparation.push(content.to_owned());
    } else {
        parts.comment.push(content.to_owned());
    }
}

/// Parses one line (see the crate docs); `langs` are the vocabularies to read it with.
pub(crate) fn parse_line(line: &str, langs: Langs) -> Ingredient {
    let raw = line.trim().to_owned();
    let (text, parens) = prepare(&raw);
    let owned: Vec<&str> = text.split_whitespace().collect();
    let mut words: &[&str] = &owned;
    while words.last().is_some_and(|w| matches!(*w, "," | ";" | ":" | "." | "-")) {
        words = &words[..words.len() - 1];
    }
    let mut parts = Parts::default();
    let mut head_words: Vec<&str> = Vec::new();

    let starts_with_amount = amount_at(words, langs).is_some_and(|a| !a.article)
        || words.first().is_some_and(|w| HEDGES.contains(&&*lower(w)));
    let body: Vec<&str> = if starts_with_amount {
        words.to_vec()
    } else if let Some(link) = amount_inside(words, langs) {
        let part: Vec<&str> = words[..link].iter().copied().filter(|w| !is_filler(w, langs)).collect();
        parts.preparation.push(part.join(" "));
        words[link + 1..].to_vec()
    } else if let Some(k) = amount_after_name(words, langs) {
        head_words = words[..k].to_vec();
        while head_words.last().is_some_and(|w| matches!(*w, ":" | "-" | "–" | "—")) {
            head_words.pop();
        }
        words[k..].to_vec()
    } else {
        words.to_vec()
    };
    let name_start = read_lead(&body, langs, &mut parts, !head_words.is_empty());
    if head_words.is_empty() {
        read_name(&body[name_start..], langs, &mut parts);
    } else {
        let mut rest: Vec<&str> = head_words;
        rest.extend(&body[name_start..]);
        read_name(&rest, langs, &mut parts);
    }
    for content in &parens {
        if !content.is_empty() {
            read_paren(content, langs, &mut parts);
        }
    }
    finish(raw, parts)
}

/// Builds the ingredient, dropping values that cannot be right.
fn finish(raw: String, parts: Parts) -> Ingredient {
    let valid = |q: f64| q.is_finite() && q > 0.0 && q < 1e7;
    let quantity = parts.quantity.filter(|q| valid(*q));
    let quantity_max = parts.quantity_max.filter(|m| valid(*m) && quantity.is_some_and(|q| *m > q));
    let join = |items: &[String]| {
        let items: Vec<&str> = items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
        (!items.is_empty()).then(|| items.join(", "))
    };
    let size = {
        let items: Vec<&str> = parts.size.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
        (!items.is_empty()).then(|| items.join(" "))
    };
    let preparation = join(&parts.preparation);
    let comment = join(&parts.comment);
    let note = match (&preparation, &comment) {
        (Some(p), Some(c)) => Some(format!("{p}, {c}")),
        (p, c) => p.clone().or_else(|| c.clone()),
    };
    let alt = parts.alt.filter(|a| valid(a.quantity));
    Ingredient {
        raw,
        quantity,
        unit: parts.unit.map(str::to_owned),
        name: parts.name,
        note,
        quantity_max,
        unit_text: parts.unit.and(parts.unit_text),
        size,
        preparation,
        comment,
        alt,
    }
}
