//! The gateway binary: telemetry, settings, build, run.

use std::process::ExitCode;

use api::Application;
use settings::Role;

#[tokio::main]
async fn main() -> ExitCode {
    // The log format is a setting, so a settings error is printed as one plain line (exit 2).
    let settings = match settings::load_or_exit(Role::Api) {
        Ok(settings) => settings,
        Err(code) => return code,
    };
    // Held to the end: dropping it flushes the spans still queued for the collector.
    let _telemetry = match settings::telemetry::init(settings.log.format, &settings.log.filter) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let result = match Application::build(settings).await {
        Ok(app) => app.run_until_stopped().await,
        Err(error) => Err(error),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line with the cause chain; the chain never holds a URL's password.
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}
