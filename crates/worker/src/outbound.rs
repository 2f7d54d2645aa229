//! The outbound URL policy: every URL that came from a scraped item (subtitle links, the video
//! file, the cover) is attacker-controlled, since anyone can make TikTok or a scraper return
//! what they like. Such a URL is fetched only through [`Fetcher`], and handed on (the cover)
//! only after [`public_link`].
//!
//! The rules ([`UrlPolicy::check`]):
//! - the origin (scheme, host, port) of the configured Apify base URL, and of any origin in
//!   `apify.trusted_origins`, is trusted as it is: it is the operator's own configuration (the
//!   mock Apify of the tests is plain http on loopback);
//! - anything else must be `https` to a host that is not a non-public IP literal (loopback,
//!   private, link-local, CGNAT, multicast, documentation, IPv4-mapped forms of those, ULA ...;
//!   `0x7f000001`, `2130706433` and `0177.0.0.1` are parsed as the IPv4 addresses they are, by
//!   the WHATWG rules of the `url` crate) nor a local name (`localhost`, `*.internal`, single
//!   labels), and whose every DNS address is public.
//!
//! The DNS check happens in the resolver of the client that connects ([`PublicResolver`]), so
//! the connection goes to the very addresses that were checked: there is no second lookup a
//! rebinding DNS server could answer differently. Redirects are followed by hand, at most
//! [`MAX_REDIRECTS`], each hop checked again; no proxy is used (a proxy would resolve the name
//! itself). Bodies are capped while they stream and the whole fetch has a time limit.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, LOCATION};
use reqwest::{Client, Response, StatusCode};
use url::{Host, Origin, Url};

/// Redirect hops followed before giving up; real CDNs need one or two.
pub const MAX_REDIRECTS: usize = 5;

/// Why a URL is not fetched (or not handed on).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not https (and not a trusted origin).
    #[error("only https links are fetched, not {0}")]
    Scheme(String),
    /// No host to connect to.
    #[error("the link has no host")]
    NoHost,
    /// An IP literal that is not a public address.
    #[error("{0} is not a public address")]
    Address(IpAddr),
    /// A name that only means something inside a network (`localhost`, `*.internal`, `intranet`).
    #[error("{0} is a local host name")]
    LocalName(String),
    /// A name whose DNS answer holds a non-public address.
    #[error("{host} resolves to {addr}, which is not a public address")]
    Resolved {
        /// The name that was looked up.
        host: String,
        /// The first non-public address of the answer.
        addr: IpAddr,
    },
}

/// Which client a checked URL may be fetched with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A configured origin: fetched as it is.
    Trusted,
    /// Anywhere else: https, and connected only to checked public addresses.
    Public,
}

/// The trusted origins and the rules for everything else.
#[derive(Debug, Clone)]
pub struct UrlPolicy {
    trusted: Vec<Origin>,
}

impl UrlPolicy {
    /// A policy trusting the origins of `trusted` (the Apify base URL, the allow-list).
    pub fn new<'a>(trusted: impl IntoIterator<Item = &'a Url>) -> Self {
        Self { trusted: trusted.into_iter().map(Url::origin).filter(Origin::is_tuple).collect() }
    }

    /// How `url` may be fetched.
    ///
    /// # Errors
    /// [`Refusal`] when it is neither trusted nor a [`public_link`]. The DNS part of the rule
    /// is checked when the [`Fetcher`] connects.
    pub fn check(&self, url: &Url) -> Result<Route, Refusal> {
        if self.trusted.contains(&url.origin()) {
            return Ok(Route::Trusted);
        }
        public_link(url).map(|()| Route::Public)
    }
}

/// Whether `url` is https to a host that is not a non-public IP literal or a local name. No DNS:
/// this is the whole rule for a link that is only handed on (the cover the app loads).
///
/// # Errors
/// The [`Refusal`] that applies.
pub fn public_link(url: &Url) -> Result<(), Refusal> {
    if url.scheme() != "https" {
        return Err(Refusal::Scheme(url.scheme().to_owned()));
    }
    match url.host().ok_or(Refusal::NoHost)? {
        Host::Ipv4(ip) => public_ip(IpAddr::V4(ip)),
        Host::Ipv6(ip) => public_ip(IpAddr::V6(ip)),
        Host::Domain(name) if is_local_name(name) => Err(Refusal::LocalName(name.to_owned())),
        Host::Domain(_) => Ok(()),
    }
}

