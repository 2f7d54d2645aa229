//! TikTok video links: the only input the service scrapes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

/// Longest link we look at; real links are well under 200 characters.
const MAX_LEN: usize = 2048;

/// Why a link is not a TikTok video link we can scrape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TikTokUrlError {
    /// Not parseable as an absolute URL.
    #[error(
        "not a URL: paste the link from TikTok's share button, e.g. https://www.tiktok.com/@user/video/123"
    )]
    NotAUrl,
    /// Longer than any real TikTok link.
    #[error("the link is longer than {MAX_LEN} characters")]
    TooLong,
    /// A scheme other than http(s).
    #[error("the link must start with https://, not {0}://")]
    Scheme(String),
    /// A host that is not TikTok's (or has credentials or a port).
    #[error(
        "{0:?} is not a TikTok host (expected www.tiktok.com, m.tiktok.com, vm.tiktok.com or vt.tiktok.com)"
    )]
    Host(String),
    /// A TikTok host, but not a video, photo or short link.
    #[error(
        "{0:?} is not a TikTok video link (expected /@user/video/<id>, /@user/photo/<id>, /t/<code> or a vm./vt. short link)"
    )]
    Path(String),
}

/// A canonical TikTok video link: https, lower-case host, no query, fragment or trailing slash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TikTokUrl {
    canonical: String,
    video_id: Option<String>,
}

impl TikTokUrl {
    /// Parses and canonicalises a link as pasted from the app's share sheet.
    ///
    /// # Errors
    /// [`TikTokUrlError`] says which part (scheme, host, path) is wrong.
    pub fn parse(input: &str) -> Result<Self, TikTokUrlError> {
        let input = input.trim();
        if input.len() > MAX_LEN {
            return Err(TikTokUrlError::TooLong);
        }
        let url = Url::parse(input).map_err(|_| TikTokUrlError::NotAUrl)?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(TikTokUrlError::Scheme(url.scheme().chars().take(16).collect()));
        }
        let host = url.host_str().unwrap_or_default().to_owned();
        if !url.username().is_empty() || url.password().is_some() || url.port().is_some() {
            return Err(TikTokUrlError::Host(host));
        }
        let segments: Vec<&str> =
            url.path().trim_end_matches('/').trim_start_matches('/').split('/').collect();
        let path_error = || TikTokUrlError::Path(url.path().chars().take(128).collect());
        match host.as_str() {
            "www.tiktok.com" | "m.tiktok.com" | "tiktok.com" => match segments.as_slice() {
                [user, kind @ ("video" | "photo"), id] if is_user(user) && is_video_id(id) => Ok(Self {
                    canonical: format!("https://www.tiktok.com/{user}/{kind}/{id}"),
                    video_id: Some((*id).to_owned()),
                }),
                ["t", code] if is_short_code(code) => {
                    Ok(Self::short(format!("https://www.tiktok.com/t/{code}")))
                }
                _ => Err(path_error()),
            },
            "vm.tiktok.com" | "vt.tiktok.com" => match segments.as_slice() {
                [code] if is_short_code(code) => Ok(Self::short(format!("https://{host}/{code}"))),
                _ => Err(path_error()),
            },
            _ => Err(TikTokUrlError::Host(host.chars().take(128).collect())),
        }
    }

    fn short(canonical: String) -> Self {
        Self { canonical, video_id: None }
    }

    /// The canonical link, as sent to the scraper and stored.
    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    /// The numeric video id, when the link carries one (short links do not until resolved).
    pub fn video_id(&self) -> Option<&str> {
        self.video_id.as_deref()
    }
}

fn is_user(segment: &str) -> bool {
    let Some(name) = segment.strip_prefix('@') else { return false };
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
}

fn is_video_id(segment: &str) -> bool {
    (1..=32).contains(&segment.len()) && segment.bytes().all(|b| b.is_ascii_digit())
}

fn is_short_code(segment: &str) -> bool {
    (4..=32).contains(&segment.len()) && segment.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl FromStr for TikTokUrl {
    type Err = TikTokUrlError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for TikTokUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical)
    }
}

impl Serialize for TikTokUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.canonical)
    }
}

