//! Feeds a real function binary one event through the Lambda runtime API emulator shared
//! with the benchmark harness (`lambda-emulator`), and returns what the function answered.

use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// Runs `binary` with `env` (plus the variables Lambda sets), invokes it once with `event`,
/// and returns its response. The process is killed afterwards; its log is
/// `target/dev/runtime-<name>.log`.
pub async fn invoke(
    binary: &Path,
    event: Value,
    env: &HashMap<String, String>,
) -> Result<Value, String> {
    let name = binary
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("function")
        .to_owned();
    let log = crate::root().join(format!("target/dev/runtime-{name}.log"));
    // A fresh log per run: tests read it for what this invocation wrote.
    std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut env = env.clone();
    env.entry("PATH".into())
        .or_insert_with(|| std::env::var("PATH").unwrap_or_default());
    lambda_emulator::invoke_once(binary, &name, event, &env, &log).await
}
