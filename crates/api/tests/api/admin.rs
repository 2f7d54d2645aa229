//! The admin API: off unless enabled, the admin token or a `service_role` JWT only, filters,
//! dead letters queued again and run to SUCCESS, cancellation of any user's task.

use std::time::Duration;

use protocol::wire::{PROBLEM_JSON, problems};
use protocol::{TaskId, TaskUpdate};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, captured_logs, hs256, now, spawn_app, spawn_app_with};

const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

async fn admin_app() -> TestApp {
    spawn_app_with(&[("RELAY__ADMIN__ENABLED", "true"), ("RELAY__ADMIN__TOKEN", ADMIN_TOKEN)]).await
}

impl TestApp {
    /// `GET /admin/api{path}` with the admin token; the JSON body after asserting 200.
    async fn admin_get(&self, path: &str) -> Value {
        let response = self.admin_request(reqwest::Method::GET, path, Some(ADMIN_TOKEN)).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.expect("JSON")
    }

    async fn admin_request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self.http.request(method, self.url(&format!("/admin/api{path}")));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("admin request")
    }
}

/// The captured log without its colour codes, line by line.
fn plain_logs() -> Vec<String> {
    let logs = captured_logs();
    let mut plain = String::with_capacity(logs.len());
    let mut chars = logs.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // An SGR sequence: ESC [ ... m
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain.lines().map(str::to_owned).collect()
}

/// The project's `service_role` key as Supabase issues it: no `sub`, no `aud`.
fn service_role_key() -> String {
    hs256(
        &json!({"iss": "supabase", "ref": "project", "role": "service_role", "iat": now(), "exp": now() + 3600}),
    )
}

/// Submits a video for `user` and dead-letters its job the way the worker's last failed
/// attempt does.
async fn dead_letter(app: &TestApp, user: &TestUser, video: &str) -> String {
    let task = app.start_task(user, video).await["task_id"].as_str().unwrap().to_owned();
    let attempt = app.worker().claim().await;
    let failure = TaskUpdate::failure(
        attempt.task(),
        2,
        "temporarily_unavailable",
        "Gave up after 1 attempt: the scraper is down",
    );
    assert!(attempt.fail(failure, true).await.unwrap(), "Postgres took the failure");
    task
}

#[tokio::test]
async fn the_console_and_its_api_are_not_routed_unless_enabled() {
    let app = spawn_app().await;

    for path in ["/admin", "/admin/", "/admin/admin.js", "/admin/api/overview", "/admin/api/tasks"] {
        let response = app.http.get(app.url(path)).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(response.headers()["content-type"], PROBLEM_JSON, "{path}");
    }
}

#[tokio::test]
async fn admin_endpoints_take_the_admin_token_or_a_service_role_jwt_and_nothing_else() {
    let app = admin_app().await;
    let user = TestUser::new();
    let forged = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"role": "service_role", "exp": now() + 3600}),
        &jsonwebtoken::EncodingKey::from_secret(b"another-secret-that-is-long-enough-too").unwrap(),
    )
    .unwrap();
    let endpoints = [
        (reqwest::Method::GET, "/overview".to_owned()),
        (reqwest::Method::GET, "/tasks".to_owned()),
        (reqwest::Method::GET, "/dead-letters".to_owned()),
        (reqwest::Method::GET, "/throughput".to_owned()),
        (reqwest::Method::POST, "/dead-letters/requeue".to_owned()),
        (reqwest::Method::POST, format!("/tasks/{}/cancel", TaskId::new())),
    ];
    let refusals: [(Option<&str>, u16, &str, &str); 4] = [
        (None, 401, problems::UNAUTHORIZED, "no token"),
        (Some("not-the-admin-token-at-all"), 401, problems::UNAUTHORIZED, "a wrong token"),
        (Some(&forged), 401, problems::UNAUTHORIZED, "a service_role JWT signed with another secret"),
        (Some(&user.token), 403, problems::FORBIDDEN, "a signed-in user's token"),
    ];

    for (method, path) in &endpoints {
        for (token, status, slug, why) in refusals {
            let response = app.admin_request(method.clone(), path, token).await;
            assert_eq!(response.status(), status, "{method} {path}: {why}");
            assert_eq!(response.headers()["content-type"], PROBLEM_JSON, "{why}");
            let problem: Value = response.json().await.unwrap();
            assert_eq!(problem["type"], problems::type_uri(slug), "{why}");
        }
    }
    for (token, who) in
        [(ADMIN_TOKEN.to_owned(), "the admin token"), (service_role_key(), "a service_role JWT")]
    {
        let response = app.admin_request(reqwest::Method::GET, "/overview", Some(&token)).await;
        assert_eq!(response.status(), 200, "{who}");
    }
    let page = app.http.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(page.status(), 200, "the page itself asks for the token");
    assert!(page.text().await.unwrap().contains("/admin/admin.js"));
    assert!(!captured_logs().contains(ADMIN_TOKEN), "the admin token never reaches a log line");
}

