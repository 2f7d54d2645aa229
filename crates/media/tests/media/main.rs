//! Integration tests of the media crate on real media made with ffmpeg at test time.
//!
//! They need ffmpeg, ffprobe, tesseract (eng, deu, spa) and espeak-ng, and fail with the
//! install hint when one is missing.

mod analyse;
mod download;
mod failures;
mod fixtures;
mod helpers;
mod workdir;
