//! The language a recipe is written in: a BCP 47 tag (RFC 5646) such as `de`, `pt-BR`, `es-419`,
//! `zh-Hant-TW`, `sr-Latn`, `fil` or `yue`, what Flutter's `Locale.toLanguageTag()` sends.
//!
//! Well-formedness is RFC 5646's grammar (`oxilangtag`); on top of it every subtag that carries
//! meaning must be known: the language in ISO 639 (`isolang`), the region in ISO 3166-1 or UN M.49,
//! the script in the ISO 15924 table below. Variants and extensions are kept as sent (normalised
//! case) but not checked: they refine a language the reader already named.

use std::fmt;
use std::str::FromStr;

use oxilangtag::LanguageTag;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest tag accepted. RFC 5646 asks for at least 35 characters; real tags are far shorter,
/// and the tag is stored and echoed, so a cap keeps junk out.
const MAX_LEN: usize = 64;

/// UN M.49 regions a tag may name instead of a country (`es-419`), with their English names.
const M49_REGIONS: &[(&str, &str)] = &[
    ("001", "World"),
    ("002", "Africa"),
    ("003", "North America"),
    ("005", "South America"),
    ("009", "Oceania"),
    ("011", "Western Africa"),
    ("013", "Central America"),
    ("014", "Eastern Africa"),
    ("015", "Northern Africa"),
    ("017", "Middle Africa"),
    ("018", "Southern Africa"),
    ("019", "Americas"),
    ("021", "Northern America"),
    ("029", "Caribbean"),
    ("030", "Eastern Asia"),
    ("034", "Southern Asia"),
    ("035", "South-Eastern Asia"),
    ("039", "Southern Europe"),
    ("053", "Australia and New Zealand"),
    ("054", "Melanesia"),
    ("057", "Micronesia"),
    ("061", "Polynesia"),
    ("142", "Asia"),
    ("143", "Central Asia"),
    ("145", "Western Asia"),
    ("150", "Europe"),
    ("151", "Eastern Europe"),
    ("154", "Northern Europe"),
    ("155", "Western Europe"),
    ("202", "Sub-Saharan Africa"),
    ("419", "Latin America"),
];

/// ISO 15924 scripts in use for living languages, with their English names. `Hans`/`Hant` name
/// the variety rather than the script ("Traditional Chinese"), as people say it.
const SCRIPTS: &[(&str, &str)] = &[
    ("Adlm", "Adlam"),
    ("Arab", "Arabic"),
    ("Armn", "Armenian"),
    ("Beng", "Bengali"),
    ("Bopo", "Bopomofo"),
    ("Brai", "Braille"),
    ("Cans", "Canadian Aboriginal syllabics"),
    ("Cher", "Cherokee"),
    ("Cyrl", "Cyrillic"),
    ("Deva", "Devanagari"),
    ("Ethi", "Ethiopic"),
    ("Geor", "Georgian"),
    ("Grek", "Greek"),
    ("Gujr", "Gujarati"),
    ("Guru", "Gurmukhi"),
    ("Hang", "Hangul"),
    ("Hani", "Han"),
    ("Hans", "Simplified"),
    ("Hant", "Traditional"),
    ("Hebr", "Hebrew"),
    ("Hira", "Hiragana"),
    ("Jpan", "Japanese"),
    ("Kana", "Katakana"),
    ("Khmr", "Khmer"),
    ("Knda", "Kannada"),
    ("Kore", "Korean"),
    ("Laoo", "Lao"),
    ("Latn", "Latin"),
    ("Mlym", "Malayalam"),
    ("Mong", "Mongolian"),
    ("Mtei", "Meitei Mayek"),
    ("Mymr", "Myanmar"),
    ("Nkoo", "N'Ko"),
    ("Olck", "Ol Chiki"),
    ("Orya", "Odia"),
    ("Rohg", "Hanifi Rohingya"),
    ("Sinh", "Sinhala"),
    ("Syrc", "Syriac"),
    ("Taml", "Tamil"),
    ("Telu", "Telugu"),
    ("Tfng", "Tifinagh"),
    ("Thaa", "Thaana"),
    ("Thai", "Thai"),
    ("Tibt", "Tibetan"),
    ("Vaii", "Vai"),
    ("Yiii", "Yi"),
];