#[tokio::test]
async fn the_task_list_filters_by_state_error_user_and_time_newest_first_in_pages() {
    let app = admin_app().await;
    let (cook, baker) = (TestUser::new(), TestUser::new());
    let worker = app.worker();
    app.start_task(&cook, "7000000000000000001").await;
    let (succeeded, _) = worker.complete("Pasta").await;
    let failed = dead_letter(&app, &cook, "7000000000000000002").await;
    let pending = app.start_task(&baker, "7000000000000000003").await["task_id"].as_str().unwrap().to_owned();
    let ids = |body: &Value| -> Vec<String> {
        body["tasks"].as_array().unwrap().iter().map(|t| t["task_id"].as_str().unwrap().to_owned()).collect()
    };

    let all = app.admin_get("/tasks").await;
    assert_eq!(ids(&all), [pending.clone(), failed.clone(), succeeded.to_string()], "newest first");
    assert_eq!(ids(&app.admin_get("/tasks?state=SUCCESS").await), [succeeded.to_string()]);
    assert_eq!(ids(&app.admin_get("/tasks?state=failure").await), [failed.as_str()], "any case");
    assert_eq!(ids(&app.admin_get("/tasks?error=temporarily_unavailable").await), [failed.as_str()]);
    assert_eq!(ids(&app.admin_get(&format!("/tasks?user={}", baker.id)).await), [pending.as_str()]);
    assert_eq!(ids(&app.admin_get(&format!("/tasks?since={}", now() + 60)).await), Vec::<String>::new());
    assert_eq!(ids(&app.admin_get(&format!("/tasks?until={}", now() - 3600)).await), Vec::<String>::new());
    assert_eq!(
        ids(&app.admin_get(&format!("/tasks?since={}&user={}", now() - 3600, cook.id)).await).len(),
        2
    );
    let first = app.admin_get("/tasks?limit=2").await;
    assert_eq!(ids(&first), [pending.clone(), failed.clone()]);
    let cursor = first["next_cursor"].as_str().expect("a full page has a cursor");
    let second = app.admin_get(&format!("/tasks?limit=2&cursor={cursor}")).await;
    assert_eq!(ids(&second), [succeeded.to_string()]);
    assert!(second["next_cursor"].is_null(), "the last page");
    for (query, why) in [
        ("state=DONE", "an unknown state"),
        ("user=someone", "a user that is not a UUID"),
        ("limit=0", "limit below 1"),
        ("limit=1000", "limit above the maximum"),
        ("since=yesterday", "a time that is not Unix seconds"),
        ("cursor=abc", "a cursor that is not a task id"),
        ("colour=red", "an unknown filter"),
    ] {
        let response =
            app.admin_request(reqwest::Method::GET, &format!("/tasks?{query}"), Some(ADMIN_TOKEN)).await;
        assert_eq!(response.status(), 400, "{why}");
    }
}

