//! Spoken text (transcripts): "you'll need 2 eggs, 1 1/2 cups flour and 3/4 cup milk", "add 2
//! tablespoons of sugar", and imperative sentences that read as method steps.

use std::sync::LazyLock;

use protocol::Ingredient;
use regex::Regex;

use super::ingredient::{lead, parse_ingredient, split_items};
use super::text::{capitalise, first_word, has_letters, regex, sentences, strip_prefix_ci, word_count};

/// Phrases that introduce a spoken ingredient list.
static NEED: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)\b(?:all you(?:'|’)?ll need is|all you need is|you(?:'|’)?ll need|you will need|you(?:'|’)?re gonna need|you are going to need|you need|we(?:'|’)?ll need|we will need|we need|the ingredients are|ingredients are|du brauchst|ihr braucht|wir brauchen|man braucht|dafür brauchst du|necesitas|necesitamos|necesitarás|vas a necesitar|solo necesitas|los ingredientes son)\b\s*:?\s*",
    )
});

/// Verbs after which a spoken amount is an ingredient even without a unit ("add 2 eggs").
static ADD: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        r"(?i)\b(?:add|adding|stir in|mix in|pour in|throw in|toss in|fold in|whisk in|put in|crack in|crack|season with|gib|gebt|füge|fügt|kommen)\s+(?:in\s+)?",
    )
});

/// Words that end a spoken ingredient name ("2 tbsp olive oil *in* a pan").
const NAME_STOPS: &[&str] = &[
    "and", "then", "to", "into", "in", "with", "until", "for", "on", "over", "at", "or", "plus", "so",
    "because", "but", "it", "that", "which", "und", "dann", "mit", "bis", "zu", "dazu", "hinzu", "rein",
    "oder", "für", "auf", "also", "hinein", "darüber",
];

/// Longest spoken ingredient name, in words; longer runs are sentences, not names.
const MAX_NAME_WORDS: usize = 4;

/// Leading words of spoken instructions that carry no meaning ("so now you want to add …").
const FILLERS: &[&str] = &[
    "first of all",
    "after that",
    "and then",
    "go ahead and",
    "you want to",
    "you wanna",
    "you're going to",
    "you are going to",
    "we're going to",
    "we are going to",
    "i'm going to",
    "i am going to",
    "i'm gonna",
    "we're gonna",
    "you're gonna",
    "let's",
    "lets",
    "then you",
    "and",
    "then",
    "now",
    "next",
    "so",
    "okay",
    "ok",
    "alright",
    "first",
    "firstly",
    "second",
    "afterwards",
    "finally",
    "lastly",
    "just",
    "simply",
    "you",
    "we",
    "als nächstes",
    "zum schluss",
    "dann",
    "jetzt",
    "nun",
    "zuerst",
    "danach",
    "anschließend",
    "und",
    "einfach",
    "noch",
];

/// English imperative cooking verbs.
const VERBS: &[&str] = &[
    "add",
    "arrange",
    "assemble",
    "bake",
    "baste",
    "beat",
    "blanch",
    "blend",
    "blitz",
    "boil",
    "braise",
    "bring",
    "broil",
    "brown",
    "brush",
    "caramelize",
    "caramelise",
    "check",
    "chill",
    "chop",
    "coat",
    "combine",
    "cook",
    "cool",
    "core",
    "cover",
    "crack",
    "cream",
    "crumble",
    "crush",
    "cube",
    "cut",
    "deglaze",
    "dice",
    "dip",
    "dissolve",
    "divide",
    "drain",
    "drizzle",
    "dry",
    "dust",
    "fill",
    "finish",
    "flip",
    "fold",
    "form",
    "freeze",
    "fry",
    "garnish",
    "grate",
    "grease",
    "grill",
    "grind",
    "heat",
    "knead",
    "ladle",
    "layer",
    "leave",
    "let",
    "line",
    "marinate",
    "mash",
    "measure",
    "melt",
    "microwave",
    "mince",
    "mix",
    "pat",
    "peel",
    "pipe",
    "place",
    "poach",
    "pop",
    "pour",
    "preheat",
    "prepare",
    "press",
    "pulse",
    "puree",
    "purée",
    "put",
    "reduce",
    "refrigerate",
    "remove",
    "repeat",
    "rest",
    "return",
    "rinse",
    "roast",
    "roll",
    "rub",
    "saute",
    "sauté",
    "scoop",
    "scrape",
    "sear",
    "season",
    "serve",
    "set",
    "shake",
    "shape",
    "shred",
    "sift",
    "simmer",
    "skewer",
    "slice",
    "smash",
    "soak",
    "spoon",
    "spray",
    "spread",
    "sprinkle",
    "squeeze",
    "steam",
    "stir",
    "strain",
    "stuff",
    "take",
    "taste",
    "toast",
    "top",
    "toss",
    "transfer",
    "trim",
    "turn",
    "warm",
    "wash",
    "whip",
    "whisk",
    "wrap",
    "zest",
    "start",
    "throw",
    "use",
];

