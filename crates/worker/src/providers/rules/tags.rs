//! Tags from the hashtags: the ones that say something about the dish.

use super::text::has_letters;

/// Hashtags that say nothing about the dish.
const GENERIC_TAGS: &[&str] = &[
    "fy",
    "fyp",
    "foryou",
    "foryoupage",
    "fürdich",
    "fürdichseite",
    "viral",
    "viralvideo",
    "trending",
    "trend",
    "tiktok",
    "tiktokfood",
    "foodtok",
    "foodtiktok",
    "tiktokrecipe",
    "recipe",
    "recipes",
    "rezept",
    "rezepte",
    "recette",
    "recettes",
    "receta",
    "recetas",
    "ricetta",
    "ricette",
    "food",
    "foodie",
    "foodporn",
    "foodlover",
    "yummy",
    "delicious",
    "lecker",
    "cooking",
    "kochen",
    "cook",
    "explore",
    "explorepage",
    "xyzbca",
    "capcut",
    "duet",
    "stitch",
    "learnontiktok",
    "easyrecipe",
    "easyrecipes",
    "instafood",
    "reels",
    "fyi",
    "parati",
    "pourtoi",
];

/// Most tags kept.
const MAX_TAGS: usize = 20;

/// Whether a hashtag says nothing about the dish.
fn is_generic_tag(tag: &str) -> bool {
    GENERIC_TAGS.contains(&tag)
        || tag.starts_with("fyp")
        || tag.starts_with("foryou")
        || tag.starts_with("fürdich")
}

/// Tags from the scraped hashtags and the caption's own hashtags: lower-case, without `#`,
/// without generic reach tags, each once.
pub(super) fn tags(hashtags: &[String], caption: &str) -> Vec<String> {
    let from_caption = super::text::hashtags(caption).map(str::to_owned);
    let mut out: Vec<String> = Vec::new();
    for tag in hashtags.iter().cloned().chain(from_caption) {
        let tag = tag.trim().trim_start_matches('#').to_lowercase();
        if tag.is_empty() || !has_letters(&tag) || is_generic_tag(&tag) || out.contains(&tag) {
            continue;
        }
        out.push(tag);
        if out.len() == MAX_TAGS {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_lowercase_unique_and_specific() {
        let scraped = vec!["Pasta".to_owned(), "fyp".to_owned(), "foryoupage".to_owned()];
        let found = tags(&scraped, "so good #pasta #GarlicButter #foodtok #viral #fypシ #2024");
        assert_eq!(found, vec!["pasta", "garlicbutter"]);
    }
}
