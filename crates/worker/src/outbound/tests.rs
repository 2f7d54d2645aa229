use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;

fn url(text: &str) -> Url {
    Url::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn limits(max_bytes: u64) -> FetchLimits {
    FetchLimits { max_bytes, timeout: Duration::from_secs(10) }
}

#[test]
fn non_public_hosts_are_refused_in_every_spelling() {
    let policy = UrlPolicy::new([]);
    let v4 = |a, b, c, d| Refusal::Address(IpAddr::V4(Ipv4Addr::new(a, b, c, d)));
    let v6 = |text: &str| Refusal::Address(IpAddr::V6(text.parse().unwrap()));
    let local = |name: &str| Refusal::LocalName(name.to_owned());
    let cases = [
        ("https://127.0.0.1/", v4(127, 0, 0, 1), "loopback"),
        ("https://0x7f000001/", v4(127, 0, 0, 1), "hex IPv4"),
        ("https://2130706433/", v4(127, 0, 0, 1), "decimal IPv4"),
        ("https://0177.0.0.1/", v4(127, 0, 0, 1), "octal IPv4"),
        ("https://127.1/", v4(127, 0, 0, 1), "short IPv4"),
        ("https://0x7f.1/", v4(127, 0, 0, 1), "mixed short hex IPv4"),
        ("https://127.0.0.1./", v4(127, 0, 0, 1), "trailing dot"),
        ("https://0.0.0.0:6379/", v4(0, 0, 0, 0), "unspecified"),
        ("https://10.1.2.3/", v4(10, 1, 2, 3), "private 10/8"),
        ("https://172.16.0.1/", v4(172, 16, 0, 1), "private 172.16/12"),
        ("https://172.31.255.255/", v4(172, 31, 255, 255), "end of 172.16/12"),
        ("https://192.168.0.10/", v4(192, 168, 0, 10), "private 192.168/16"),
        ("https://100.64.0.1/", v4(100, 64, 0, 1), "CGNAT"),
        ("https://169.254.169.254/latest/meta-data/", v4(169, 254, 169, 254), "cloud metadata"),
        ("https://224.0.0.1/", v4(224, 0, 0, 1), "multicast"),
        ("https://255.255.255.255/", v4(255, 255, 255, 255), "broadcast"),
        ("https://240.0.0.1/", v4(240, 0, 0, 1), "reserved"),
        ("https://192.0.2.7/", v4(192, 0, 2, 7), "documentation TEST-NET-1"),
        ("https://198.51.100.7/", v4(198, 51, 100, 7), "documentation TEST-NET-2"),
        ("https://203.0.113.7/", v4(203, 0, 113, 7), "documentation TEST-NET-3"),
        ("https://198.18.0.1/", v4(198, 18, 0, 1), "benchmarking"),
        ("https://[::1]/", v6("::1"), "IPv6 loopback"),
        ("https://[::]/", v6("::"), "IPv6 unspecified"),
        ("https://[::ffff:127.0.0.1]/", v6("::ffff:7f00:1"), "IPv4-mapped loopback"),
        ("https://[::ffff:a9fe:a9fe]/", v6("::ffff:169.254.169.254"), "IPv4-mapped metadata"),
        ("https://[::127.0.0.1]/", v6("::7f00:1"), "IPv4-compatible"),
        ("https://[64:ff9b::10.0.0.1]/", v6("64:ff9b::a00:1"), "NAT64 of a private address"),
        ("https://[fc00::1]/", v6("fc00::1"), "ULA"),
        ("https://[fd12:3456::1]/", v6("fd12:3456::1"), "ULA fd00::/8"),
        ("https://[fe80::1]/", v6("fe80::1"), "link-local"),
        ("https://[fec0::1]/", v6("fec0::1"), "site-local"),
        ("https://[ff02::1]/", v6("ff02::1"), "multicast"),
        ("https://[2001:db8::1]/", v6("2001:db8::1"), "documentation"),
        ("https://[2002:7f00:1::1]/", v6("2002:7f00:1::1"), "6to4 of loopback"),
        ("https://[2001::1]/", v6("2001::1"), "Teredo"),
        ("https://localhost/", local("localhost"), "localhost"),
        ("https://LOCALHOST./", local("localhost."), "localhost, upper case with a dot"),
        ("https://api.localhost/", local("api.localhost"), "a localhost subdomain"),
        ("https://metadata.google.internal/", local("metadata.google.internal"), ".internal"),
        ("https://printer.local/", local("printer.local"), "mDNS"),
        ("https://redis:6379/", local("redis"), "a single-label name (a container)"),
        ("http://p16.tiktokcdn.com/a.vtt", Refusal::Scheme("http".into()), "plain http"),
        ("ftp://p16.tiktokcdn.com/a.vtt", Refusal::Scheme("ftp".into()), "ftp"),
        ("file:///etc/passwd", Refusal::Scheme("file".into()), "file"),
    ];
    for (link, refusal, why) in cases {
        assert_eq!(policy.check(&url(link)), Err(refusal), "{why}: {link}");
        assert_eq!(public_cover(link), None, "{why}: {link} is no cover either");
    }
}

#[test]
fn public_hosts_pass() {
    let policy = UrlPolicy::new([]);
    for link in [
        "https://p16-sign-va.tiktokcdn.com/obj/cover.jpeg?x-expires=1&x-signature=abc",
        "https://api.apify.com/v2/key-value-stores/s/records/v",
        "https://8.8.8.8/",
        "https://172.32.0.1/",
        "https://100.128.0.1/",
        "https://[2606:4700:4700::1111]/",
        "https://[::ffff:8.8.8.8]/",
        "https://[64:ff9b::8.8.8.8]/",
    ] {
        assert_eq!(policy.check(&url(link)), Ok(Route::Public), "{link}");
        assert_eq!(public_cover(link).as_deref(), Some(link), "{link}");
    }
}

#[test]
fn only_the_exact_trusted_origins_bypass_the_rules() {
    let apify = url("http://127.0.0.1:8080/");
    let mirror = url("http://mirror.internal:9000");
    let policy = UrlPolicy::new([&apify, &mirror]);
    let cases = [
        ("http://127.0.0.1:8080/v2/key-value-stores/s/records/v", true, "the Apify origin"),
        ("http://mirror.internal:9000/x.vtt", true, "an allow-listed origin"),
        ("http://127.0.0.1:6379/", false, "another port of the same host"),
        ("https://127.0.0.1:8080/", false, "another scheme"),
        ("http://localhost:8080/", false, "another spelling of the host"),
        ("http://0x7f000001:8080/", true, "the same host, parsed"),
    ];
    for (link, trusted, why) in cases {
        assert_eq!(policy.check(&url(link)).is_ok(), trusted, "{why}: {link}");
    }
}

#[tokio::test]
async fn the_resolver_refuses_a_name_with_a_loopback_address() {
    let error = match PublicResolver.resolve("localhost".parse().unwrap()).await {
        Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
        Err(error) => error,
    };
    let refusal = error.downcast_ref::<Refusal>().expect("a refusal");
    assert!(
        matches!(refusal, Refusal::Resolved { host, addr } if host == "localhost" && addr.is_loopback()),
        "{refusal:?}"
    );
}

/// A TCP listener on loopback that counts connections and closes them.
async fn counting_listener() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (port, accepted)
}