/// The cover rule on a string: `Some(url)` when it parses and is a [`public_link`].
pub fn public_cover(text: &str) -> Option<String> {
    let url = Url::parse(text.trim()).ok()?;
    public_link(&url).is_ok().then(|| text.trim().to_owned())
}

fn public_ip(ip: IpAddr) -> Result<(), Refusal> {
    if is_public(ip) { Ok(()) } else { Err(Refusal::Address(ip)) }
}

/// Names that never denote a host on the internet: no dot (`intranet`, `redis`), `localhost`
/// (RFC 6761 sends it to loopback), and the private-use suffixes.
fn is_local_name(name: &str) -> bool {
    const SUFFIXES: [&str; 5] = ["localhost", "local", "internal", "localdomain", "home.arpa"];
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    !name.contains('.')
        || SUFFIXES.iter().any(|suffix| name == *suffix || name.ends_with(&format!(".{suffix}")))
}

/// Whether `ip` is a public unicast address: not loopback, private, link-local, CGNAT,
/// multicast, broadcast, unspecified, reserved, benchmarking or documentation space.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = a == 0 // "this network", 0.0.0.0
        || a == 10
        || a == 127
        || a >= 224 // multicast, reserved 240/4, broadcast
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 169 && b == 254) // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && (c == 0 || c == 2)) // IETF assignments, TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113); // TEST-NET-3
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // IPv4 inside IPv6 reaches the IPv4 address: judge that one.
    let mapped = s[..6] == [0, 0, 0, 0, 0, 0xffff] || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    if mapped {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    // Only 2000::/3 is global unicast; this leaves out ::, ::1, the deprecated IPv4-compatible
    // ::/96, ULA fc00::/7, link-local fe80::/10, multicast ff00::/8, 100::/64 and the rest.
    let global = s[0] & 0xe000 == 0x2000;
    // 2001::/23 IETF assignments (Teredo, benchmarking), 2001:db8::/32 documentation.
    let special = (s[0] == 0x2001 && (s[1] < 0x0200 || s[1] == 0x0db8))
        || s[0] == 0x2002 // 6to4, which carries any IPv4 address
        || (s[0] == 0x3fff && s[1] < 0x1000); // documentation 3fff::/20
    global && !special
}

/// A DNS resolver that answers only with public addresses: a name with any non-public address
/// fails the connection with [`Refusal::Resolved`] (all, not some: a rebinding answer mixes
/// them). The client connects to exactly the addresses it returns.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicResolver;

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(bad) = addrs.iter().find(|addr| !is_public(addr.ip())) {
                return Err(Box::new(Refusal::Resolved { host, addr: bad.ip() }) as _);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The policy refused the link or a redirect hop; `host` says which.
    #[error("the link to {host} was refused: {refusal}")]
    Refused {
        /// The refused hop's host (no path or query: those may carry signatures).
        host: String,
        /// Why.
        refusal: Refusal,
    },
    /// More than [`MAX_REDIRECTS`] redirects, or a redirect without a usable `Location`.
    #[error("{0}")]
    Redirect(String),
    /// A non-2xx, non-redirect answer.
    #[error("HTTP {0}")]
    Status(StatusCode),
    /// The body is larger than the cap.
    #[error("the body is larger than {0} bytes")]
    TooLarge(u64),
    /// The fetch did not finish in time.
    #[error("no answer within {} s", .0.as_secs())]
    Timeout(Duration),
    /// Connection, TLS or read failure, with its causes.
    #[error("{0}")]
    Network(String),
}

impl FetchError {
    /// True when the link itself is the problem (refused, redirect loop): a retry cannot help.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Self::Refused { .. } | Self::Redirect(_))
    }
}

/// Caps of one fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// Largest body, in bytes.
    pub max_bytes: u64,
    /// Longest time for the whole fetch: every redirect hop and the body.
    pub timeout: Duration,
}

