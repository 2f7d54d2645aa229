//! Both binaries refuse bad settings with one line naming the variable and exit code 2.

use std::process::Command;

#[test]
fn bad_settings_stop_either_binary_with_one_line_and_exit_code_2() {
    let good = [("REDIS_URL", "redis://127.0.0.1:1"), ("DATABASE_URL", "postgres://x@127.0.0.1:1/db")];
    let cases = [
        ("api", vec![good[1]], "REDIS_URL", "no Redis URL"),
        ("api", good.to_vec(), "SUPABASE_JWT_SECRET", "no way to verify tokens"),
        (
            "api",
            [good.as_slice(), &[("SUPABASE_JWT_SECRET", "s"), ("RELAY__API__PORT", "http")]].concat(),
            "RELAY__API__PORT",
            "port not a number",
        ),
        (
            "api",
            [good.as_slice(), &[("SUPABASE_JWT_SECRET", "s"), ("RELAY__API__LONG_POLL_MAX_SECS", "90")]]
                .concat(),
            "RELAY__API__LONG_POLL_MAX_SECS",
            "long-poll over 30 s",
        ),
        ("worker", vec![good[0]], "DATABASE_URL", "no database URL"),
        (
            "worker",
            [good.as_slice(), &[("RELAY__WORKER__HEARTBEAT_SECS", "60")]].concat(),
            "RELAY__WORKER__HEARTBEAT_SECS",
            "heartbeat slower than the lease",
        ),
    ];
    for (binary, vars, variable, why) in cases {
        let output = Command::new(e2e::bin_dir().join(binary))
            .env_clear()
            .envs(vars)
            .output()
            .unwrap_or_else(|e| panic!("run {binary}: {e}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{binary}, {why}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{binary}, {why}: one line, got {stderr}");
        assert!(
            stderr.starts_with(&format!("error: invalid setting {variable}:")),
            "{binary}, {why}: {stderr}"
        );
    }
}

#[test]
fn a_secret_in_a_bad_setting_is_never_echoed() {
    let output = Command::new(e2e::bin_dir().join("api"))
        .env_clear()
        .envs([("REDIS_URL", "redis://:hunter2@127.0.0.1:1"), ("DATABASE_URL", "mysql://u:hunter2@h/db")])
        .output()
        .expect("run api");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.contains("DATABASE_URL") && !stderr.contains("hunter2"), "{stderr}");
}
