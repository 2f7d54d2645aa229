use super::*;

fn merged(lines: &[&str]) -> String {
    let mut m = Lines::default();
    for l in lines {
        m.add(l);
    }
    m.into_text()
}

#[test]
fn the_same_overlay_read_on_three_frames_appears_once() {
    let text = merged(&["200 g flour", "2 eggs", "200 g flour", "2 Eggs", "200 g flour.", "2 eggs"]);
    assert_eq!(text, "200 g flour\n2 eggs");
}

#[test]
fn a_one_character_misreading_is_the_same_line_but_another_number_is_not() {
    let text = merged(&["Bake 20 minutes at 180 C", "Bake 20 minutes at 180 €", "3 eggs", "2 eggs"]);
    assert_eq!(text, "Bake 20 minutes at 180 C\n3 eggs\n2 eggs");
}

#[test]
fn the_fuller_reading_of_a_line_wins() {
    assert_eq!(merged(&["Mix the flou", "Mix the flour and eggs"]), "Mix the flour and eggs");
}

#[test]
fn junk_lines_are_dropped_but_quantities_with_a_unit_stay() {
    for (line, junk) in [
        ("=|", true),
        ("27 50", true),
        ("a", true),
        ("ae", true),
        (". vd .", true),
        ("200 g", false),
        ("2 eggs", false),
        ("Salz", false),
    ] {
        assert_eq!(is_junk(line), junk, "{line:?}");
    }
}

#[test]
fn unconfident_words_are_dropped_from_tesseract_tsv() {
    let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
        1\t1\t0\t0\t0\t0\t0\t0\t768\t432\t-1\t\n\
        5\t1\t1\t1\t1\t1\t10\t10\t50\t20\t92.7\t200\n\
        5\t1\t1\t1\t1\t2\t70\t10\t20\t20\t90.1\tg\n\
        5\t1\t1\t1\t1\t3\t95\t10\t60\t20\t93.0\tflour\n\
        5\t1\t1\t1\t2\t1\t10\t40\t50\t20\t41.6\tCe\n\
        5\t1\t1\t1\t2\t2\t10\t40\t50\t20\t74.0\t50\n";
    assert_eq!(parse_tsv(tsv).lines, vec!["200 g flour".to_owned()]);
}