#[tokio::test]
async fn the_public_client_never_connects_to_what_a_name_resolves_to_when_that_is_not_public() {
    let fetcher = Fetcher::new(UrlPolicy::new([]), None).unwrap();
    let (port, accepted) = counting_listener().await;

    // The policy's name rule would stop `localhost` first; this asks the client directly, as a
    // public name that a DNS server rebinds to 127.0.0.1 would reach it.
    let error = fetcher.public.get(format!("https://localhost:{port}/")).send().await.unwrap_err();

    assert!(matches!(refusal_in(&error), Some(Refusal::Resolved { .. })), "{error:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 0, "no connection was made");
}

#[tokio::test]
async fn a_redirect_to_an_internal_host_is_refused_before_it_is_followed() {
    let (trusted, internal) = (MockServer::start().await, MockServer::start().await);
    Mock::given(path("/secret"))
        .respond_with(ResponseTemplate::new(200).set_body_string("redis INFO"))
        .mount(&internal)
        .await;
    let targets = [
        format!("{}/secret", internal.uri()),
        format!("http://localhost:{}/secret", internal.address().port()),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
    ];
    for (hop, target) in targets.iter().enumerate() {
        Mock::given(path(format!("/hop{hop}")))
            .respond_with(ResponseTemplate::new(302).insert_header("location", target.as_str()))
            .mount(&trusted)
            .await;
    }
    let base = url(&trusted.uri());
    let fetcher = Fetcher::new(UrlPolicy::new([&base]), None).unwrap();

    for (hop, target) in targets.iter().enumerate() {
        let error =
            fetcher.bytes(&base.join(&format!("/hop{hop}")).unwrap(), limits(1024)).await.unwrap_err();
        assert!(matches!(error, FetchError::Refused { .. }), "{target}: {error:?}");
        assert!(error.is_refusal());
    }
    assert_eq!(internal.received_requests().await.unwrap().len(), 0, "nothing reached the internal server");
}

#[tokio::test]
async fn redirects_within_the_rules_are_followed_a_bounded_number_of_times() {
    let server = MockServer::start().await;
    Mock::given(path("/start"))
        .respond_with(ResponseTemplate::new(301).insert_header("location", "/final"))
        .mount(&server)
        .await;
    Mock::given(path("/final"))
        .respond_with(ResponseTemplate::new(200).set_body_string("WEBVTT"))
        .mount(&server)
        .await;
    Mock::given(path("/loop"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", "/loop"))
        .mount(&server)
        .await;
    Mock::given(path("/nowhere")).respond_with(ResponseTemplate::new(302)).mount(&server).await;
    let base = url(&server.uri());
    let fetcher = Fetcher::new(UrlPolicy::new([&base]), None).unwrap();

    let body = fetcher.bytes(&base.join("/start").unwrap(), limits(1024)).await.unwrap();
    let looped = fetcher.bytes(&base.join("/loop").unwrap(), limits(1024)).await.unwrap_err();
    let nowhere = fetcher.bytes(&base.join("/nowhere").unwrap(), limits(1024)).await.unwrap_err();

    assert_eq!(body, b"WEBVTT");
    assert!(matches!(&looped, FetchError::Redirect(text) if text.contains("more than 5")), "{looped:?}");
    let loops = server.received_requests().await.unwrap().iter().filter(|r| r.url.path() == "/loop").count();
    assert_eq!(loops, MAX_REDIRECTS + 1, "the first request and five hops");
    assert!(matches!(nowhere, FetchError::Redirect(_)), "{nowhere:?}");
}

#[tokio::test]
async fn bodies_are_capped_statuses_checked_and_slow_answers_cut_off() {
    let server = MockServer::start().await;
    Mock::given(path("/big"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'a'; 2048]))
        .mount(&server)
        .await;
    Mock::given(path("/gone")).respond_with(ResponseTemplate::new(404)).mount(&server).await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let base = url(&server.uri());
    let fetcher = Fetcher::new(UrlPolicy::new([&base]), None).unwrap();
    let short = FetchLimits { max_bytes: 1024, timeout: Duration::from_millis(200) };

    let big = fetcher.bytes(&base.join("/big").unwrap(), limits(1024)).await.unwrap_err();
    let fits = fetcher.bytes(&base.join("/big").unwrap(), limits(2048)).await.unwrap();
    let gone = fetcher.bytes(&base.join("/gone").unwrap(), limits(1024)).await.unwrap_err();
    let slow = fetcher.bytes(&base.join("/slow").unwrap(), short).await.unwrap_err();

    assert!(matches!(big, FetchError::TooLarge(1024)), "{big:?}");
    assert_eq!(fits.len(), 2048);
    assert!(matches!(gone, FetchError::Status(StatusCode::NOT_FOUND)), "{gone:?}");
    assert!(matches!(slow, FetchError::Timeout(_)), "{slow:?}");
}

#[tokio::test]
async fn the_credential_goes_to_its_own_origin_only_and_not_across_a_redirect() {
    let (apify, mirror) = (MockServer::start().await, MockServer::start().await);
    Mock::given(method("GET"))
        .and(path("/away"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", format!("{}/file", mirror.uri())))
        .mount(&apify)
        .await;
    for server in [&apify, &mirror] {
        Mock::given(path("/file")).respond_with(ResponseTemplate::new(200)).mount(server).await;
    }
    let (apify_url, mirror_url) = (url(&apify.uri()), url(&mirror.uri()));
    let token = HeaderValue::from_static("Bearer t0ken");
    let fetcher = Fetcher::new(UrlPolicy::new([&apify_url, &mirror_url]), Some((&apify_url, token))).unwrap();

    for (server, route, credentials) in
        [(&apify, "/file", true), (&apify, "/file", false), (&mirror, "/file", true), (&apify, "/away", true)]
    {
        let link = url(&server.uri()).join(route).unwrap();
        let response = fetcher.open(&link, credentials).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{link}");
    }

    let auth = |requests: Vec<wiremock::Request>| -> Vec<bool> {
        requests.iter().map(|r| r.headers.contains_key("authorization")).collect()
    };
    assert_eq!(
        auth(apify.received_requests().await.unwrap()),
        [true, false, true],
        "asked for, not, redirect"
    );
    assert_eq!(auth(mirror.received_requests().await.unwrap()), [false, false], "never to the other origin");
}
