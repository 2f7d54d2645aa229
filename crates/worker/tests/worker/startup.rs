//! The worker binary refuses bad settings with one line naming the variable and exit code 2.

use std::process::Command;

#[test]
fn bad_settings_stop_the_binary_with_one_line_and_exit_code_2() {
    let cases = [
        (vec![("DATABASE_URL", "postgres://x@127.0.0.1/db")], "REDIS_URL", "missing Redis URL"),
        (
            vec![("REDIS_URL", "redis://127.0.0.1:1"), ("DATABASE_URL", "mysql://x")],
            "DATABASE_URL",
            "wrong scheme",
        ),
        (
            vec![
                ("REDIS_URL", "redis://127.0.0.1:1"),
                ("DATABASE_URL", "postgres://x@h/db"),
                ("RELAY__WORKER__CONCURRENCY", "lots"),
            ],
            "RELAY__WORKER__CONCURRENCY",
            "not a number",
        ),
    ];
    for (vars, variable, why) in cases {
        let output = Command::new(env!("CARGO_BIN_EXE_worker"))
            .env_clear()
            .envs(vars)
            .output()
            .expect("run the worker binary");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{why}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{why}: one line, got {stderr}");
        assert!(stderr.starts_with(&format!("error: invalid setting {variable}:")), "{why}: {stderr}");
        assert!(!stderr.contains("panicked"), "{why}: {stderr}");
    }
}