/// German imperative forms (du/ihr) of cooking verbs.
const VERBS_DE: &[&str] = &[
    "gib",
    "gebt",
    "füge",
    "fügt",
    "schneide",
    "schneidet",
    "koche",
    "kocht",
    "brate",
    "bratet",
    "backe",
    "backt",
    "vermische",
    "vermischt",
    "mische",
    "mischt",
    "rühre",
    "rührt",
    "verrühre",
    "verrührt",
    "heize",
    "heizt",
    "lass",
    "lasst",
    "gieße",
    "gießt",
    "würze",
    "würzt",
    "schlage",
    "schlagt",
    "stelle",
    "stellt",
    "nimm",
    "nehmt",
    "serviere",
    "serviert",
    "schäle",
    "schält",
    "hacke",
    "hackt",
    "erhitze",
    "erhitzt",
    "forme",
    "formt",
    "knete",
    "knetet",
    "streue",
    "streut",
    "lege",
    "legt",
    "fülle",
    "füllt",
    "verteile",
    "verteilt",
    "püriere",
    "wasche",
    "wende",
    "wendet",
    "vermenge",
    "vermengt",
    "schmelze",
    "dünste",
    "röste",
    "garniere",
    "bestreue",
    "hebe",
    "drücke",
    "rolle",
    "decke",
    "lösche",
    "reduziere",
    "packe",
    "trenne",
    "trennt",
    // Spoken German uses the du-form: "Dann gibst du das Mehl dazu".
    "gibst",
    "fügst",
    "schneidest",
    "kochst",
    "brätst",
    "backst",
    "vermischst",
    "mischst",
    "rührst",
    "verrührst",
    "lässt",
    "nimmst",
    "stellst",
    "legst",
    "füllst",
    "verteilst",
    "schlägst",
    "formst",
    "knetest",
    "streust",
    "schälst",
    "hackst",
    "pürierst",
];

/// German infinitives that end a recipe-style instruction ("Zwiebeln fein schneiden.").
/// Spanish imperatives (tú and usted forms) that open a method step.
const VERBS_ES: &[&str] = &[
    "mezcla",
    "mezcle",
    "mezclar",
    "bate",
    "bata",
    "batir",
    "hornea",
    "hornee",
    "hornear",
    "añade",
    "añada",
    "agrega",
    "agregue",
    "incorpora",
    "incorpore",
    "corta",
    "corte",
    "pica",
    "pique",
    "sofríe",
    "sofría",
    "fríe",
    "fría",
    "cuece",
    "cueza",
    "hierve",
    "hierva",
    "calienta",
    "caliente",
    "precalienta",
    "precaliente",
    "vierte",
    "vierta",
    "deja",
    "deje",
    "remueve",
    "remueva",
    "sirve",
    "sirva",
    "pon",
    "ponga",
    "coloca",
    "coloque",
    "lava",
    "pela",
    "ralla",
    "amasa",
    "amase",
    "tapa",
    "cocina",
    "cocine",
    "saltea",
    "retira",
    "retire",
    "escurre",
    "escurra",
    "dora",
    "sazona",
    "salpimienta",
    "unta",
    "rellena",
    "enrolla",
    "decora",
    "espolvorea",
    "reserva",
    "licúa",
    "tritura",
    "extiende",
    "forma",
    "enfría",
    "refrigera",
    "marina",
];

