//! End-to-end and fault tests: the real binaries, real Redis and Postgres, real sockets.

mod admin;
mod apify;
mod chaos;
mod failover;
mod lists;
mod media;
mod metrics;
mod nginx;
mod outages;
mod paths;
mod startup;
mod traces;

use std::time::Duration;

use futures_util::StreamExt;
use protocol::{Language, TaskState, TaskUpdate, TikTokUrl};

/// The offline fixture videos (recorded Apify items) the worker knows.
pub(crate) const PASTA: &str = "https://www.tiktok.com/@cozykitchenwithmia/video/7311770584007226424";
pub(crate) const KAISERSCHMARRN: &str = "https://www.tiktok.com/@kochen.mit.lena/video/7326497432544955876";
pub(crate) const PANCAKES: &str = "https://www.tiktok.com/@brunchbydan/video/7339557630099983671";

pub(crate) const TASK_TIME: Duration = Duration::from_secs(90);

pub(crate) fn url(link: &str) -> TikTokUrl {
    TikTokUrl::parse(link).expect("fixture url")
}

pub(crate) fn lang(tag: &str) -> Language {
    Language::parse(tag).expect("language")
}

/// Every update of a watch until it ends; a watch error fails the test.
pub(crate) async fn collect(mut watch: client::Watch) -> Vec<TaskUpdate> {
    tokio::time::timeout(TASK_TIME, async {
        let mut updates = Vec::new();
        while let Some(item) = watch.next().await {
            updates.push(item.expect("watch item"));
        }
        updates
    })
    .await
    .expect("the watch ended in time")
}

/// Updates arrive once each, in order, and end with SUCCESS.
pub(crate) fn assert_ordered_success(updates: &[TaskUpdate]) {
    let seqs: Vec<u64> = updates.iter().map(|u| u.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "once each, in order: {seqs:?}");
    let last = updates.last().expect("at least one update");
    assert_eq!(last.status, TaskState::Success, "{last:?}");
    assert!(last.recipe_id.is_some());
}