/// Why a language tag was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LanguageError {
    /// Not a well-formed BCP 47 tag with a two- or three-letter language first.
    #[error(
        "language must be a BCP 47 tag such as \"de\", \"pt-BR\", \"es-419\" or \"zh-Hant-TW\", got {0:?}"
    )]
    Shape(String),
    /// Well-formed, but the language is not in ISO 639.
    #[error("{0:?} is not an ISO 639 language code")]
    Unknown(String),
    /// A three-letter code where BCP 47 uses the two-letter one (`deu` for `de`).
    #[error("{given:?} is written {short:?} in a language tag")]
    UseShortCode {
        /// The code as sent.
        given: String,
        /// The ISO 639-1 code BCP 47 wants instead.
        short: &'static str,
    },
    /// Well-formed, but the region is neither an ISO 3166-1 country nor a UN M.49 area.
    #[error("{0:?} is not a known region (ISO 3166-1 country or UN M.49 area such as 419)")]
    UnknownRegion(String),
    /// Well-formed, but the script is not one we know of.
    #[error("{0:?} is not a known ISO 15924 script")]
    UnknownScript(String),
}

/// A validated BCP 47 language tag in its normalised case (`pt-BR`, `zh-Hant-TW`, `es-419`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Language(String);

impl Language {
    /// Parses any well-formed BCP 47 tag whose language, script and region are known; `_` is read
    /// as `-` and the case is normalised (`pt_br` is `pt-BR`, `ZH-hant-tw` is `zh-Hant-TW`).
    ///
    /// # Errors
    /// [`LanguageError`] for a malformed tag, an extended-language or private-use form, or an
    /// unknown language, script or region.
    pub fn parse(input: &str) -> Result<Self, LanguageError> {
        let trimmed = input.trim();
        let shape = || LanguageError::Shape(trimmed.chars().take(32).collect());
        if trimmed.len() > MAX_LEN {
            return Err(shape());
        }
        let tag = LanguageTag::parse_and_normalize(&trimmed.replace('_', "-")).map_err(|_| shape())?;
        // Grandfathered (`i-klingon`) and private-use (`x-foo`) tags name no ISO 639 language, and
        // the extlang form (`zh-yue`) has a preferred plain form (`yue`): all are refused.
        let primary = tag.primary_language();
        if !(2..=3).contains(&primary.len())
            || !primary.bytes().all(|b| b.is_ascii_alphabetic())
            || tag.extended_language().is_some()
        {
            return Err(shape());
        }
        language_name(primary)?;
        if let Some(script) = tag.script() {
            script_name(script).ok_or_else(|| LanguageError::UnknownScript(script.to_owned()))?;
        }
        if let Some(region) = tag.region() {
            region_name(region).ok_or_else(|| LanguageError::UnknownRegion(region.to_owned()))?;
        }
        Ok(Self(tag.into_inner()))
    }

    /// The normalised tag, e.g. `pt-BR`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The language subtag without script or region, e.g. `pt` (two letters, or three for
    /// languages ISO 639-1 lacks, such as `fil` and `yue`).
    pub fn primary(&self) -> &str {
        self.0.split('-').next().unwrap_or(&self.0)
    }

    /// The tag in English words, for people and for the LLM prompt: "Spanish (Latin America)",
    /// "Traditional Chinese (Taiwan)", "Serbian (Latin script)", "Filipino".
    pub fn english_name(&self) -> String {
        // A parsed tag is well-formed with known subtags; the fallbacks are never taken.
        let Ok(tag) = LanguageTag::parse(self.0.as_str()) else { return self.0.clone() };
        let language = language_name(tag.primary_language()).unwrap_or(tag.primary_language());
        let mut qualifiers = Vec::new();
        let name = match tag.script() {
            Some(han @ ("Hans" | "Hant")) => format!("{} {language}", script_name(han).unwrap_or(han)),
            Some(script) => {
                qualifiers.push(format!("{} script", script_name(script).unwrap_or(script)));
                language.to_owned()
            }
            None => language.to_owned(),
        };
        if let Some(region) = tag.region() {
            qualifiers.push(region_name(region).unwrap_or_else(|| region.to_owned()));
        }
        if qualifiers.is_empty() { name } else { format!("{name} ({})", qualifiers.join(", ")) }
    }
}

/// The English name of an ISO 639 language code; three-letter codes that have a two-letter one
/// are refused, as BCP 47 does.
fn language_name(code: &str) -> Result<&'static str, LanguageError> {
    let found = match code.len() {
        2 => isolang::Language::from_639_1(code),
        _ => isolang::Language::from_639_3(code),
    };
    let language = found.ok_or_else(|| LanguageError::Unknown(code.to_owned()))?;
    match language.to_639_1() {
        Some(short) if code.len() == 3 => Err(LanguageError::UseShortCode { given: code.to_owned(), short }),
        _ => Ok(language.to_name()),
    }
}

fn script_name(code: &str) -> Option<&'static str> {
    SCRIPTS.iter().find(|(c, _)| *c == code).map(|(_, name)| *name)
}

/// The short English name of a region: the UN M.49 name, or the ISO 3166-1 name up to its first
/// comma ("Taiwan, Province of China" is "Taiwan").
fn region_name(code: &str) -> Option<String> {
    if let Some((_, name)) = M49_REGIONS.iter().find(|(c, _)| *c == code) {
        return Some((*name).to_owned());
    }
    let country = isocountry::CountryCode::for_alpha2(code).ok()?;
    Some(country.name().split(", ").next().unwrap_or(country.name()).to_owned())
}