const INFINITIVES_DE: &[&str] = &[
    "schneiden",
    "hacken",
    "kochen",
    "backen",
    "braten",
    "anbraten",
    "vermischen",
    "mischen",
    "verrühren",
    "rühren",
    "hinzufügen",
    "hinzugeben",
    "dazugeben",
    "zugeben",
    "geben",
    "würzen",
    "servieren",
    "abgießen",
    "schälen",
    "erhitzen",
    "schmelzen",
    "formen",
    "kneten",
    "ausrollen",
    "verteilen",
    "garnieren",
    "unterheben",
    "schlagen",
    "pürieren",
    "abschmecken",
    "köcheln",
    "lassen",
    "zerreißen",
    "trennen",
    "waschen",
    "abkühlen",
    "reduzieren",
    "bestreuen",
    "belegen",
    "füllen",
    "dünsten",
    "rösten",
    "ablöschen",
    "aufkochen",
    "einrühren",
    "verquirlen",
    "vermengen",
    "wenden",
    "einfüllen",
    "stellen",
    "legen",
    "marinieren",
    "garen",
    "aufschlagen",
];

/// Words that only occur when something is being cooked; used to tell a numbered method from a
/// numbered list of anything else ("1. the spin 2. the slide").
const COOKING_WORDS: &[&str] = &[
    "bake",
    "hornea",
    "horno",
    "sartén",
    "mezcla",
    "baked",
    "baking",
    "boil",
    "boiling",
    "fry",
    "fried",
    "frying",
    "roast",
    "grill",
    "simmer",
    "whisk",
    "stir",
    "knead",
    "preheat",
    "oven",
    "pan",
    "pot",
    "skillet",
    "bowl",
    "saucepan",
    "minute",
    "minutes",
    "min",
    "degrees",
    "season",
    "chop",
    "dice",
    "mince",
    "sauté",
    "saute",
    "marinate",
    "blend",
    "mix",
    "melt",
    "cook",
    "cooking",
    "dough",
    "batter",
    "sauce",
    "ofen",
    "pfanne",
    "topf",
    "schüssel",
    "backen",
    "kochen",
    "braten",
    "rühren",
    "minuten",
    "grad",
    "würzen",
    "hacken",
    "teig",
    "soße",
    "verrühren",
    "vermischen",
    "schneiden",
];

/// An ingredient heard in spoken text, with where it was said.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Mention {
    /// Byte offset of the phrase that introduced it.
    pub(super) at: usize,
    /// The ingredient.
    pub(super) ingredient: Ingredient,
}

/// The text up to the end of its first sentence.
fn until_sentence_end(text: &str) -> &str {
    sentences(text).first().map_or("", |&(at, sentence)| &text[..at + sentence.len()])
}

/// A spoken ingredient name at the start of `text` ("sugar and the flour" gives "sugar"), and how
/// many bytes it used.
fn spoken_name(text: &str) -> (String, usize) {
    let mut words: Vec<&str> = Vec::new();
    let mut used = 0;
    let mut piece_start = 0;
    for piece in text.split_inclusive(char::is_whitespace) {
        let start = piece_start;
        piece_start += piece.len();
        let word = piece.trim();
        if word.is_empty() {
            continue;
        }
        let bare = word.trim_end_matches(|c: char| !c.is_alphanumeric());
        let lower = bare.to_lowercase();
        if words.len() >= MAX_NAME_WORDS
            || NAME_STOPS.contains(&lower.as_str())
            || bare.starts_with(|c: char| c.is_ascii_digit())
            || !has_letters(bare)
        {
            break;
        }
        words.push(bare);
        // Pieces never start with whitespace, so the word ends `bare.len()` bytes in.
        used = start + bare.len();
        if bare.len() < word.len() {
            // Punctuation after the word ends the name: "salt, then …".
            break;
        }
    }
    (words.join(" "), used)
}

