//! One pub/sub subscription per process, reconnecting by itself.

use std::time::Duration;

use futures_util::StreamExt;
use protocol::{Backoff, Event, TaskId};

/// An item of a [`Feed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedItem {
    /// A logged event on the events channel.
    Event(TaskId, Event),
    /// A task id on the cancel channel.
    Cancelled(TaskId),
    /// The subscription was re-established after a drop: events may have been missed, so every
    /// consumer re-reads the log after its last seq.
    Resynced,
}

/// A pub/sub subscription to one channel that survives Redis restarts.
pub struct Feed {
    client: redis::Client,
    channel: String,
    messages: Option<futures_util::stream::BoxStream<'static, redis::Msg>>,
    connected_once: bool,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed").field("channel", &self.channel).finish_non_exhaustive()
    }
}

impl Feed {
    /// Prepares a subscription; it connects on the first [`Feed::next`] (or [`Feed::ready`]).
    ///
    /// # Errors
    /// [`crate::BusError`] when the URL is malformed.
    pub fn new(url: &str, channel: String) -> Result<Self, crate::BusError> {
        Ok(Self { client: redis::Client::open(url)?, channel, messages: None, connected_once: false })
    }

    /// Subscribes now, so that events published after this returns are not missed.
    ///
    /// # Errors
    /// [`crate::BusError`] when Redis cannot be reached.
    pub async fn ready(&mut self) -> Result<(), crate::BusError> {
        if self.messages.is_none() {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(&self.channel).await?;
            self.messages = Some(pubsub.into_on_message().boxed());
        }
        Ok(())
    }

    /// The next item; reconnects with capped backoff while Redis is away.
    pub async fn next(&mut self) -> FeedItem {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        loop {
            if self.messages.is_none() {
                match self.ready().await {
                    Ok(()) => {
                        let first = !self.connected_once;
                        self.connected_once = true;
                        if !first {
                            tracing::info!(channel = %self.channel, "pub/sub reconnected");
                            return FeedItem::Resynced;
                        }
                    }
                    Err(e) => {
                        let delay = backoff.next_delay();
                        tracing::warn!(error = %e, retry_in = ?delay, "pub/sub connection failed");
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                }
            }
            let Some(messages) = self.messages.as_mut() else { continue };
            match messages.next().await {
                Some(msg) => {
                    if let Some(item) = parse(msg.get_payload_bytes()) {
                        return item;
                    }
                    tracing::warn!(channel = %self.channel, "ignored malformed pub/sub message");
                }
                None => {
                    tracing::warn!(channel = %self.channel, "pub/sub connection lost");
                    self.messages = None;
                    self.connected_once = true;
                }
            }
        }
    }
}

/// `<task> <seq> <event>` on the events channel, `<task>` on the cancel channel.
fn parse(payload: &[u8]) -> Option<FeedItem> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut parts = text.splitn(3, ' ');
    let task_id = TaskId::parse(parts.next()?).ok()?;
    match (parts.next(), parts.next()) {
        (None, _) => Some(FeedItem::Cancelled(task_id)),
        // The seq in front lets other subscribers route without parsing; the event carries it too.
        (Some(_seq), Some(json)) => Some(FeedItem::Event(task_id, Event::decode(json).ok()?)),
        (Some(_), None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse_into_items() {
        let id = TaskId::new();
        let json = r#"{"seq":7,"status":"PROGRESS"}"#;
        let event = parse(format!("{id} 7 {json}").as_bytes());
        assert_eq!(event, Some(FeedItem::Event(id, Event::decode(json).unwrap())));
        assert_eq!(parse(id.to_string().as_bytes()), Some(FeedItem::Cancelled(id)));
        assert_eq!(parse(b"nonsense 1 {}"), None);
        assert_eq!(parse(format!("{id} 7 {{}}").as_bytes()), None, "not an event");
    }
}
