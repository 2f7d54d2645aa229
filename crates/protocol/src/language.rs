//! The language a recipe is written in: ISO 639-1 with an optional region (`de`, `pt-BR`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// ISO 639-1 language codes (two letters), the set the LLM prompt and the extractor accept.
const ISO_639_1: &[&str] = &[
    "aa", "ab", "ae", "af", "ak", "am", "an", "ar", "as", "av", "ay", "az", "ba", "be", "bg", "bh", "bi",
    "bm", "bn", "bo", "br", "bs", "ca", "ce", "ch", "co", "cr", "cs", "cu", "cv", "cy", "da", "de", "dv",
    "dz", "ee", "el", "en", "eo", "es", "et", "eu", "fa", "ff", "fi", "fj", "fo", "fr", "fy", "ga", "gd",
    "gl", "gn", "gu", "gv", "ha", "he", "hi", "ho", "hr", "ht", "hu", "hy", "hz", "ia", "id", "ie", "ig",
    "ii", "ik", "io", "is", "it", "iu", "ja", "jv", "ka", "kg", "ki", "kj", "kk", "kl", "km", "kn", "ko",
    "kr", "ks", "ku", "kv", "kw", "ky", "la", "lb", "lg", "li", "ln", "lo", "lt", "lu", "lv", "mg", "mh",
    "mi", "mk", "ml", "mn", "mr", "ms", "mt", "my", "na", "nb", "nd", "ne", "ng", "nl", "nn", "no", "nr",
    "nv", "ny", "oc", "oj", "om", "or", "os", "pa", "pi", "pl", "ps", "pt", "qu", "rm", "rn", "ro", "ru",
    "rw", "sa", "sc", "sd", "se", "sg", "si", "sk", "sl", "sm", "sn", "so", "sq", "sr", "ss", "st", "su",
    "sv", "sw", "ta", "te", "tg", "th", "ti", "tk", "tl", "tn", "to", "tr", "ts", "tt", "tw", "ty", "ug",
    "uk", "ur", "uz", "ve", "vi", "vo", "wa", "wo", "xh", "yi", "yo", "za", "zh", "zu",
];

/// Why a language tag was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LanguageError {
    /// Not of the form `ll` or `ll-RR`.
    #[error("language must look like \"de\" or \"pt-BR\" (ISO 639-1, optional region), got {0:?}")]
    Shape(String),
    /// Well-formed, but not an ISO 639-1 code.
    #[error("{0:?} is not an ISO 639-1 language code")]
    Unknown(String),
}

/// A validated language tag, normalised to lower-case language and upper-case region.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Language(String);

impl Language {
    /// Parses `de`, `DE`, `pt-BR`, `pt_br` (normalised to `pt-BR`).
    ///
    /// # Errors
    /// [`LanguageError`] for any other shape or an unknown language.
    pub fn parse(input: &str) -> Result<Self, LanguageError> {
        let trimmed = input.trim();
        let shape = || LanguageError::Shape(trimmed.chars().take(32).collect());
        let mut parts = trimmed.split(['-', '_']);
        let lang = parts.next().ok_or_else(shape)?;
        let region = parts.next();
        if parts.next().is_some() || lang.len() != 2 || !lang.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(shape());
        }
        let lang = lang.to_ascii_lowercase();
        if !ISO_639_1.contains(&lang.as_str()) {
            return Err(LanguageError::Unknown(lang));
        }
        match region {
            None => Ok(Self(lang)),
            Some(r) if r.len() == 2 && r.bytes().all(|b| b.is_ascii_alphabetic()) => {
                Ok(Self(format!("{lang}-{}", r.to_ascii_uppercase())))
            }
            Some(_) => Err(shape()),
        }
    }

    /// The normalised tag, e.g. `pt-BR`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The two-letter language without region, e.g. `pt`.
    pub fn primary(&self) -> &str {
        &self.0[..2]
    }
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
        for (input, expected) in
            [("de", "de"), ("DE", "de"), ("pt-BR", "pt-BR"), ("pt_br", "pt-BR"), (" en ", "en")]
        {
            assert_eq!(Language::parse(input).map(|l| l.0), Ok(expected.to_owned()), "input {input:?}");
        }
    }

    #[test]
    fn refuses_bad_tags_with_a_reason() {
        let cases = [
            ("", "empty"),
            ("d", "too short"),
            ("deu", "ISO 639-2 is not 639-1"),
            ("german", "a name, not a code"),
            ("pt-BRA", "three-letter region"),
            ("pt-BR-x", "extra subtag"),
            ("d3", "digit"),
            ("xx", "unknown code"),
        ];
        for (input, why) in cases {
            assert!(Language::parse(input).is_err(), "{input:?} should fail: {why}");
        }
        assert_eq!(Language::parse("xx"), Err(LanguageError::Unknown("xx".into())));
    }

    #[test]
    fn primary_drops_the_region() {
        assert_eq!(Language::parse("pt-BR").unwrap().primary(), "pt");
    }

    proptest! {
        #[test]
        fn every_known_code_with_any_region_parses(idx in 0..ISO_639_1.len(), region in "[a-zA-Z]{2}") {
            let tag = format!("{}-{region}", ISO_639_1[idx].to_uppercase());
            let lang = Language::parse(&tag).unwrap();
            prop_assert_eq!(lang.as_str(), format!("{}-{}", ISO_639_1[idx], region.to_uppercase()));
            prop_assert_eq!(Language::parse(lang.as_str()).unwrap(), lang.clone());
        }

        #[test]
        fn parsing_never_panics(input in "\\PC{0,12}") {
            let _ = Language::parse(&input);
        }
    }
}