/// An amount with a name at byte `at` of `text`: "2 tablespoons of sugar". Without `require_unit`
/// a bare count is enough ("2 eggs"), which callers allow only after "add".
fn measure_at(text: &str, at: usize, require_unit: bool) -> Option<(Ingredient, usize)> {
    let rest = &text[at..];
    let lead = lead(rest)?;
    // "pour in a ladle of batter": an article is too weak to make a spoken ingredient.
    if lead.article || (require_unit && lead.unit.is_none()) {
        return None;
    }
    let (name, used) = spoken_name(&rest[lead.name_start..]);
    if name.is_empty() {
        return None;
    }
    let end = at + lead.name_start + used;
    let ingredient = Ingredient {
        raw: text[at..end].trim().to_owned(),
        quantity: Some(lead.quantity),
        unit: lead.unit.map(str::to_owned),
        name,
        ..Ingredient::default()
    };
    Some((ingredient, end))
}

/// Ingredients said in a transcript, in the order they were said, one per name.
pub(super) fn spoken_ingredients(text: &str) -> Vec<Mention> {
    let mut found: Vec<Mention> = Vec::new();

    // "You'll need 2 eggs, 1 1/2 cups flour and 3/4 cup milk."
    for m in NEED.find_iter(text) {
        let mut list = Vec::new();
        for item in split_items(until_sentence_end(&text[m.end()..])) {
            let Some(ingredient) = parse_ingredient(&item) else { break };
            let words = word_count(&ingredient.name);
            // A long "name" means the sentence went on about something else.
            if words > 5 || (ingredient.quantity.is_none() && words > 3) {
                break;
            }
            list.push(Mention { at: m.start(), ingredient });
        }
        // "You need to try this" is not a list: a spoken list names at least one amount.
        if list.iter().any(|mention| mention.ingredient.quantity.is_some()) {
            found.extend(list);
        }
    }

    // "… then 200 grams of flour go in": an amount with a unit anywhere.
    let mut resume = 0;
    let word_starts = text
        .char_indices()
        .filter(|&(i, c)| !c.is_whitespace() && (i == 0 || text[..i].ends_with(char::is_whitespace)));
    for (i, _) in word_starts {
        if i < resume {
            continue;
        }
        if let Some((ingredient, end)) = measure_at(text, i, true) {
            found.push(Mention { at: i, ingredient });
            resume = end;
        }
    }

    // "add 2 eggs": a count after an adding verb.
    for m in ADD.find_iter(text) {
        if let Some((ingredient, _)) = measure_at(text, m.end(), false) {
            found.push(Mention { at: m.end(), ingredient });
        }
    }

    found.sort_by_key(|m| m.at);
    let mut seen: Vec<String> = Vec::new();
    found.retain(|m| {
        let key = m.ingredient.name.to_lowercase();
        let new = !seen.contains(&key);
        if new {
            seen.push(key);
        }
        new
    });
    found
}

/// `sentence` without leading filler words ("So now you want to add …" becomes "add …").
fn strip_fillers(sentence: &str) -> &str {
    let mut body = sentence.trim();
    loop {
        let before = body.len();
        for filler in FILLERS {
            if let Some(rest) = strip_prefix_ci(body, filler) {
                // Only whole words: "so" must not eat the start of "soak".
                if rest.is_empty() || rest.starts_with(|c: char| c.is_whitespace() || c == ',') {
                    body = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
                    break;
                }
            }
        }
        if body.len() == before {
            return body;
        }
    }
}

/// `sentence` as a method step when it is an instruction: it starts with a cooking verb (after
/// fillers) or, in German recipe style, ends with a cooking infinitive.
pub(super) fn imperative(sentence: &str) -> Option<String> {
    let body = strip_fillers(sentence);
    let verb_word = first_word(body);
    let verb = verb_word.to_lowercase();
    let next = first_word(body[verb_word.len()..].trim_start()).to_lowercase();
    let english = VERBS.contains(&verb.as_str()) && !(verb == "let" && matches!(next.as_str(), "me" | "us"));
    let german = VERBS_DE.contains(&verb.as_str()) || VERBS_ES.contains(&verb.as_str());
    let last = body
        .split_whitespace()
        .next_back()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_lowercase())
        .unwrap_or_default();
    let infinitive = word_count(body) >= 2 && INFINITIVES_DE.contains(&last.as_str());
    (english || german || infinitive).then(|| capitalise(body))
}

