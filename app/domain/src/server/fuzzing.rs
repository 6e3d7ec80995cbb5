//! Long fuzz runs for `scripts/bench` (`fuzz`): property checks on generated input for
//! `FUZZ_SECONDS` (300) each; the unit suite runs a few hundred cases of the same checks.

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, TestRunner};

/// Runs `check` on values of `strategy` until the time is up; a panic fails the run.
pub fn for_minutes<S: Strategy>(what: &str, strategy: S, check: impl Fn(S::Value)) {
    let seconds: u64 = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    let mut cases = 0u64;
    while std::time::Instant::now() < deadline {
        let mut runner = TestRunner::new(Config {
            cases: 1000,
            ..Config::default()
        });
        runner
            .run(&strategy, |value| {
                check(value);
                Ok(())
            })
            .unwrap();
        cases += 1000;
    }
    println!("{what} fuzz: {cases} cases in {seconds} s, no panic");
}