#[tokio::test]
async fn a_dead_letter_is_requeued_with_a_fresh_budget_and_runs_again_to_success() {
    let app = admin_app().await;
    let user = TestUser::new();
    let task = dead_letter(&app, &user, "7000000000000000010").await;

    let dead = app.admin_get("/dead-letters").await;
    assert_eq!(dead["dead_letters"][0]["task_id"], task.as_str());
    assert_eq!(dead["dead_letters"][0]["task"]["error"], "temporarily_unavailable", "the reason");
    assert_eq!(dead["dead_letters"][0]["task"]["message"], "Gave up after 1 attempt: the scraper is down");
    assert_eq!(app.admin_get("/overview").await["dead"], 1);
    let before = app.admin_get(&format!("/tasks/{task}")).await;
    assert!(before["dead_letter"].as_bool().unwrap());

    let requeued = app
        .admin_request(reqwest::Method::POST, &format!("/dead-letters/{task}/requeue"), Some(ADMIN_TOKEN))
        .await;

    assert_eq!(requeued.status(), 200);
    let notice: Value = requeued.json().await.unwrap();
    assert_eq!(notice["status"], "PENDING");
    assert_eq!(notice["details"], "Queued again by an operator");
    assert_eq!(app.admin_get("/overview").await["dead"], 0);
    assert_eq!(app.admin_get("/overview").await["queued"], 1);
    let attempt = app.worker().claim().await;
    assert_eq!(attempt.task().to_string(), task);
    assert_eq!(attempt.claim().attempt, 1, "a new attempt budget");
    let mut watch = app.get_task(&user, &task, "").await.json::<Value>().await.unwrap();
    assert_eq!(watch["status"], "PENDING", "the owner sees the task queued again");
    for step in [protocol::Step::Preparing, protocol::Step::Scraping] {
        app.worker().step(&attempt, step, None).await;
    }
    app.worker().succeed(&attempt, "Second time lucky").await;
    while watch["status"] != "SUCCESS" {
        watch = app.snapshot_after(&user, &task, watch["seq"].as_u64().unwrap()).await;
    }
    let detail = app.admin_get(&format!("/tasks/{task}")).await;
    assert_eq!(detail["events_source"], "redis");
    let events = detail["events"].as_array().unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "one log, no gaps: {seqs:?}");
    let story: Vec<&str> = events.iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(story.first(), Some(&"PENDING"));
    assert!(story.contains(&"FAILURE"), "the first run's end stays in the log: {story:?}");
    assert_eq!(story.last(), Some(&"SUCCESS"));
    assert_eq!(detail["task"]["attempts"], 2, "Postgres counts both runs");
    assert_eq!(detail["job"], Value::Null, "the job is done");
    assert!(!detail["dead_letter"].as_bool().unwrap());
    let again = app
        .admin_request(reqwest::Method::POST, &format!("/dead-letters/{task}/requeue"), Some(ADMIN_TOKEN))
        .await;
    assert_eq!(again.status(), 409, "no longer a dead letter");
    let logs = plain_logs();
    let line = logs
        .iter()
        .find(|l| l.contains("admin action") && l.contains(&task) && l.contains("requeue"))
        .expect("the requeue is logged");
    assert!(line.contains("who=admin-token"), "{line}");
}

#[tokio::test]
async fn requeue_all_queues_every_dead_letter_and_says_what_it_skipped() {
    let app = admin_app().await;
    let user = TestUser::new();
    let first = dead_letter(&app, &user, "7000000000000000020").await;
    let second = dead_letter(&app, &user, "7000000000000000021").await;

    let response =
        app.admin_request(reqwest::Method::POST, "/dead-letters/requeue", Some(&service_role_key())).await;

    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["requeued"], json!([first, second]));
    assert_eq!(body["skipped"], json!([]));
    let overview = app.admin_get("/overview").await;
    assert_eq!((overview["dead"].as_u64(), overview["queued"].as_u64()), (Some(0), Some(2)));
    let line = plain_logs().into_iter().find(|l| l.contains("requeue_all") && l.contains(&first));
    assert!(line.expect("logged").contains("who=service_role"));
}

