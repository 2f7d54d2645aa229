use client::{ClientError, decode_message};
use protocol::{RecipeId, TaskId, TaskState};

use crate::nth;

#[test]
fn a_task_update_decodes() {
    let update = nth(TaskId::new(), RecipeId::new(), 4);
    let text = serde_json::to_string(&update).unwrap();
    assert_eq!(decode_message(&text).unwrap(), Some(update));
}

#[test]
fn keep_alive_replies_carry_no_update() {
    for text in ["pong", "PONG\n", "ping", r#"{"type":"pong"}"#] {
        assert_eq!(decode_message(text).unwrap(), None, "{text:?}");
    }
}

#[test]
fn malformed_messages_are_protocol_errors_not_panics() {
    let task = TaskId::new();
    let cases = [
        ("", "empty"),
        ("not json", "free text"),
        ("[1, 2, 3]", "an array"),
        (r#"{"type":"progress"}"#, "missing fields"),
        (
            &*format!(
                r#"{{"type":"progress","task_id":"{task}","seq":2,"status":"Processing...","step":3,"total_steps":5,"timestamp":1.0}}"#
            ),
            "free text in status",
        ),
        (
            &*format!(
                r#"{{"type":"progress","task_id":"{task}","status":"PENDING","step":0,"total_steps":5,"timestamp":1.0}}"#
            ),
            "no seq",
        ),
        (
            r#"{"type":"progress","task_id":"nope","seq":1,"status":"PENDING","step":0,"total_steps":5,"timestamp":1.0}"#,
            "bad task id",
        ),
    ];
    for (text, why) in cases {
        match decode_message(text) {
            Err(ClientError::Protocol(message)) => assert!(!message.is_empty(), "{why}"),
            other => panic!("{why}: expected a protocol error, got {other:?}"),
        }
    }
}

#[test]
fn a_protocol_error_quotes_the_start_of_the_message() {
    let long = format!("garbage {}", "x".repeat(500));
    let err = decode_message(&long).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("garbage"), "{text}");
    assert!(text.len() < 300, "the excerpt is short: {text}");
    assert!(err.is_transient(), "a garbled message does not end a watch");
}

#[test]
fn terminal_states_decode() {
    let update = nth(TaskId::new(), RecipeId::new(), 6);
    let decoded = decode_message(&serde_json::to_string(&update).unwrap()).unwrap().unwrap();
    assert_eq!(decoded.status, TaskState::Success);
    assert!(decoded.is_terminal());
}
