//! How a case reaches its function: through the function URL of `cargo lambda watch`, or, for what
//! only API Gateway can send, as an API Gateway HTTP API (payload 2.0) event through the Lambda
//! Invoke API.

use crate::hostile::corpus::{Case, Transport};
use crate::{Result, Stack};
use serde_json::{json, Value};

/// An answer as the client saw it.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) content_type: Option<String>,
    pub(super) body: String,
    /// The runtime's invocation error (Invoke only): the handler never answered.
    pub(super) function_error: Option<String>,
}

pub(super) fn send(stack: &Stack, agent: &ureq::Agent, case: &Case) -> Result<Answer> {
    match case.transport {
        Transport::Url => send_url(stack, agent, case),
        Transport::Invoke { base64 } => send_event(stack, agent, case, base64),
    }
}

fn send_url(stack: &Stack, agent: &ureq::Agent, case: &Case) -> Result<Answer> {
    let url = stack.functions.endpoint_url(case.endpoint);
    let mut request = ureq::http::Request::builder().method(case.method).uri(url);
    for (name, value) in &case.headers {
        request = request.header(name.as_str(), ureq::http::HeaderValue::from_bytes(value)?);
    }
    let mut response = if case.body.is_empty() {
        agent.run(request.body(())?)?
    } else {
        agent.run(request.body(case.body.clone())?)?
    };
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let status = response.status().as_u16();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(1 << 24)
        .read_to_vec()?;
    Ok(Answer {
        status,
        content_type,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        function_error: None,
    })
}

/// As API Gateway's HTTP API (payload format 2.0) would invoke the function.
fn send_event(stack: &Stack, agent: &ureq::Agent, case: &Case, base64: bool) -> Result<Answer> {
    let (function, route) = (case.endpoint.function(), case.endpoint.route());
    let route_key = format!("{} {route}", case.endpoint.method());
    let mut headers = serde_json::Map::new();
    for (name, value) in &case.headers {
        headers.insert(
            name.to_ascii_lowercase(),
            Value::String(String::from_utf8_lossy(value).into_owned()),
        );
    }
    let event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": route,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "hostile", "domainName": "hostile.example",
            "domainPrefix": "hostile", "requestId": format!("hostile-{}", case.name.len()),
            "routeKey": route_key, "stage": "$default",
            "time": "01/Jan/2030:00:00:00 +0000", "timeEpoch": 1_893_456_000_000_u64,
            "http": { "method": case.method, "path": route, "protocol": "HTTP/1.1",
                      "sourceIp": "203.0.113.7", "userAgent": "hostile-corpus" }
        },
        "body": String::from_utf8_lossy(&case.body),
        "isBase64Encoded": base64,
    });
    let root = stack
        .functions
        .url(function, "")
        .split("/lambda-url/")
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut response = agent
        .post(format!(
            "{root}/2015-03-31/functions/{function}/invocations"
        ))
        .send_json(&event)?;
    let invoke_status = response.status().as_u16();
    let text = response.body_mut().read_to_string()?;
    let payload: Value = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
    if invoke_status != 200 || payload.get("errorType").is_some() {
        // API Gateway answers a function error with 502 {"message":"Internal server error"}.
        return Ok(Answer {
            status: 502,
            content_type: Some("application/json".into()),
            body: json!({ "message": "Internal server error" }).to_string(),
            function_error: Some(format!(
                "{}: {}",
                payload["errorType"].as_str().unwrap_or("invoke failed"),
                payload["errorMessage"].as_str().unwrap_or(&text)
            )),
        });
    }
    let status = payload["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or(0);
    let content_type = payload["headers"]["content-type"]
        .as_str()
        .map(str::to_owned);
    let body = payload["body"].as_str().unwrap_or_default().to_owned();
    let mut answer = Answer {
        status,
        content_type,
        body,
        function_error: None,
    };
    if payload["isBase64Encoded"] == true {
        answer.body = format!("(base64 response) {}", answer.body);
    }
    Ok(answer)
}
