//! The offline, rule-based extractor: reads ingredients, method steps, servings, times and tags
//! from a video's caption and transcript with hand-written rules, without network or keys.
//!
//! It is what the demo runs and what the worker falls back to when no LLM key is configured, so
//! it has to work on captions it has never seen, not on a fixed set of examples. What it reads:
//!
//! - **Written layout** (captions, and subtitles that contain a section header): ingredient lists
//!   under "Ingredients", "Zutaten", "Ingrédients", … as bullets, numbers, one per line or
//!   comma-separated on one line; method steps under "Steps", "Zubereitung", … or as a numbered
//!   list; measure lines ("200 g Mehl") anywhere, which open an implicit ingredient list.
//! - **Speech** (transcripts): "you'll need 2 eggs, 1 1/2 cups flour and 3/4 cup milk", "add 2
//!   tablespoons of sugar", any amount with a unit; and, when no method was written down, the
//!   imperative sentences said after the first ingredient ("First whisk the eggs …").
//!
//! The caption is preferred: it is written by the author, while transcripts are machine speech
//! recognition. The transcript is only read for ingredients while the caption has fewer than two.
//!
//! **Language:** this extractor cannot translate. The recipe keeps the video's own words and
//! `language` is set to the requested tag, because that is the contract of
//! [`Extractor::extract`]; no description is made up to hide that.

mod ingredient;
mod instruction;
mod line;
mod meta;
mod sections;
mod spoken;
mod tags;
mod text;
mod title;

use async_trait::async_trait;
use protocol::{Ingredient, Language, Recipe, RecipeSource};

use super::{Extractor, ProviderError, VideoData};

/// Most ingredients kept; more is a parsing accident, not a recipe.
const MAX_INGREDIENTS: usize = 100;

/// Most steps kept.
const MAX_STEPS: usize = 60;

/// Fewest ingredients that make a recipe on their own, without any method steps.
const MIN_INGREDIENTS: usize = 2;

/// The offline extractor. It holds no state and never fails transiently.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuleExtractor;

impl RuleExtractor {
    /// A rule-based extractor.
    pub fn new() -> Self {
        Self
    }
}

#[async_trait]
impl Extractor for RuleExtractor {
    fn provider(&self) -> &'static str {
        "rules"
    }

    fn details(&self, video: &VideoData) -> String {
        let frames = video.frames_read.max(video.frames.len());
        let ocr = format!("on-screen text (OCR of {frames} frame{})", if frames == 1 { "" } else { "s" });
        let inputs = video.inputs_phrase(0).replace("on-screen text", &ocr);
        format!("Using the offline rule-based extractor on {inputs}")
    }

    async fn extract(&self, video: &VideoData, language: &Language) -> Result<Recipe, ProviderError> {
        extract_recipe(video, language)
    }
}

/// Adds the ingredients whose name is not there yet.
fn merge(into: &mut Vec<Ingredient>, more: impl IntoIterator<Item = Ingredient>) {
    for ingredient in more {
        let key = ingredient.name.to_lowercase();
        if !into.iter().any(|known| known.name.to_lowercase() == key) {
            into.push(ingredient);
        }
    }
}

