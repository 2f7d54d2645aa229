//! `relay token`: HS256 development tokens shaped like Supabase access tokens.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use jsonwebtoken::{EncodingKey, Header, encode};
use protocol::UserId;
use serde::Serialize;

/// The variable holding the Supabase project's HS256 secret (the same one the api verifies with).
pub(crate) const SECRET_VAR: &str = "SUPABASE_JWT_SECRET";

/// The claims the api checks, as Supabase's auth server writes them.
#[derive(Serialize)]
struct Claims<'a> {
    sub: String,
    aud: &'a str,
    role: &'a str,
    iat: u64,
    exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
}

/// Mints a token for `sub`, valid for `ttl`, signed with the secret in `secret`.
pub(crate) fn mint(
    secret: Option<&str>,
    sub: UserId,
    ttl: Duration,
    email: Option<&str>,
) -> anyhow::Result<String> {
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        bail!("{SECRET_VAR} is not set; export the api's JWT secret to mint development tokens");
    };
    let now =
        SystemTime::now().duration_since(UNIX_EPOCH).context("the system clock is before 1970")?.as_secs();
    let claims = Claims {
        sub: sub.to_string(),
        aud: "authenticated",
        role: "authenticated",
        iat: now,
        exp: now.saturating_add(ttl.as_secs()),
        email,
    };
    let key = EncodingKey::from_secret(secret.as_bytes()).context("reading the signing secret")?;
    encode(&Header::default(), &claims, &key).context("signing the token")
}

/// Parses `90s`, `30m`, `1h`, `7d` or plain seconds (`3600`).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 =
        number.parse().map_err(|_| format!("expected a duration like 90s, 30m, 1h or 7d, got {text:?}"))?;
    let seconds = match unit.trim() {
        "" | "s" => number,
        "m" => number.saturating_mul(60),
        "h" => number.saturating_mul(3600),
        "d" => number.saturating_mul(86_400),
        other => return Err(format!("unknown unit {other:?} in {text:?}: use s, m, h or d")),
    };
    if seconds == 0 {
        return Err("the duration must be longer than 0 s".into());
    }
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        for (text, secs) in [("90s", 90), ("30m", 1800), ("1h", 3600), ("7d", 604_800), ("3600", 3600)] {
            assert_eq!(parse_duration(text), Ok(Duration::from_secs(secs)), "{text}");
        }
        for bad in ["", "h", "1w", "0", "-1h", "1.5h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn an_empty_secret_is_no_secret() {
        let err =
            mint(Some(""), UserId::from_uuid(uuid::Uuid::nil()), Duration::from_secs(60), None).unwrap_err();
        assert!(err.to_string().starts_with("SUPABASE_JWT_SECRET is not set"));
    }
}
