use std::time::Duration;

use client::Backoff;
use rand::SeedableRng as _;
use rand::rngs::StdRng;

#[test]
fn the_ceiling_doubles_from_half_a_second_to_twenty() {
    let mut backoff = Backoff::SOCKET;
    let mut rng = StdRng::seed_from_u64(7);
    let mut ceilings = Vec::new();
    for _ in 0..9 {
        ceilings.push(backoff.ceiling().as_millis());
        backoff.next_delay_with(&mut rng);
    }
    assert_eq!(ceilings, vec![500, 1000, 2000, 4000, 8000, 16000, 20000, 20000, 20000]);
}

#[test]
fn every_delay_lies_between_zero_and_its_ceiling() {
    let mut backoff = Backoff::SOCKET;
    let mut rng = StdRng::seed_from_u64(42);
    for attempt in 0..200 {
        let ceiling = backoff.ceiling();
        let delay = backoff.next_delay_with(&mut rng);
        assert!(delay <= ceiling, "attempt {attempt}: {delay:?} > {ceiling:?}");
    }
    assert!(backoff.ceiling() <= Duration::from_secs(20), "the cap holds after many attempts");
}

#[test]
fn full_jitter_spreads_delays_over_the_whole_window() {
    let mut rng = StdRng::seed_from_u64(1);
    let delays: Vec<f64> = (0..1000)
        .map(|_| {
            let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(20));
            backoff.next_delay_with(&mut rng).as_secs_f64()
        })
        .collect();
    let min = delays.iter().copied().fold(f64::MAX, f64::min);
    let max = delays.iter().copied().fold(0.0, f64::max);
    let mean = delays.iter().sum::<f64>() / delays.len() as f64;
    assert!(min < 0.05, "some clients retry almost at once (min {min})");
    assert!(max > 0.95, "some wait nearly the whole window (max {max})");
    assert!((0.4..0.6).contains(&mean), "uniform over [0, 1] has mean 0.5, got {mean}");
    let below_half = delays.iter().filter(|d| **d < 0.5).count();
    assert!((400..600).contains(&below_half), "half fall in each half, got {below_half} below");
}

#[test]
fn reset_starts_over_after_a_success() {
    let mut backoff = Backoff::SOCKET;
    for _ in 0..5 {
        backoff.next_delay();
    }
    assert_eq!(backoff.attempt(), 5);
    backoff.reset();
    assert_eq!((backoff.attempt(), backoff.ceiling()), (0, Duration::from_millis(500)));
}