impl<'de> Deserialize<'de> for TikTokUrl {
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
    fn accepts_every_documented_shape() {
        let cases = [
            (
                "https://www.tiktok.com/@chef/video/7301234567890123456",
                "https://www.tiktok.com/@chef/video/7301234567890123456",
                Some("7301234567890123456"),
            ),
            (
                "https://m.tiktok.com/@chef.k_1/video/123/",
                "https://www.tiktok.com/@chef.k_1/video/123",
                Some("123"),
            ),
            (
                "https://www.tiktok.com/@chef/video/123?is_from_webapp=1&sender_device=pc#top",
                "https://www.tiktok.com/@chef/video/123",
                Some("123"),
            ),
            ("https://www.tiktok.com/@chef/photo/456", "https://www.tiktok.com/@chef/photo/456", Some("456")),
            ("http://WWW.TikTok.com/@chef/video/789", "https://www.tiktok.com/@chef/video/789", Some("789")),
            ("https://vm.tiktok.com/ZMabc123/", "https://vm.tiktok.com/ZMabc123", None),
            ("https://vt.tiktok.com/ZSxyz987?x=1", "https://vt.tiktok.com/ZSxyz987", None),
            ("https://www.tiktok.com/t/ZTR9abcd/", "https://www.tiktok.com/t/ZTR9abcd", None),
        ];
        for (input, canonical, video_id) in cases {
            let url = TikTokUrl::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(url.as_str(), canonical, "{input}");
            assert_eq!(url.video_id(), video_id, "{input}");
        }
    }

    #[test]
    fn refuses_other_links_saying_what_is_wrong() {
        type Check = fn(&TikTokUrlError) -> bool;
        let cases: [(&str, Check, &str); 11] = [
            ("not a url", |e| matches!(e, TikTokUrlError::NotAUrl), "free text"),
            ("www.tiktok.com/@chef/video/1", |e| matches!(e, TikTokUrlError::NotAUrl), "no scheme"),
            ("ftp://www.tiktok.com/@chef/video/1", |e| matches!(e, TikTokUrlError::Scheme(_)), "ftp"),
            ("javascript:alert(1)", |e| matches!(e, TikTokUrlError::Scheme(_)), "script scheme"),
            ("https://www.youtube.com/watch?v=abc", |e| matches!(e, TikTokUrlError::Host(_)), "other site"),
            (
                "https://tiktok.com.evil.example/@a/video/1",
                |e| matches!(e, TikTokUrlError::Host(_)),
                "look-alike host",
            ),
            (
                "https://user:pw@www.tiktok.com/@a/video/1",
                |e| matches!(e, TikTokUrlError::Host(_)),
                "credentials",
            ),
            ("https://www.tiktok.com:8443/@a/video/1", |e| matches!(e, TikTokUrlError::Host(_)), "port"),
            ("https://www.tiktok.com/@chef", |e| matches!(e, TikTokUrlError::Path(_)), "profile, not video"),
            (
                "https://www.tiktok.com/@chef/video/12ab",
                |e| matches!(e, TikTokUrlError::Path(_)),
                "non-numeric id",
            ),
            (
                "https://vm.tiktok.com/ab/cd",
                |e| matches!(e, TikTokUrlError::Path(_)),
                "short link with two segments",
            ),
        ];
        for (input, is_expected, why) in cases {
            let err = TikTokUrl::parse(input).expect_err(why);
            assert!(is_expected(&err), "{why}: {input} gave {err:?}");
        }
        assert!(matches!(TikTokUrl::parse(&"a".repeat(3000)), Err(TikTokUrlError::TooLong)));
    }

    #[test]
    fn serde_parses_and_writes_the_canonical_form() {
        let url: TikTokUrl = serde_json::from_str("\"https://m.tiktok.com/@a/video/1?x=y\"").unwrap();
        assert_eq!(serde_json::to_string(&url).unwrap(), "\"https://www.tiktok.com/@a/video/1\"");
        assert!(serde_json::from_str::<TikTokUrl>("\"https://example.com\"").is_err());
    }

    proptest! {
        #[test]
        fn video_links_round_trip_with_any_query(
            user in "[a-zA-Z0-9._]{1,24}",
            id in "[0-9]{1,20}",
            host in prop::sample::select(vec!["www.tiktok.com", "m.tiktok.com", "tiktok.com"]),
            query in "[a-z0-9=&]{0,20}",
            slash in any::<bool>(),
        ) {
            let input = format!("https://{host}/@{user}/video/{id}{}?{query}", if slash { "/" } else { "" });
            let url = TikTokUrl::parse(&input).unwrap();
            prop_assert_eq!(url.video_id(), Some(id.as_str()));
            prop_assert_eq!(TikTokUrl::parse(url.as_str()).unwrap(), url.clone());
        }

        #[test]
        fn other_hosts_are_refused(host in "[a-z]{1,10}\\.(com|net|org)") {
            prop_assume!(host != "tiktok.com");
            let err = TikTokUrl::parse(&format!("https://{host}/@a/video/1")).unwrap_err();
            prop_assert!(matches!(err, TikTokUrlError::Host(_)));
        }

        #[test]
        fn parsing_never_panics(input in "\\PC{0,80}") {
            let _ = TikTokUrl::parse(&input);
        }
    }
}
