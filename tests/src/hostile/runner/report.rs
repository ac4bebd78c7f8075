//! What the corpus found: each case's `Outcome`, and the `CorpusReport` with its failures (one line
//! each) and its table of counts per endpoint and per category, by status.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

/// What one case got back.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub function: &'static str,
    pub category: &'static str,
    pub name: String,
    /// The HTTP status; for an invocation error of the runtime, the 502 API Gateway answers it
    /// with; 0 when nothing answered.
    pub status: u16,
    pub code: Option<String>,
    /// Why this answer is wrong (empty: it is right).
    pub problems: Vec<String>,
}

/// What the corpus found.
#[derive(Debug, Clone)]
pub struct CorpusReport {
    pub outcomes: Vec<Outcome>,
    /// Stripe writes, changed sessions, stock or holds that moved.
    pub state_changes: Vec<String>,
    /// Secrets found in function logs.
    pub secrets_found: Vec<String>,
    /// Log files searched for secrets, and the `client_secret`s looked for.
    pub logs_searched: usize,
    pub client_secrets_searched: usize,
    pub api_version: &'static str,
    pub seed: u64,
    pub elapsed: Duration,
}

impl CorpusReport {
    pub fn total(&self) -> usize {
        self.outcomes.len()
    }

    /// 5xx answers (the function's own, or 502 for an invocation the runtime failed).
    pub fn server_errors(&self) -> usize {
        self.outcomes.iter().filter(|o| o.status >= 500).count()
    }

    pub fn non_conforming(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| !o.problems.is_empty())
            .count()
    }

    /// Every failure, one line each: empty when the API held.
    pub fn failures(&self) -> Vec<String> {
        let mut failures: Vec<String> = self
            .outcomes
            .iter()
            .flat_map(|o| {
                o.problems
                    .iter()
                    .map(move |p| format!("{} [{}] {}: {p}", o.function, o.category, o.name))
            })
            .collect();
        failures.extend(
            self.state_changes
                .iter()
                .map(|c| format!("state changed: {c}")),
        );
        failures.extend(
            self.secrets_found
                .iter()
                .map(|s| format!("secret in a log: {s}")),
        );
        if self.logs_searched == 0 {
            failures.push("no function log was found to search for secrets".into());
        }
        if self.client_secrets_searched == 0 {
            failures.push("no client_secret was seen, so none was looked for in the logs".into());
        }
        failures
    }

    /// The counts per endpoint and per category by status, aligned.
    pub fn table(&self) -> String {
        let statuses: BTreeSet<u16> = self.outcomes.iter().map(|o| o.status).collect();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "hostile corpus ({}, seed {}): {} requests in {:.1} s; {} failed; {} answered 5xx; \
             {} state changes; {} secrets in {} function logs",
            self.api_version,
            self.seed,
            self.total(),
            self.elapsed.as_secs_f64(),
            self.non_conforming(),
            self.server_errors(),
            self.state_changes.len(),
            self.secrets_found.len(),
            self.logs_searched,
        );
        for (title, key) in [
            (
                "endpoint",
                (|o: &Outcome| o.function.to_owned()) as fn(&Outcome) -> String,
            ),
            ("category", |o: &Outcome| o.category.to_owned()),
        ] {
            out.push('\n');
            out.push_str(&self.section(title, &statuses, key));
        }
        let state = if self.state_changes.is_empty() {
            "unchanged (no Stripe write to a session, sessions byte-identical, stock and holds identical)".to_owned()
        } else {
            self.state_changes.join("; ")
        };
        let _ = writeln!(out, "\nstate: {state}");
        let secrets = if self.secrets_found.is_empty() {
            format!(
                "none (looked for the Stripe key, the webhook secret and {} client_secrets)",
                self.client_secrets_searched
            )
        } else {
            self.secrets_found.join("; ")
        };
        let _ = writeln!(out, "secrets in logs: {secrets}");
        out
    }

    fn section(
        &self,
        title: &str,
        statuses: &BTreeSet<u16>,
        key: fn(&Outcome) -> String,
    ) -> String {
        let mut rows: BTreeMap<String, (usize, BTreeMap<u16, usize>, usize)> = BTreeMap::new();
        for outcome in &self.outcomes {
            let row = rows.entry(key(outcome)).or_default();
            row.0 += 1;
            *row.1.entry(outcome.status).or_default() += 1;
            row.2 += usize::from(!outcome.problems.is_empty());
        }
        let mut header = vec![title.to_owned(), "total".into()];
        header.extend(statuses.iter().map(|s| {
            if *s == 0 {
                "none".into()
            } else {
                s.to_string()
            }
        }));
        header.push("failed".into());
        let mut table = vec![header];
        let mut totals = (0, BTreeMap::<u16, usize>::new(), 0);
        for (name, (total, by_status, failed)) in &rows {
            let mut line = vec![name.clone(), total.to_string()];
            line.extend(
                statuses
                    .iter()
                    .map(|s| by_status.get(s).map_or("·".into(), usize::to_string)),
            );
            line.push(failed.to_string());
            table.push(line);
            totals.0 += total;
            for (s, n) in by_status {
                *totals.1.entry(*s).or_default() += n;
            }
            totals.2 += failed;
        }
        let mut line = vec!["all".to_owned(), totals.0.to_string()];
        line.extend(
            statuses
                .iter()
                .map(|s| totals.1.get(s).map_or("·".into(), usize::to_string)),
        );
        line.push(totals.2.to_string());
        table.push(line);
        let columns = table.first().map_or(0, Vec::len);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                table
                    .iter()
                    .map(|row| row.get(c).map_or(0, |v| v.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in table {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(c, (cell, width))| {
                    if c == 0 {
                        format!("{cell:<width$}")
                    } else {
                        format!("{cell:>width$}")
                    }
                })
                .collect();
            let _ = writeln!(out, "{}", cells.join("  ").trim_end());
        }
        out
    }
}
