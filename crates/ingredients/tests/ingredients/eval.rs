//! Scores the parser on the labelled lines in `tests/data` and fails below the floors.
//!
//! Run `cargo test -p ingredients --test ingredients eval -- --nocapture` to see the figures and every miss.
//! A line is "all right" when name, quantity (and range end) and unit all match. Names compare
//! case-insensitively with whitespace normalised, and a simple plural equals its singular
//! ("egg"/"eggs", "Zwiebel"/"Zwiebeln", "tomate"/"tomates").

use std::fmt::Write as _;

/// Floors per language: (all right, quantity right).
const FLOORS: &[(&str, f64, f64)] = &[("en", 0.90, 0.97), ("de", 0.90, 0.97), ("es", 0.90, 0.97)];

#[derive(Clone)]
struct Case {
    line: String,
    language: String,
    name: String,
    quantity: Option<f64>,
    quantity_max: Option<f64>,
    unit: Option<String>,
}

fn cases(file: &str) -> Vec<Case> {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 6, "six columns in {l:?}");
            let number =
                |s: &str| (!s.is_empty()).then(|| s.parse::<f64>().unwrap_or_else(|e| panic!("{s:?}: {e}")));
            Case {
                line: cols[0].to_owned(),
                language: cols[1].to_owned(),
                name: cols[2].to_owned(),
                quantity: number(cols[3]),
                quantity_max: number(cols[4]),
                unit: (!cols[5].is_empty()).then(|| cols[5].to_owned()),
            }
        })
        .collect()
}

fn normalise(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// The name without a simple plural ending.
fn singular(name: &str) -> String {
    let n = normalise(name);
    for ending in ["es", "s", "n", "en"] {
        if let Some(stem) = n.strip_suffix(ending)
            && stem.chars().count() >= 3
        {
            return stem.to_owned();
        }
    }
    n
}

fn same_name(got: &str, want: &str) -> bool {
    normalise(got) == normalise(want)
        || singular(got) == singular(want)
        || singular(got) == normalise(want)
        || normalise(got) == singular(want)
}

fn same_quantity(got: Option<f64>, want: Option<f64>) -> bool {
    match (got, want) {
        // Labels write thirds as 0.333.
        (Some(g), Some(w)) => (g - w).abs() < 0.01,
        (None, None) => true,
        _ => false,
    }
}

/// Scores `cases` under `label`, appending figures and misses to `report`; returns the
/// (all right, quantity right) shares.
fn score(label: &str, cases: &[Case], report: &mut String) -> (f64, f64) {
    let (mut all, mut quantity, mut unit, mut name) = (0, 0, 0, 0);
    for case in cases {
        let got = ingredients::parse(&case.line, &case.language);
        let q =
            same_quantity(got.quantity, case.quantity) && same_quantity(got.quantity_max, case.quantity_max);
        let u = got.unit == case.unit;
        let n = same_name(&got.name, &case.name);
        quantity += usize::from(q);
        unit += usize::from(u);
        name += usize::from(n);
        all += usize::from(q && u && n);
        if !(q && u && n) {
            let _ = writeln!(
                report,
                "  miss [{label}] {:?}: got ({:?}, {:?}-{:?}, {:?}) want ({:?}, {:?}-{:?}, {:?})",
                case.line,
                got.name,
                got.quantity,
                got.quantity_max,
                got.unit,
                case.name,
                case.quantity,
                case.quantity_max,
                case.unit
            );
        }
    }
    let total = cases.len().max(1) as f64;
    let share = |n: usize| n as f64 / total;
    let _ = writeln!(
        report,
        "{label}: {} lines, all right {:.1} %, quantity {:.1} %, unit {:.1} %, name {:.1} %",
        cases.len(),
        100.0 * share(all),
        100.0 * share(quantity),
        100.0 * share(unit),
        100.0 * share(name)
    );
    (share(all), share(quantity))
}

#[test]
fn parser_meets_the_quality_floors_per_language() {
    let mut report = String::new();
    let mut failures = Vec::new();
    for (file, all_floor, quantity_floor) in FLOORS {
        let cases = cases(&format!("{file}.tsv"));
        let (all, quantity) = score(file, &cases, &mut report);
        if all < *all_floor {
            failures.push(format!("{file}: all right {:.1} % < {:.0} %", 100.0 * all, 100.0 * all_floor));
        }
        if quantity < *quantity_floor {
            failures.push(format!(
                "{file}: quantity {:.1} % < {:.0} %",
                100.0 * quantity,
                100.0 * quantity_floor
            ));
        }
    }
    println!("{report}");
    assert!(failures.is_empty(), "below the floors: {failures:?}");
}

/// Scores a blind set per language against floors; see the data README for how each was made.
fn blind(file: &str, all_floor: f64, quantity_floor: f64) {
    let all_cases = cases(file);
    let mut report = String::new();
    let mut failures = Vec::new();
    for language in ["en", "de", "es"] {
        let cases: Vec<Case> =
            all_cases.iter().filter(|c| c.language.split('-').next() == Some(language)).cloned().collect();
        let (all, quantity) = score(&format!("{file} {language}"), &cases, &mut report);
        if all < all_floor || quantity < quantity_floor {
            failures.push(format!(
                "{file} {language}: all right {:.1} %, quantity {:.1} %",
                100.0 * all,
                100.0 * quantity
            ));
        }
    }
    println!("{report}");
    assert!(failures.is_empty(), "below the floors: {failures:?}");
}

/// The blind set (`blind.tsv`) was labelled and committed before the parser first ran on it;
/// its first-run figures are the honest estimate for unseen lines (see the data README). Its
/// floors sit a little lower than the dev set's, since it is small.
#[test]
fn parser_holds_up_on_the_blind_set() {
    blind("blind.tsv", 0.85, 0.95);
}

/// The second blind set was written and labelled by another engineer, who never saw the
/// parser's rules, and has not been tuned against: its figures stay an estimate for unseen
/// lines and its labels follow the README's conventions, not the parser's output.
#[test]
fn parser_holds_up_on_the_second_blind_set() {
    blind("blind-second.tsv", 0.90, 0.97);
}

/// No labelled line is one ingredient split in two by the list splitter the extractor uses.
#[test]
fn no_labelled_line_is_split_into_two() {
    let mut split = Vec::new();
    for file in ["en.tsv", "de.tsv", "es.tsv", "blind.tsv", "blind-second.tsv"] {
        for case in cases(file) {
            let items = ingredients::split_list(&case.line, &case.language);
            if items.len() != 1 {
                split.push(format!("{:?} -> {items:?}", case.line));
            }
        }
    }
    assert!(split.is_empty(), "{} lines split: {split:#?}", split.len());
}
