//! No secret in a function log: the Stripe key, the webhook signing secret and every
//! `client_secret` the fixtures saw, looked for in the logs of this process's stack.

use crate::hostile::corpus::Fixtures;
use crate::{Endpoint, SECRET_KEY, WEBHOOK_SECRET};

/// Where the harness writes this process's logs (`target/e2e-logs/<name>-<pid>-<n>.log`).
pub(crate) fn log_files() -> Vec<std::path::PathBuf> {
    let dir = crate::process::log_dir();
    let marker = format!("-{}-", std::process::id());
    let functions: Vec<&str> = Endpoint::ALL
        .iter()
        .map(|e| e.function())
        .chain(["release-holds", "cargo-lambda-watch"])
        .collect();
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            name.contains(&marker) && functions.iter().any(|f| name.starts_with(f))
        })
        .collect()
}

/// Secrets in the functions' logs (stdout and stderr) of this process.
pub(crate) fn secrets_in_logs(f: &Fixtures) -> Vec<String> {
    let mut needles: Vec<(String, &str)> = vec![
        ("the Stripe secret key".into(), SECRET_KEY),
        ("the webhook signing secret".into(), WEBHOOK_SECRET),
    ];
    for secret in &f.client_secrets {
        let shown: String = secret.chars().take(12).collect();
        needles.push((format!("the client_secret {shown}…"), secret.as_str()));
    }
    let mut found = Vec::new();
    for path in log_files() {
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap_or_default()).into_owned();
        for (what, needle) in &needles {
            if let Some(line) = text.lines().position(|l| l.contains(needle)) {
                found.push(format!(
                    "{what} is in {} (line {})",
                    path.display(),
                    line + 1
                ));
            }
        }
    }
    found
}
