//! Parsing throughput on one core: every labelled evaluation line, many times over.
//!
//! Run with `cargo bench -p ingredients --bench parse`; prints lines per second.

use std::hint::black_box;
use std::time::Instant;

fn main() {
    let mut lines: Vec<(String, String)> = Vec::new();
    for file in ["en.tsv", "de.tsv", "es.tsv", "blind.tsv"] {
        let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("cannot read {path}");
            std::process::exit(1);
        };
        for row in text.lines().skip(1) {
            let mut cols = row.split('\t');
            if let (Some(line), Some(language)) = (cols.next(), cols.next()) {
                lines.push((line.to_owned(), language.to_owned()));
            }
        }
    }
    // Warm up, then time enough rounds for a stable figure.
    for (line, language) in &lines {
        black_box(ingredients::parse(line, language));
    }
    let rounds = 200;
    let started = Instant::now();
    for _ in 0..rounds {
        for (line, language) in &lines {
            black_box(ingredients::parse(black_box(line), black_box(language)));
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let parsed = (rounds * lines.len()) as f64;
    println!(
        "parsed {parsed} lines ({} distinct) in {elapsed:.2} s: {:.0} lines/s on one core, {:.1} µs/line",
        lines.len(),
        parsed / elapsed,
        1e6 * elapsed / parsed
    );
}