/// Fetches scraped URLs under a [`UrlPolicy`].
#[derive(Debug, Clone)]
pub struct Fetcher {
    policy: UrlPolicy,
    /// For trusted origins: the system resolver, no credentials.
    trusted: Client,
    /// For the one origin that gets a credential (Apify's key-value store records need the
    /// token), with that header.
    credentialed: Option<(Origin, Client)>,
    /// For everything else: [`PublicResolver`], https only.
    public: Client,
}

impl Fetcher {
    /// Builds the clients; `credential` is an origin and the `Authorization` value sent to it,
    /// and only to it, when a fetch asks for credentials.
    ///
    /// # Errors
    /// When a client cannot be built (TLS backend).
    pub fn new(policy: UrlPolicy, credential: Option<(&Url, HeaderValue)>) -> Result<Self, reqwest::Error> {
        let builder = || {
            Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .user_agent(concat!("recipe-relay-worker/", env!("CARGO_PKG_VERSION")))
        };
        let credentialed = match credential {
            Some((url, mut value)) => {
                value.set_sensitive(true);
                let client =
                    builder().default_headers(HeaderMap::from_iter([(AUTHORIZATION, value)])).build()?;
                Some((url.origin(), client))
            }
            None => None,
        };
        Ok(Self {
            policy,
            trusted: builder().build()?,
            credentialed,
            public: builder().https_only(true).dns_resolver(Arc::new(PublicResolver)).build()?,
        })
    }

    /// Sends `GET url`, following redirects by hand with every hop checked, and returns the
    /// first answer that is not a redirect (its status unchecked). With `credentials`, a hop to
    /// the credential's origin carries it. The caller bounds the time (`tokio::time::timeout`).
    ///
    /// # Errors
    /// [`FetchError::Refused`], [`FetchError::Redirect`] or [`FetchError::Network`].
    pub async fn open(&self, url: &Url, credentials: bool) -> Result<Response, FetchError> {
        let mut url = url.clone();
        for _ in 0..=MAX_REDIRECTS {
            let host = url.host_str().unwrap_or_default().to_owned();
            let refused = |refusal| FetchError::Refused { host: host.clone(), refusal };
            let client = match self.policy.check(&url).map_err(refused)? {
                Route::Public => &self.public,
                Route::Trusted => match &self.credentialed {
                    Some((origin, client)) if credentials && *origin == url.origin() => client,
                    _ => &self.trusted,
                },
            };
            let response = client.get(url.clone()).send().await.map_err(|e| match refusal_in(&e) {
                Some(refusal) => refused(refusal),
                None => FetchError::Network(describe(&e)),
            })?;
            if !matches!(response.status().as_u16(), 301 | 302 | 303 | 307 | 308) {
                return Ok(response);
            }
            let location = response.headers().get(LOCATION).and_then(|value| value.to_str().ok());
            url = location.and_then(|to| url.join(to).ok()).ok_or_else(|| {
                FetchError::Redirect(format!("a redirect from {host} without a usable Location"))
            })?;
        }
        Err(FetchError::Redirect(format!("more than {MAX_REDIRECTS} redirects")))
    }

    /// The body of `url` (a 2xx answer), capped while it streams.
    ///
    /// # Errors
    /// As [`Fetcher::open`]; [`FetchError::Status`], [`FetchError::TooLarge`],
    /// [`FetchError::Timeout`].
    pub async fn bytes(&self, url: &Url, limits: FetchLimits) -> Result<Vec<u8>, FetchError> {
        let fetch = async {
            let mut response = self.open(url, false).await?;
            if !response.status().is_success() {
                return Err(FetchError::Status(response.status()));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| FetchError::Network(describe(&e)))? {
                if (body.len() + chunk.len()) as u64 > limits.max_bytes {
                    return Err(FetchError::TooLarge(limits.max_bytes));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        };
        tokio::time::timeout(limits.timeout, fetch).await.unwrap_or(Err(FetchError::Timeout(limits.timeout)))
    }
}

/// The [`Refusal`] of [`PublicResolver`] somewhere in a connection error's causes.
fn refusal_in(error: &reqwest::Error) -> Option<Refusal> {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(refusal) = cause.downcast_ref::<Refusal>() {
            return Some(refusal.clone());
        }
        source = cause.source();
    }
    None
}

/// The error with its causes, without the URL (signed links carry secrets in the query).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(&format!(" ({url})"), "").replace(url.as_str(), "[url]");
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests;