/// `text` without hashtags and with every run of whitespace (including subtitle line breaks)
/// as one space, so spoken sentences that span cues read as one.
fn flatten(text: &str) -> String {
    text::strip_hashtags(text).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The recipe in `video`, or `not_a_recipe`.
fn extract_recipe(video: &VideoData, language: &Language) -> Result<Recipe, ProviderError> {
    let caption_lines = text::prepare_lines(&video.caption);
    let mut found = sections::scan(&caption_lines);
    // On-screen text is written by the author, like the caption (section headers, measure
    // lines), so it is read as written layout, and titles the recipe when it holds it.
    let overlay_lines = video.on_screen_text.as_deref().map(text::prepare_lines).unwrap_or_default();
    let mut title_lines = &caption_lines;
    if found.ingredients.len() < MIN_INGREDIENTS && !overlay_lines.is_empty() {
        let written = sections::scan(&overlay_lines);
        if written.ingredients.len() > found.ingredients.len() {
            title_lines = &overlay_lines;
        }
        merge(&mut found.ingredients, written.ingredients);
        if found.steps.is_empty() {
            found.steps = written.steps;
            found.trusted_steps = written.trusted_steps;
        }
    }
    // Transcribed speech (no subtitle track) is read like subtitles: it is the same kind of text.
    let transcript = video
        .transcript
        .as_deref()
        .or(video.speech_transcript.as_deref())
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let spoken = transcript.map(flatten);
    let mut steps_from = 0;

    if found.ingredients.len() < MIN_INGREDIENTS
        && let Some(transcript) = transcript
    {
        // Subtitles are only read as a written recipe when they have a header; otherwise
        // their line breaks are just where the speaker paused.
        let written = sections::scan(&text::prepare_lines(transcript));
        if written.had_header {
            merge(&mut found.ingredients, written.ingredients);
            if found.steps.is_empty() {
                found.steps = written.steps;
                found.trusted_steps = written.trusted_steps;
            }
        }
    }
    if found.ingredients.len() < MIN_INGREDIENTS
        && let Some(spoken) = &spoken
    {
        let mentions = spoken::spoken_ingredients(spoken);
        steps_from = mentions.first().map_or(0, |m| m.at);
        merge(&mut found.ingredients, mentions.into_iter().map(|m| m.ingredient));
    }
    if found.ingredients.len() < MIN_INGREDIENTS {
        // Captions written like speech: "You'll need 2 eggs, 1 cup flour …".
        let mentions = spoken::spoken_ingredients(&flatten(&video.caption));
        merge(&mut found.ingredients, mentions.into_iter().map(|m| m.ingredient));
    }

    // Without a written method, the instructions said after the first ingredient are the
    // method. Only with ingredients: otherwise any "Let it go" would make a recipe.
    if found.steps.is_empty() && !found.ingredients.is_empty() {
        if let Some(spoken) = &spoken {
            found.steps = instruction::imperative_steps(spoken, steps_from);
        }
        if found.steps.is_empty() {
            found.steps = instruction::imperative_steps(&text::strip_hashtags(&video.caption), 0);
        }
    }

    // A numbered list counts as a method only if something says it is one: a header, an
    // ingredient, or cooking words ("1. the spin 2. the slide" is a dance).
    let credible_steps = !found.steps.is_empty()
        && (found.trusted_steps
            || !found.ingredients.is_empty()
            || found.steps.iter().any(|s| instruction::has_cooking_signal(s)));
    if found.ingredients.len() < MIN_INGREDIENTS && !credible_steps {
        return Err(ProviderError::permanent("not_a_recipe", "This video does not contain a recipe"));
    }

    let caption = text::strip_hashtags(&video.caption);
    let servings = meta::find_servings(&caption).or_else(|| spoken.as_deref().and_then(meta::find_servings));
    let times = meta::find_times(&caption).or(spoken.as_deref().map(meta::find_times).unwrap_or_default());
    // A total is only derived when both parts are known; prep alone says nothing about it.
    let total = times.total.or_else(|| Some(times.prep? + times.cook?));
    let tags = tags::tags(&video.hashtags, &video.caption);
    let title = title::title(title_lines, spoken.as_deref(), &tags);

    found.ingredients.truncate(MAX_INGREDIENTS);
    found.steps.truncate(MAX_STEPS);
    Ok(Recipe {
        title,
        description: None,
        servings,
        prep_minutes: times.prep,
        cook_minutes: times.cook,
        total_minutes: total,
        ingredients: found.ingredients,
        steps: found.steps,
        tags,
        source: RecipeSource {
            url: video.url.clone(),
            video_id: video.video_id.clone(),
            author: video.author.clone(),
        },
        cover_url: video.cover_url.clone(),
        language: language.as_str().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn video(caption: &str, transcript: Option<&str>) -> VideoData {
        VideoData {
            url: "https://www.tiktok.com/@cook/video/7300000000000000001".into(),
            video_id: Some("7300000000000000001".into()),
            caption: caption.into(),
            transcript: transcript.map(str::to_owned),
            hashtags: text::hashtags(caption).map(str::to_owned).collect(),
            author: Some("cook".into()),
            cover_url: Some("https://p16.tiktokcdn.com/cover.jpg".into()),
            ..VideoData::default()
        }
    }

    fn language(tag: &str) -> Language {
        Language::parse(tag).expect("test language tags are valid")
    }

    fn extract(caption: &str, transcript: Option<&str>) -> Recipe {
        match extract_recipe(&video(caption, transcript), &language("en")) {
            Ok(recipe) => recipe,
            Err(e) => panic!("expected a recipe, got {e:?} for {caption:?}"),
        }
    }

    /// (name, quantity, unit) of each ingredient.
    fn summary(recipe: &Recipe) -> Vec<(String, Option<f64>, Option<String>)> {
        recipe.ingredients.iter().map(|i| (i.name.clone(), i.quantity, i.unit.clone())).collect()
    }

    fn item(name: &str, quantity: Option<f64>, unit: Option<&str>) -> (String, Option<f64>, Option<String>) {
        (name.to_owned(), quantity, unit.map(str::to_owned))
    }

    #[test]
    fn a_german_line_with_abbreviations_stays_one_ingredient() {
        let caption = "Kaiserschmarrn wie bei Oma

Zutaten (2 Portionen):
4 Stk. Eier (Gr. M)
250 ml Milch
125 g Mehl

Zubereitung:
1. Eier trennen, das Eiweiß steif schlagen.
2. Alles verrühren und in der Pfanne backen.";
        let recipe = extract_recipe(&video(caption, None), &language("de")).expect("a recipe");
        let raws: Vec<&str> = recipe.ingredients.iter().map(|i| i.raw.as_str()).collect();
        assert_eq!(raws, ["4 Stk. Eier (Gr. M)", "250 ml Milch", "125 g Mehl"]);
        assert_eq!(recipe.ingredients[0].size.as_deref(), Some("Gr. M"));
    }

    #[test]
    fn an_english_caption_with_emojis_becomes_a_recipe() {
        let caption = "Creamy garlic butter pasta 🍝🧄 ready in 20 minutes!
Serves 2
🛒 Ingredients:
• 200g spaghetti
• 3 cloves garlic, minced
• 2 tbsp butter
• ½ cup parmesan (grated)
• 1 1/2 cups heavy cream
• salt and pepper
👩‍🍳 Steps:
1️⃣ Boil the pasta in salted water until al dente.
2️⃣ Melt the butter and fry the garlic for 1 minute.
3️⃣ Stir in the cream and parmesan, then toss with the pasta.
Enjoy! 😋
#pasta #garlicbutter #fyp #foodtok #dinnerideas";
        let recipe = extract(caption, None);
        assert_eq!(recipe.title, "Creamy garlic butter pasta");
        assert_eq!(
            summary(&recipe),
            vec![
                item("spaghetti", Some(200.0), Some("g")),
                item("garlic", Some(3.0), Some("clove")),
                item("butter", Some(2.0), Some("tbsp")),
                item("parmesan", Some(0.5), Some("cup")),
                item("heavy cream", Some(1.5), Some("cup")),
                item("salt and pepper", None, None),
            ]
        );
        assert_eq!(recipe.ingredients[1].note.as_deref(), Some("minced"), "note after the comma");
        assert_eq!(recipe.ingredients[3].note.as_deref(), Some("grated"), "note in parentheses");
        assert_eq!(
            recipe.steps,
            vec![
                "Boil the pasta in salted water until al dente.",
                "Melt the butter and fry the garlic for 1 minute.",
                "Stir in the cream and parmesan, then toss with the pasta.",
            ]
        );
        assert_eq!(recipe.servings, Some(2));
        assert_eq!(recipe.total_minutes, Some(20), "'ready in 20 minutes' is the total");
        assert_eq!(recipe.tags, vec!["pasta", "garlicbutter", "dinnerideas"], "generic tags dropped");
    }

    #[test]
    fn a_german_caption_with_el_tl_and_prise_becomes_a_recipe() {
        let caption = "Omas Kaiserschmarrn 🥞 – einfach & schnell
Zutaten (für 2 Personen):
- 150 g Mehl
- 3 Eier
- 250 ml Milch
- 1 EL Zucker
- 1 TL Vanillezucker
- eine Prise Salz
- 2EL Butter zum Braten
- Puderzucker
Zubereitung:
1. Eier trennen und das Eiweiß steif schlagen.
2. Mehl, Milch, Eigelb und Zucker glatt rühren, Eischnee unterheben.
3. In Butter goldbraun backen, zerreißen und mit Puderzucker bestäuben.
Zubereitungszeit 15 Min. Backzeit 10 Minuten
#kaiserschmarrn #rezept #fürdich #dessert";
        let recipe = extract(caption, None);
        assert_eq!(recipe.title, "Omas Kaiserschmarrn");
        assert_eq!(
            summary(&recipe),
            vec![
                item("Mehl", Some(150.0), Some("g")),
                item("Eier", Some(3.0), None),
                item("Milch", Some(250.0), Some("ml")),
                item("Zucker", Some(1.0), Some("tbsp")),
                item("Vanillezucker", Some(1.0), Some("tsp")),
                item("Salz", Some(1.0), Some("pinch")),
                item("Butter", Some(2.0), Some("tbsp")),
                item("Puderzucker", None, None),
            ]
        );
        assert_eq!(recipe.steps.len(), 3, "three numbered steps: {:?}", recipe.steps);
        assert!(recipe.steps[0].starts_with("Eier trennen"), "numbering stripped: {:?}", recipe.steps[0]);
        assert_eq!(recipe.servings, Some(2), "für 2 Personen");
        assert_eq!((recipe.prep_minutes, recipe.cook_minutes), (Some(15), Some(10)));
        assert_eq!(recipe.total_minutes, Some(25), "total is prep plus cook");
        assert_eq!(recipe.tags, vec!["kaiserschmarrn", "dessert"]);
    }

    #[test]
    fn a_spoken_transcript_gives_ingredients_and_steps() {
        let caption = "Fluffy pancakes 🥞 #pancakes #breakfast #fyp";
        let transcript = "Hey guys, today we're making the fluffiest pancakes ever.
For this you'll need 2 eggs, 1 1/2 cups of flour
and 3/4 cup milk, plus a pinch of salt.
First whisk the eggs with the milk.
Then add 2 tablespoons of sugar and the flour.
Heat a pan over medium heat
and pour in a ladle of batter.
Flip after 2 minutes and serve with maple syrup.
Follow for more!";
        let recipe = extract(caption, Some(transcript));
        assert_eq!(recipe.title, "Fluffy pancakes");
        assert_eq!(
            summary(&recipe),
            vec![
                item("eggs", Some(2.0), None),
                item("flour", Some(1.5), Some("cup")),
                item("milk", Some(0.75), Some("cup")),
                item("salt", Some(1.0), Some("pinch")),
                item("sugar", Some(2.0), Some("tbsp")),
            ]
        );
        assert_eq!(
            recipe.steps,
            vec![
                "Whisk the eggs with the milk.",
                "Add 2 tablespoons of sugar and the flour.",
                "Heat a pan over medium heat and pour in a ladle of batter.",
                "Flip after 2 minutes and serve with maple syrup.",
            ],
            "greeting, ingredient list and call to action are not steps"
        );
    }

    #[test]
    fn a_one_line_caption_with_inline_sections_becomes_a_recipe() {
        let caption = "Easy carbonara 🍝 Ingredients: 200g spaghetti, 2 eggs, 50g pecorino, black pepper. \
                       Steps: 1. Boil the pasta 2. Whisk eggs and cheese 3. Toss everything off the heat #pasta";
        let recipe = extract(caption, None);
        assert_eq!(recipe.title, "Easy carbonara");
        let names: Vec<&str> = recipe.ingredients.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, vec!["spaghetti", "eggs", "pecorino", "black pepper"]);
        assert_eq!(
            recipe.steps,
            vec!["Boil the pasta", "Whisk eggs and cheese", "Toss everything off the heat"]
        );
    }

    #[test]
    fn a_list_without_headers_is_found_from_its_measure_lines() {
        let caption = "The BEST banana bread you'll ever make 🍌🍞

3 ripe bananas
1/3 cup melted butter
3/4 cup sugar
1 egg, beaten
1 tsp baking soda
pinch of salt
1 1/2 cups all-purpose flour

Preheat oven to 350°F. Mash bananas, mix in butter, then everything else. Bake 60 min.
#bananabread #baking #fyp";
        let recipe = extract(caption, None);
        assert_eq!(
            summary(&recipe),
            vec![
                item("bananas", Some(3.0), None),
                item("butter", Some(1.0 / 3.0), Some("cup")),
                item("sugar", Some(0.75), Some("cup")),
                item("egg", Some(1.0), None),
                item("baking soda", Some(1.0), Some("tsp")),
                item("salt", None, Some("pinch")),
                item("all-purpose flour", Some(1.5), Some("cup")),
            ],
            "the amount line before the first measure line is kept, the note stays a note"
        );
        assert_eq!(recipe.steps.len(), 3, "the method paragraph is split into sentences: {:?}", recipe.steps);
        assert_eq!(recipe.cook_minutes, Some(60), "'Bake 60 min' is the cooking time");
    }

    #[test]
    fn a_labelled_one_line_list_followed_by_its_method_is_split() {
        let caption = "Crispy smashed potatoes 🥔✨ Recipe: 1kg baby potatoes, 3 tbsp olive oil, 2 garlic cloves, \
                       salt, rosemary. Boil potatoes 20 min, smash, drizzle with oil and bake at 220°C. #potatoes";
        let recipe = extract(caption, None);
        let names: Vec<&str> = recipe.ingredients.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, vec!["baby potatoes", "olive oil", "garlic", "salt", "rosemary"]);
        assert_eq!(recipe.steps, vec!["Boil potatoes 20 min, smash, drizzle with oil and bake at 220°C."]);
        assert_eq!(recipe.title, "Crispy smashed potatoes");
    }

    #[test]
    fn a_german_spoken_transcript_gives_ingredients_and_steps() {
        let transcript =
            "Hallo ihr Lieben, heute machen wir Pfannkuchen. Dafür brauchst du 250 g Mehl, 3 Eier
und 500 ml Milch und eine Prise Salz. Zuerst verrührst du Mehl und Milch. Dann gibst du die Eier dazu.
Backe die Pfannkuchen von beiden Seiten goldbraun. Guten Appetit!";
        let recipe = extract("Pfannkuchen wie bei Oma 🥞 #pfannkuchen #fürdich", Some(transcript));
        assert_eq!(
            summary(&recipe),
            vec![
                item("Mehl", Some(250.0), Some("g")),
                item("Eier", Some(3.0), None),
                item("Milch", Some(500.0), Some("ml")),
                item("Salz", Some(1.0), Some("pinch")),
            ]
        );
        assert_eq!(recipe.steps.len(), 3, "three instructions, no greeting or sign-off: {:?}", recipe.steps);
        assert_eq!(recipe.steps[2], "Backe die Pfannkuchen von beiden Seiten goldbraun.");
        assert_eq!(recipe.title, "Pfannkuchen wie bei Oma");
    }

    #[test]
    fn a_spanish_caption_listing_its_ingredients_inline_is_a_recipe() {
        let caption = "Necesitas 500 g de harina, 2 huevos, 250 ml de leche y una pizca de sal. \
                       Mezcla todo y hornea 30 minutos a 180 grados.";
        let recipe = extract(caption, None);
        assert_eq!(
            summary(&recipe),
            vec![
                item("harina", Some(500.0), Some("g")),
                item("huevos", Some(2.0), None),
                item("leche", Some(250.0), Some("ml")),
                item("sal", Some(1.0), Some("pinch")),
            ]
        );
        assert!(recipe.steps.iter().any(|s| s.starts_with("Mezcla todo")), "the method: {:?}", recipe.steps);
    }

    #[test]
    fn a_header_less_inline_list_after_a_few_words_is_read() {
        let caption = "Para hoy 200 g de arroz, 1 cebolla picada y 2 dientes de ajo. Sofríe la cebolla y añade el arroz.";
        let names: Vec<String> = extract(caption, None).ingredients.into_iter().map(|i| i.name).collect();
        assert_eq!(names, vec!["arroz", "cebolla", "ajo"]);
    }

    #[test]
    fn videos_without_a_recipe_are_refused() {
        let cases = [
            (
                "POV: when the beat drops 💃🕺 #dance #fyp #viral",
                Some("la la la come on let's go"),
                "dance video",
            ),
            (
                "My top 3 moves 💃 1. the spin 2. the slide 3. the jump #dance",
                None,
                "numbered list that is no method",
            ),
            (
                "Best coffee in Vienna ☕️ #travel",
                Some("this place has 2 cups of the best coffee"),
                "one measured thing",
            ),
            (
                "Wait for the end 😂😂 #funny #cat #fyp",
                Some("oh my god look at him he's so cute"),
                "pet video",
            ),
            (
                "What I eat in a day as a nurse 🩺 #wieiad",
                Some("for breakfast I had oats with 2 bananas and for dinner I made pasta"),
                "food talk without a recipe",
            ),
            ("", None, "empty caption"),
        ];
        for (caption, transcript, why) in cases {
            let result = extract_recipe(&video(caption, transcript), &language("en"));
            assert_eq!(
                result,
                Err(ProviderError::permanent("not_a_recipe", "This video does not contain a recipe")),
                "{why}"
            );
        }
    }

    #[test]
    fn the_recipe_carries_source_cover_and_requested_language_without_translating() {
        let caption = "Ingredients: 200 g Mehl, 2 Eier";
        let recipe = extract_recipe(&video(caption, None), &language("pt-BR")).expect("a recipe");
        assert_eq!(recipe.language, "pt-BR", "the requested tag, even though nothing was translated");
        assert_eq!(recipe.ingredients[0].name, "Mehl", "source words are kept");
        assert_eq!(recipe.description, None, "no made-up description");
        assert_eq!(recipe.source.video_id.as_deref(), Some("7300000000000000001"));
        assert_eq!(recipe.source.author.as_deref(), Some("cook"));
        assert_eq!(recipe.source.url, "https://www.tiktok.com/@cook/video/7300000000000000001");
        assert_eq!(recipe.cover_url.as_deref(), Some("https://p16.tiktokcdn.com/cover.jpg"));
    }

    #[tokio::test]
    async fn the_extractor_trait_reports_its_details_and_extracts() {
        let extractor = RuleExtractor::new();
        let subtitled = video("x", Some("y"));
        assert_eq!(
            extractor.details(&subtitled),
            "Using the offline rule-based extractor on caption and subtitles"
        );
        let recipe = extractor.extract(&video("Zutaten: 200 g Mehl, 2 Eier", None), &language("de")).await;
        assert_eq!(recipe.map(|r| r.ingredients.len()), Ok(2));
    }

    /// Pieces of recipe-like text, so random inputs reach the deeper parsing paths.
    fn fragment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("200g".to_owned()),
            Just("½".to_owned()),
            Just("1 1/2".to_owned()),
            Just("2-3".to_owned()),
            Just("0,5".to_owned()),
            Just("cups of".to_owned()),
            Just("EL".to_owned()),
            Just("eine Prise".to_owned()),
            Just("Zutaten:".to_owned()),
            Just("Steps:".to_owned()),
            Just("you'll need".to_owned()),
            Just("add".to_owned()),
            Just("1.".to_owned()),
            Just("1️⃣".to_owned()),
            Just("(".to_owned()),
            Just(")".to_owned()),
            Just(",".to_owned()),
            Just("and".to_owned()),
            Just("\n".to_owned()),
            Just("#fyp".to_owned()),
            Just("🍝".to_owned()),
            Just("Serves 4".to_owned()),
            Just("1h15".to_owned()),
            "\\PC{0,6}",
        ]
    }

    proptest! {
        #[test]
        fn extraction_never_panics_on_arbitrary_text(
            caption in "\\PC{0,300}",
            transcript in proptest::option::of("\\PC{0,300}"),
        ) {
            let _ = extract_recipe(&video(&caption, transcript.as_deref()), &language("en"));
        }

        #[test]
        fn extraction_never_panics_on_recipe_like_text(
            caption in proptest::collection::vec(fragment(), 0..40),
            transcript in proptest::collection::vec(fragment(), 0..40),
        ) {
            let caption = caption.join(" ");
            let transcript = transcript.join(" ");
            if let Ok(recipe) = extract_recipe(&video(&caption, Some(&transcript)), &language("en")) {
                prop_assert!(!recipe.title.trim().is_empty(), "a recipe always has a title");
                prop_assert!(recipe.ingredients.iter().all(|i| !i.name.trim().is_empty()), "no empty names");
                let positive = |q: f64| q.is_finite() && q > 0.0;
                prop_assert!(recipe.ingredients.iter().all(|i| i.quantity.is_none_or(positive)), "amounts are positive");
            }
        }

        #[test]
        fn ingredient_parsing_never_panics(line in "\\PC{0,80}") {
            let _ = ingredient::parse_ingredient(&line);
            let _ = ingredient::split_items(&line);
            let _ = meta::parse_duration(&line);
        }
    }
}
