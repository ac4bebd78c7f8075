//! The runner: sends each case (`send`) and judges its answer (`judge`); around the whole corpus it
//! checks that nothing changed (`state`) and that no secret reached a log (`logs`); `report`
//! counts it all.

mod judge;
mod logs;
mod report;
mod send;
mod state;

pub(crate) use logs::{log_files, secrets_in_logs};
pub use report::{CorpusReport, Outcome};
pub(crate) use state::{snapshot, state_changes};

use super::corpus::Case;
use crate::{agent, Stack};
use judge::judge;
use send::send;
use std::collections::BTreeMap;

fn run_case(stack: &Stack, agent: &ureq::Agent, case: &Case) -> Outcome {
    let mut outcome = Outcome {
        function: case.endpoint.function(),
        category: case.category,
        name: case.name.clone(),
        status: 0,
        code: None,
        problems: Vec::new(),
    };
    match send(stack, agent, case) {
        Ok(answer) => {
            let (problems, code) = judge(case, &answer);
            outcome.status = answer.status;
            outcome.code = code;
            outcome.problems = problems;
        }
        Err(error) => outcome.problems.push(format!("no answer: {error}")),
    }
    outcome
}

/// Runs the cases, one thread per function (each function has one instance: its requests queue
/// anyway), in the order given within a function.
pub(super) fn run_all(stack: &Stack, cases: &[Case]) -> Vec<Outcome> {
    let mut groups: BTreeMap<&str, Vec<(usize, &Case)>> = BTreeMap::new();
    for (n, case) in cases.iter().enumerate() {
        groups
            .entry(case.endpoint.function())
            .or_default()
            .push((n, case));
    }
    let agent = agent();
    let mut outcomes: Vec<(usize, Outcome)> = Vec::with_capacity(cases.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = groups
            .into_values()
            .map(|group| {
                let agent = agent.clone();
                scope.spawn(move || {
                    group
                        .into_iter()
                        .map(|(n, case)| (n, run_case(stack, &agent, case)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            match handle.join() {
                Ok(done) => outcomes.extend(done),
                Err(_) => outcomes.push((
                    usize::MAX,
                    Outcome {
                        function: "-",
                        category: "-",
                        name: "a sending thread panicked".into(),
                        status: 0,
                        code: None,
                        problems: vec!["a sending thread panicked".into()],
                    },
                )),
            }
        }
    });
    outcomes.sort_by_key(|(n, _)| *n);
    outcomes.into_iter().map(|(_, o)| o).collect()
}
