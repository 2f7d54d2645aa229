//! Which vocabularies a language tag turns on.
//!
//! Only the primary subtag counts ("pt-BR" is "pt"). English, German and Spanish have their own
//! words; any other tag accepts all of them, because a caption in an unknown language still
//! often mixes in English units ("200 g", "2 tbsp") and a missed unit is worse than a loose one.

/// A set of vocabularies, as bit flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Langs(u8);

impl Langs {
    /// English.
    pub(crate) const EN: Self = Self(1);
    /// German.
    pub(crate) const DE: Self = Self(2);
    /// Spanish.
    pub(crate) const ES: Self = Self(4);
    /// Every vocabulary.
    pub(crate) const ALL: Self = Self(7);

    /// The vocabularies for a BCP-47-ish tag. English is always on: recipe units like "g", "ml"
    /// and "tbsp" are written in English everywhere.
    pub(crate) fn for_tag(tag: &str) -> Self {
        // Every call of the crate's API asks, so the subtag is compared in place, not copied.
        let primary = tag.split(['-', '_']).next().unwrap_or("").trim();
        if primary.eq_ignore_ascii_case("en") {
            Self::EN
        } else if primary.eq_ignore_ascii_case("de") {
            Self(Self::EN.0 | Self::DE.0)
        } else if primary.eq_ignore_ascii_case("es") {
            Self(Self::EN.0 | Self::ES.0)
        } else {
            Self::ALL
        }
    }

    /// Whether any vocabulary of `other` is in this set.
    pub(crate) fn has(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// The language rendering should use: the first of German, Spanish, English in the set, so
    /// an unknown tag renders in English.
    pub(crate) fn primary(self) -> Self {
        if self == Self::ALL {
            Self::EN
        } else if self.has(Self::DE) {
            Self::DE
        } else if self.has(Self::ES) {
            Self::ES
        } else {
            Self::EN
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_pick_their_vocabularies_and_unknown_ones_take_all() {
        assert_eq!(Langs::for_tag("de-AT"), Langs(3));
        assert_eq!(Langs::for_tag("ES"), Langs(5));
        assert_eq!(Langs::for_tag("en_GB"), Langs::EN);
        assert_eq!(Langs::for_tag("pt-BR"), Langs::ALL);
        assert_eq!(Langs::for_tag(""), Langs::ALL);
    }
}
