//! Bench: analyse a 60 s 720p video.

fn main() {}
