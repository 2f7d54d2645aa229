use super::*;

/// A flat grey thumbnail with a bright band (an "overlay") of `width` pixels in row band `row`.
fn thumb(level: u8, row: usize, width: usize) -> Vec<u8> {
    let mut t = vec![level; THUMB_BYTES];
    for y in row * 4..row * 4 + 3 {
        for x in 8..8 + width {
            t[y * THUMB + x] = 250;
        }
    }
    t
}

#[test]
fn a_held_overlay_is_one_shot_and_a_new_overlay_is_another() {
    let a = thumb(90, 5, 40);
    let b = thumb(90, 9, 30);
    let thumbs: Vec<&[u8]> = [&a, &a, &a, &a, &b, &b, &b, &b].map(|t| t.as_slice()).to_vec();
    assert_eq!(choose(&thumbs, 2.0, 4.0, 8), vec![1, 5]);
}

#[test]
fn an_overlay_that_comes_back_is_kept_once() {
    let a = thumb(90, 5, 40);
    let b = thumb(90, 9, 30);
    let thumbs: Vec<&[u8]> = [&a, &a, &b, &b, &a, &a].map(|t| t.as_slice()).to_vec();
    assert_eq!(choose(&thumbs, 2.0, 3.0, 8), vec![0, 2]);
}

#[test]
fn more_shots_than_places_are_spread_over_the_video() {
    let all: Vec<Vec<u8>> = (0..40).map(|i| thumb(10 + i as u8 * 6, 1, 4)).collect();
    let thumbs: Vec<&[u8]> = all.iter().map(Vec::as_slice).collect();
    let picked = choose(&thumbs, 2.0, 20.0, 4);
    assert_eq!(picked.len(), 4);
    // One per 5-second quarter.
    for (k, i) in picked.iter().enumerate() {
        let t = *i as f64 / 2.0;
        assert!(t >= k as f64 * 5.0 && t < (k + 1) as f64 * 5.0, "{picked:?}");
    }
}

#[test]
fn dhash_is_stable_under_noise_and_differs_for_another_picture() {
    let mut gradient = vec![0u8; THUMB_BYTES];
    for (i, p) in gradient.iter_mut().enumerate() {
        *p = (((i % THUMB) * 4) ^ ((i / THUMB) * 3)) as u8;
    }
    let mut noisy = gradient.clone();
    for p in noisy.iter_mut().step_by(7) {
        *p = p.saturating_add(2);
    }
    let flipped: Vec<u8> = gradient.iter().map(|p| 255 - p).collect();
    assert!((dhash(&gradient) ^ dhash(&noisy)).count_ones() <= 2);
    assert!((dhash(&gradient) ^ dhash(&flipped)).count_ones() > 20);
}