impl FromStr for Language {
    type Err = LanguageError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Language {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Language {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_and_normalises_tags() {
        for (input, expected) in [
            ("de", "de"),
            ("DE", "de"),
            ("pt-BR", "pt-BR"),
            ("pt_br", "pt-BR"),
            (" en ", "en"),
            ("es-419", "es-419"),
            ("zh-hant-tw", "zh-Hant-TW"),
            ("ZH-HANS", "zh-Hans"),
            ("sr-latn", "sr-Latn"),
            ("fil", "fil"),
            ("yue", "yue"),
            ("de-CH-1996", "de-CH-1996"),
            ("en-US-u-ca-gregory", "en-US-u-ca-gregory"),
        ] {
            assert_eq!(Language::parse(input).map(|l| l.0), Ok(expected.to_owned()), "input {input:?}");
        }
    }

    #[test]
    fn refuses_bad_tags_with_a_reason() {
        let long = "a".repeat(300);
        let cases = [
            ("", "empty"),
            ("d", "too short"),
            ("german", "a name, not a code"),
            ("deutsch!", "punctuation"),
            ("en--US", "empty subtag"),
            ("pt-BRA", "three-letter region (read as an extended language)"),
            ("zh-yue", "extended-language form"),
            ("pt-BR-x", "private use without a subtag"),
            ("x-private", "private use only"),
            ("i-klingon", "grandfathered"),
            ("d3", "digit"),
            (long.as_str(), "300 characters"),
        ];
        for (input, why) in cases {
            assert!(
                matches!(Language::parse(input), Err(LanguageError::Shape(_))),
                "{input:?} should fail its shape: {why}"
            );
        }
        assert_eq!(Language::parse("xx"), Err(LanguageError::Unknown("xx".into())));
        assert_eq!(Language::parse("qqq"), Err(LanguageError::Unknown("qqq".into())));
        assert_eq!(
            Language::parse("deu"),
            Err(LanguageError::UseShortCode { given: "deu".into(), short: "de" })
        );
        assert_eq!(Language::parse("pt-XX"), Err(LanguageError::UnknownRegion("XX".into())));
        assert_eq!(Language::parse("es-999"), Err(LanguageError::UnknownRegion("999".into())));
        assert_eq!(Language::parse("sr-Qabc"), Err(LanguageError::UnknownScript("Qabc".into())));
    }

    #[test]
    fn primary_drops_script_and_region() {
        for (tag, primary) in [("pt-BR", "pt"), ("zh-Hant-TW", "zh"), ("fil", "fil"), ("es-419", "es")] {
            assert_eq!(Language::parse(tag).unwrap().primary(), primary, "{tag}");
        }
    }

    #[test]
    fn english_names_say_language_script_and_region() {
        for (tag, name) in [
            ("de", "German"),
            ("es-419", "Spanish (Latin America)"),
            ("zh-Hant-TW", "Traditional Chinese (Taiwan)"),
            ("zh-Hans", "Simplified Chinese"),
            ("sr-Latn", "Serbian (Latin script)"),
            ("fil", "Filipino"),
            ("yue", "Yue Chinese"),
            ("pt-BR", "Portuguese (Brazil)"),
            ("en-US", "English (United States of America)"),
        ] {
            assert_eq!(Language::parse(tag).unwrap().english_name(), name, "{tag}");
        }
    }

    #[test]
    fn every_script_in_the_table_is_a_well_formed_subtag() {
        for (code, _) in SCRIPTS {
            let tag = format!("en-{code}");
            assert_eq!(Language::parse(&tag).map(|l| l.0), Ok(tag.clone()), "{code}");
        }
        for (code, _) in M49_REGIONS {
            assert!(Language::parse(&format!("es-{code}")).is_ok(), "{code}");
        }
    }

    proptest! {
        #[test]
        fn every_country_with_any_case_parses_and_reparses(idx in 0..isocountry::CountryCode::as_array().len()) {
            let region = isocountry::CountryCode::as_array()[idx].alpha2();
            let tag = format!("PT-{}", region.to_lowercase());
            let lang = Language::parse(&tag).unwrap();
            prop_assert_eq!(lang.as_str(), format!("pt-{region}"));
            prop_assert_eq!(Language::parse(lang.as_str()).unwrap(), lang.clone());
        }

        #[test]
        fn parsing_never_panics_and_accepted_tags_reparse_to_themselves(input in "\\PC{0,12}") {
            if let Ok(lang) = Language::parse(&input) {
                prop_assert_eq!(Language::parse(lang.as_str()), Ok(lang.clone()));
                let _ = lang.english_name();
            }
        }
    }
}