/// Method steps from free text: the instructions among its sentences, from the sentence that
/// holds byte `from` on (the first ingredient mention, so the greeting is skipped).
pub(super) fn imperative_steps(text: &str, from: usize) -> Vec<String> {
    sentences(text)
        .into_iter()
        .filter(|&(at, sentence)| at + sentence.len() > from)
        .filter_map(|(_, sentence)| imperative(sentence))
        .collect()
}

/// Whether a step mentions cooking at all.
pub(super) fn has_cooking_signal(step: &str) -> bool {
    step.split(|c: char| !c.is_alphanumeric())
        .any(|word| COOKING_WORDS.contains(&word.to_lowercase().as_str()))
        || step.contains('°')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<(String, Option<f64>, Option<String>)> {
        spoken_ingredients(text)
            .into_iter()
            .map(|m| (m.ingredient.name, m.ingredient.quantity, m.ingredient.unit))
            .collect()
    }

    #[test]
    fn a_spoken_list_after_you_will_need_is_read() {
        let found = names("For this you'll need 2 eggs, 1 1/2 cups flour and 3/4 cup milk. Then mix.");
        assert_eq!(
            found,
            vec![
                ("eggs".to_owned(), Some(2.0), None),
                ("flour".to_owned(), Some(1.5), Some("cup".to_owned())),
                ("milk".to_owned(), Some(0.75), Some("cup".to_owned())),
            ]
        );
    }

    #[test]
    fn amounts_said_while_cooking_are_ingredients() {
        let cases = [
            ("now add 2 tablespoons of sugar and stir", "sugar", Some("tbsp"), "add with a unit"),
            ("then crack in two eggs", "eggs", None, "count after an adding verb"),
            ("pour 200 ml of milk into the pan", "milk", Some("ml"), "unit anywhere"),
            ("Gib 200 g Mehl dazu", "Mehl", Some("g"), "German with dazu"),
            ("dann 2 EL Zucker hinzu", "Zucker", Some("tbsp"), "German with hinzu"),
        ];
        for (text, name, unit, why) in cases {
            let found = spoken_ingredients(text);
            assert_eq!(found.len(), 1, "{why}: {text:?} gave {found:?}");
            assert_eq!(found[0].ingredient.name, name, "{why}");
            assert_eq!(found[0].ingredient.unit.as_deref(), unit, "{why}");
        }
    }

    #[test]
    fn talk_without_amounts_yields_no_ingredients() {
        for text in [
            "hey guys welcome back to my channel",
            "I need 2 minutes to explain this",
            "you need to try this",
        ] {
            assert_eq!(names(text), vec![], "{text:?}");
        }
    }

    #[test]
    fn instructions_are_recognised_and_chatter_is_not() {
        let cases = [
            ("First whisk the eggs with the milk.", Some("Whisk the eggs with the milk."), "filler and verb"),
            ("So now you want to add the flour", Some("Add the flour"), "stacked fillers"),
            ("Let it rest for 10 minutes.", Some("Let it rest for 10 minutes."), "let it"),
            ("Let me show you my kitchen", None, "let me is not an instruction"),
            ("Dann die Zwiebeln fein schneiden.", Some("Die Zwiebeln fein schneiden."), "German infinitive"),
            ("Gib das Mehl dazu.", Some("Gib das Mehl dazu."), "German imperative"),
            ("Follow for more!", None, "call to action"),
            ("Soak the beans overnight", Some("Soak the beans overnight"), "'so' does not eat 'soak'"),
        ];
        for (sentence, expected, why) in cases {
            assert_eq!(imperative(sentence).as_deref(), expected, "{why}");
        }
    }

    #[test]
    fn cooking_signal_tells_a_method_from_other_lists() {
        assert!(has_cooking_signal("Bake for 20 minutes"), "baking");
        assert!(has_cooking_signal("Heat the oven to 180°C"), "oven");
        assert!(!has_cooking_signal("the spin"), "dance move");
    }
}