#[tokio::test]
async fn an_operator_cancels_any_users_task_and_the_owner_sees_it() {
    let app = admin_app().await;
    let user = TestUser::new();
    let task = app.start_task(&user, "7000000000000000030").await["task_id"].as_str().unwrap().to_owned();

    let cancelled =
        app.admin_request(reqwest::Method::POST, &format!("/tasks/{task}/cancel"), Some(ADMIN_TOKEN)).await;

    assert_eq!(cancelled.status(), 200);
    let event: Value = cancelled.json().await.unwrap();
    assert_eq!((event["status"].as_str(), event["error"].as_str()), (Some("FAILURE"), Some("cancelled")));
    let seen = app.get_task(&user, &task, "").await.json::<Value>().await.unwrap();
    assert_eq!(seen["error"], "cancelled", "the owner's view: {seen}");
    let again =
        app.admin_request(reqwest::Method::POST, &format!("/tasks/{task}/cancel"), Some(ADMIN_TOKEN)).await;
    assert_eq!(again.status(), 409, "already finished");
    let unknown = app
        .admin_request(reqwest::Method::POST, &format!("/tasks/{}/cancel", TaskId::new()), Some(ADMIN_TOKEN))
        .await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn the_overview_shows_workers_with_their_jobs_and_the_chart_counts_outcomes() {
    let app = admin_app().await;
    let user = TestUser::new();
    app.start_task(&user, "7000000000000000040").await;
    app.worker().complete("Soup").await;
    dead_letter(&app, &user, "7000000000000000041").await;
    let running = app.start_task(&user, "7000000000000000042").await["task_id"].as_str().unwrap().to_owned();
    app.start_task(&user, "7000000000000000043").await;
    let claim =
        app.tasks.claim("worker-a", Duration::from_secs(5), Duration::from_secs(60)).await.unwrap().unwrap();
    app.tasks
        .heartbeat("worker-a", &[(claim.job.task_id, claim.token)], Duration::from_secs(60))
        .await
        .unwrap();

    let overview = app.admin_get("/overview").await;

    assert_eq!(overview["queued"], 1);
    assert_eq!(overview["dead"], 1);
    let worker = &overview["workers"][0];
    assert_eq!(worker["id"], "worker-a");
    assert_eq!(worker["in_flight"], json!([running]));
    let age = overview["now"].as_f64().unwrap() - worker["last_heartbeat"].as_f64().unwrap();
    assert!((0.0..60.0).contains(&age), "a heartbeat just now: {age}");
    let detail = app.admin_get(&format!("/tasks/{running}")).await;
    assert_eq!(detail["job"]["worker"], "worker-a");
    assert_eq!(detail["job"]["attempts"], 1);
    assert_eq!(detail["job"]["claim_token"], claim.token.to_string());
    let minutes = app.admin_get("/throughput").await["minutes"].as_array().unwrap().clone();
    assert_eq!(minutes.len(), 60, "the last hour, minute by minute");
    let sum = |key: &str| minutes.iter().map(|m| m[key].as_i64().unwrap()).sum::<i64>();
    assert_eq!((sum("succeeded"), sum("failed"), sum("cancelled")), (1, 1, 0));
    assert!(
        minutes.iter().any(|m| m["error_rate"].as_f64().unwrap() > 0.0),
        "a failure shows in the error rate"
    );
}

#[tokio::test]
async fn a_dead_letter_whose_log_redis_expired_is_shown_from_postgres_and_requeued_above_every_seq() {
    let app = admin_app().await;
    let user = TestUser::new();
    let task = dead_letter(&app, &user, "7000000000000000050").await;
    let last_seq = app.admin_get(&format!("/tasks/{task}")).await["task"]["last_seq"].as_u64().unwrap();
    let mut redis =
        redis::Client::open(testkit::redis_url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let prefix = app.tasks.key_prefix().to_owned();
    redis::cmd("DEL")
        .arg(format!("{prefix}:task:{task}"))
        .arg(format!("{prefix}:log:{task}"))
        .query_async::<()>(&mut redis)
        .await
        .unwrap();

    let detail = app.admin_get(&format!("/tasks/{task}")).await;

    assert_eq!(detail["events_source"], "postgres");
    let events = detail["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "Postgres keeps the last event: {events:?}");
    assert_eq!((events[0]["status"].as_str(), events[0]["seq"].as_u64()), (Some("FAILURE"), Some(last_seq)));
    let requeued = app
        .admin_request(reqwest::Method::POST, &format!("/dead-letters/{task}/requeue"), Some(ADMIN_TOKEN))
        .await;
    assert_eq!(requeued.status(), 200);
    let notice: Value = requeued.json().await.unwrap();
    let seq = notice["seq"].as_u64().unwrap();
    assert!(seq > last_seq, "the log restarts above every seq handed out: {seq} after {last_seq}");
    let attempt = app.worker().claim().await;
    app.worker().step(&attempt, protocol::Step::Preparing, None).await;
    app.worker().succeed(&attempt, "Back from the dead").await;
    let events = app.admin_get(&format!("/tasks/{task}")).await["events"].as_array().unwrap().clone();
    assert_eq!(events.first().unwrap()["seq"].as_u64(), Some(seq), "the new log starts at the notice");
    assert_eq!(events.last().unwrap()["status"], "SUCCESS");
    let seen = app.get_task(&user, &task, "").await.json::<Value>().await.unwrap();
    assert_eq!(seen["status"], "SUCCESS", "the owner sees it too: {seen}");
}
