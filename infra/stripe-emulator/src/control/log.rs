//! The log of `/v1` requests (`GET /_emulator/requests`), in arrival order.

use serde::Serialize;
use std::time::Duration;

/// One `/v1` request as received; `status` is filled in when it is answered.
#[derive(Debug, Clone, Serialize)]
pub struct LoggedRequest {
    #[serde(skip)]
    seq: u64,
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub query: String,
    pub stripe_version: Option<String>,
    pub idempotency_key: Option<String>,
    pub status: Option<u16>,
    pub idempotent_replayed: bool,
    pub body: String,
    /// Arrival, in microseconds since the Unix epoch, and time to answer (injected latency
    /// included): what benchmarks read sequential round trips and waits from.
    pub received_at_us: u64,
    pub elapsed_us: Option<u64>,
}

#[derive(Debug, Default)]
pub struct RequestLog {
    next: u64,
    entries: Vec<LoggedRequest>,
}

impl LoggedRequest {
    pub fn arrived(
        request_id: &str,
        method: &str,
        path: &str,
        query: &str,
        stripe_version: Option<&str>,
        idempotency_key: Option<&str>,
        body: &str,
    ) -> Self {
        Self {
            seq: 0,
            request_id: request_id.to_owned(),
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            stripe_version: stripe_version.map(str::to_owned),
            idempotency_key: idempotency_key.map(str::to_owned),
            status: None,
            idempotent_replayed: false,
            body: body.to_owned(),
            received_at_us: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
            elapsed_us: None,
        }
    }
}

impl RequestLog {
    /// Records arrival (so the log is in arrival order even when answers interleave) and
    /// returns the handle for [`RequestLog::finish`].
    pub fn push(&mut self, mut entry: LoggedRequest) -> u64 {
        self.next += 1;
        entry.seq = self.next;
        self.entries.push(entry);
        self.next
    }

    pub fn finish(&mut self, seq: u64, status: u16, replayed: bool, elapsed: Duration) {
        if let Some(entry) = self.entries.iter_mut().rev().find(|e| e.seq == seq) {
            entry.status = Some(status);
            entry.idempotent_replayed = replayed;
            entry.elapsed_us = Some(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn entries(&self) -> &[LoggedRequest] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_keeps_arrival_order() {
        let mut log = RequestLog::default();
        let a = log.push(LoggedRequest::arrived(
            "req_a",
            "POST",
            "/v1/a",
            "",
            None,
            Some("k"),
            "x=1",
        ));
        let b = log.push(LoggedRequest::arrived(
            "req_b",
            "GET",
            "/v1/b",
            "q=1",
            Some("2025-03-31.basil"),
            None,
            "",
        ));
        log.finish(b, 200, false, Duration::ZERO);
        log.finish(a, 400, true, Duration::ZERO);
        let entries = log.entries();
        assert_eq!(entries[0].path, "/v1/a");
        assert_eq!(entries[0].status, Some(400));
        assert!(entries[0].idempotent_replayed);
        assert_eq!(entries[1].status, Some(200));
    }
}
