//! Integration tests of the media crate on real media made with ffmpeg at test time.
