use client::SeqFilter;
use protocol::{RecipeId, TaskId};

use crate::{failed, nth, script};

#[test]
fn duplicates_and_older_seqs_are_dropped_and_order_is_kept() {
    let (task, recipe) = (TaskId::new(), RecipeId::new());
    let arrivals = [1, 2, 2, 1, 3, 5, 4, 5, 6, 6, 3];
    let mut filter = SeqFilter::new(0);

    let passed: Vec<u64> = arrivals
        .iter()
        .map(|&seq| nth(task, recipe, seq))
        .filter(|update| filter.accept(update))
        .map(|update| update.seq)
        .collect();

    assert_eq!(passed, vec![1, 2, 3, 5, 6], "4 came after 5: too late, and never twice");
    assert_eq!(filter.last(), 6);
    assert!(filter.is_done());
}

#[test]
fn a_jump_ahead_is_let_through() {
    let (task, recipe) = (TaskId::new(), RecipeId::new());
    let mut filter = SeqFilter::new(2);
    assert!(filter.accept(&nth(task, recipe, 5)), "a poll may see seq 5 right after 2");
    assert_eq!(filter.last(), 5);
}

#[test]
fn since_skips_what_the_caller_already_has() {
    let (task, recipe) = (TaskId::new(), RecipeId::new());
    let mut filter = SeqFilter::new(3);
    let passed: Vec<u64> =
        script(task, recipe).into_iter().filter(|u| filter.accept(u)).map(|u| u.seq).collect();
    assert_eq!(passed, vec![4, 5, 6]);
}

#[test]
fn nothing_passes_after_a_terminal_update() {
    let (task, recipe) = (TaskId::new(), RecipeId::new());
    let mut filter = SeqFilter::new(0);
    assert!(filter.accept(&failed(task, 3)));
    assert!(filter.is_done());
    assert!(!filter.accept(&nth(task, recipe, 4)), "a FAILURE is the last update");
}
