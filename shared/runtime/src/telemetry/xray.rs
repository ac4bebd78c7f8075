//! X-Ray subsegments for the Stripe and DynamoDB calls, so the trace Lambda starts (`Tracing:
//! Active`) shows where a request spent its time. Each call, when it ends, is sent as an
//! independent subsegment document to the X-Ray daemon Lambda runs beside the function (UDP, at
//! `AWS_XRAY_DAEMON_ADDRESS`), under the function's segment (the `Parent` of the invocation's
//! trace header), and only for sampled traces ("Sending trace data to AWS X-Ray", X-Ray developer
//! guide: a subsegment sent on its own has `type: subsegment`, `trace_id` and `parent_id`; the
//! daemon takes `{"format": "json", "version": 1}` and a newline before each document).

use std::net::UdpSocket;
use std::time::{SystemTime, UNIX_EPOCH};

/// The daemon's datagram header.
const HEADER: &str = "{\"format\": \"json\", \"version\": 1}\n";

/// `Root=…;Parent=…;Sampled=1` of an invocation, when it is sampled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Trace {
    pub(crate) root: String,
    pub(crate) parent: String,
}

impl Trace {
    /// The trace to add to, or `None` when the header is missing parts or not sampled.
    pub(crate) fn sampled(header: &str) -> Option<Self> {
        let (mut root, mut parent, mut sampled) = (None, None, false);
        for part in header.split(';').map(str::trim) {
            match part.split_once('=') {
                Some(("Root", v)) => root = Some(v),
                Some(("Parent", v)) => parent = Some(v),
                Some(("Sampled", v)) => sampled = v == "1",
                _ => {}
            }
        }
        match (root, parent, sampled) {
            (Some(root), Some(parent), true) => Some(Self {
                root: root.to_owned(),
                parent: parent.to_owned(),
            }),
            _ => None,
        }
    }
}

/// One finished call.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    /// `Stripe` or `DynamoDB`.
    pub(crate) name: &'static str,
    /// The AWS operation (`GetItem`) or the HTTP method of a Stripe call.
    pub(crate) operation: &'a str,
    pub(crate) started: SystemTime,
    pub(crate) ended: SystemTime,
}

fn seconds(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The subsegment document of `call` in `trace`.
pub(crate) fn subsegment(trace: &Trace, call: &Call<'_>) -> serde_json::Value {
    let mut doc = serde_json::json!({
        "name": call.name,
        "id": format!("{:016x}", fastrand::u64(..)),
        "trace_id": trace.root,
        "parent_id": trace.parent,
        "type": "subsegment",
        "start_time": seconds(call.started),
        "end_time": seconds(call.ended),
    });
    if call.name == "DynamoDB" {
        doc["namespace"] = "aws".into();
        doc["aws"] = serde_json::json!({ "operation": call.operation });
    } else {
        doc["namespace"] = "remote".into();
        doc["http"] = serde_json::json!({ "request": { "method": call.operation } });
    }
    doc
}

/// The daemon's socket, when `AWS_XRAY_DAEMON_ADDRESS` names one.
#[derive(Debug)]
pub(crate) struct Daemon {
    socket: UdpSocket,
}

impl Daemon {
    pub(crate) fn from_env() -> Option<Self> {
        let address = std::env::var("AWS_XRAY_DAEMON_ADDRESS").ok()?;
        // Lambda may list a TCP and a UDP address ("tcp:…:2000 udp:…:2000"): the UDP one.
        let address = address
            .split_whitespace()
            .find_map(|a| a.strip_prefix("udp:"))
            .unwrap_or(address.as_str())
            .to_owned();
        let socket = UdpSocket::bind(("0.0.0.0", 0)).ok()?;
        socket.connect(address).ok()?;
        // A full socket buffer drops the subsegment, never stalls the request.
        socket.set_nonblocking(true).ok()?;
        Some(Self { socket })
    }

    pub(crate) fn send(&self, document: &serde_json::Value) {
        let datagram = format!("{HEADER}{document}");
        // Tracing is best effort: a lost subsegment only thins the trace.
        let _ = self.socket.send(datagram.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn only_sampled_traces_with_a_parent_get_subsegments() {
        let trace = Trace::sampled(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        );
        assert_eq!(
            trace,
            Some(Trace {
                root: "1-5759e988-bd862e3fe1be46a994272793".into(),
                parent: "53995c3f42cd8ad8".into()
            })
        );
        assert_eq!(Trace::sampled("Root=1-a;Parent=b;Sampled=0"), None);
        assert_eq!(Trace::sampled("Root=1-a;Sampled=1"), None);
    }

    #[test]
    fn a_call_becomes_an_independent_subsegment_sent_with_the_daemon_header() {
        // GIVEN a daemon listening on a local port
        let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
        listener
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let daemon = Daemon {
            socket: UdpSocket::bind("127.0.0.1:0").unwrap(),
        };
        daemon
            .socket
            .connect(listener.local_addr().unwrap())
            .unwrap();
        let trace = Trace {
            root: "1-abc".into(),
            parent: "0123456789abcdef".into(),
        };
        let started = UNIX_EPOCH + Duration::from_millis(1_700_000_000_000);
        let call = Call {
            name: "DynamoDB",
            operation: "GetItem",
            started,
            ended: started + Duration::from_millis(4),
        };
        // WHEN the call is sent
        daemon.send(&subsegment(&trace, &call));
        // THEN the daemon gets its header, then the subsegment
        let mut buffer = [0_u8; 2048];
        let n = listener.recv(&mut buffer).unwrap();
        let text = std::str::from_utf8(&buffer[..n]).unwrap();
        let (header, body) = text.split_once('\n').unwrap();
        assert_eq!(header, r#"{"format": "json", "version": 1}"#);
        let doc: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(doc["type"], "subsegment");
        assert_eq!(doc["trace_id"], "1-abc");
        assert_eq!(doc["parent_id"], "0123456789abcdef");
        assert_eq!(doc["aws"]["operation"], "GetItem");
        assert_eq!(doc["id"].as_str().unwrap().len(), 16);
        let (start, end) = (
            doc["start_time"].as_f64().unwrap(),
            doc["end_time"].as_f64().unwrap(),
        );
        assert!((end - start - 0.004).abs() < 1e-6, "{start} {end}");
    }
}
