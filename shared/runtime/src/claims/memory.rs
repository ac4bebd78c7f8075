//! An in-memory [`ClaimStore`] with the same conditional semantics as the DynamoDB one, for
//! in-process tests.

use super::store::{
    Claim, ClaimOutcome, ClaimStore, LeaseEnd, Record, RecordEnd, RecordStatus, StoreError,
};
use std::collections::HashMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub(crate) struct MemoryClaimStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    records: HashMap<String, (Record, String)>,
    leases: HashMap<String, (String, u64)>,
}

impl MemoryClaimStore {
    pub(crate) fn record(&self, pk: &str) -> Option<Record> {
        self.lock().records.get(pk).map(|(r, _)| r.clone())
    }

    pub(crate) fn lease_holder(&self, pk: &str) -> Option<String> {
        self.lock().leases.get(pk).map(|(h, _)| h.clone())
    }

    /// Puts a lease held by someone else, as a concurrent request would.
    pub(crate) fn hold_lease(&self, pk: &str, until_ms: u64) {
        self.lock()
            .leases
            .insert(pk.to_owned(), ("someone-else".into(), until_ms));
    }

    pub(crate) fn put_record(&self, pk: &str, record: Record) {
        self.lock()
            .records
            .insert(pk.to_owned(), (record, "someone-else".into()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl ClaimStore for MemoryClaimStore {
    async fn try_claim(&self, claim: &Claim, now_ms: u64) -> Result<ClaimOutcome, StoreError> {
        let mut state = self.lock();
        if let Some(wanted) = &claim.record {
            if let Some((existing, _)) = state.records.get(&wanted.pk) {
                let taken_over = existing.status == RecordStatus::Failed
                    && existing.stripe_generation == wanted.stripe_generation;
                if existing.is_live(now_ms) && !taken_over {
                    return Ok(ClaimOutcome::RecordExists(existing.clone()));
                }
            }
        }
        if let Some((_, until)) = state.leases.get(&claim.lease_pk) {
            if *until > now_ms {
                return Ok(ClaimOutcome::LeaseHeld { until_ms: *until });
            }
        }
        if let Some(wanted) = &claim.record {
            let record = Record {
                status: RecordStatus::InProgress,
                body_hash: wanted.body_hash.clone(),
                expiration_s: wanted.expiration_s,
                in_progress_until_ms: wanted.in_progress_until_ms,
                response: None,
                stripe_generation: wanted.stripe_generation,
            };
            state
                .records
                .insert(wanted.pk.clone(), (record, claim.holder.clone()));
        }
        state.leases.insert(
            claim.lease_pk.clone(),
            (claim.holder.clone(), claim.lease_until_ms),
        );
        Ok(ClaimOutcome::Claimed)
    }

    async fn read_record(&self, pk: &str) -> Result<Option<Record>, StoreError> {
        Ok(self.record(pk))
    }

    async fn finish(
        &self,
        claim: &Claim,
        end: RecordEnd<'_>,
        lease: LeaseEnd,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        if let Some(wanted) = &claim.record {
            let ours = matches!(state.records.get(&wanted.pk), Some((_, h)) if *h == claim.holder);
            if ours {
                match end {
                    RecordEnd::Store(response) => {
                        if let Some((record, _)) = state.records.get_mut(&wanted.pk) {
                            record.status = RecordStatus::Completed;
                            record.response = Some(response.clone());
                        }
                    }
                    RecordEnd::Failed { next_generation } => {
                        if let Some((record, _)) = state.records.get_mut(&wanted.pk) {
                            record.status = RecordStatus::Failed;
                            record.stripe_generation = next_generation;
                        }
                    }
                    RecordEnd::Forget => {
                        state.records.remove(&wanted.pk);
                    }
                }
            }
        }
        let ours = matches!(state.leases.get(&claim.lease_pk), Some((h, _)) if *h == claim.holder);
        match lease {
            LeaseEnd::Release if ours => {
                state.leases.remove(&claim.lease_pk);
            }
            LeaseEnd::KeepUntil(kept) if ours => {
                state
                    .leases
                    .insert(claim.lease_pk.clone(), (claim.holder.clone(), kept));
            }
            _ => {}
        }
        Ok(())
    }
}
