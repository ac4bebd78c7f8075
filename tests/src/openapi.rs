//! The OpenAPI validator the conformance test checks every answer with: hand-written for the JSON
//! Schema subset openapi.yaml uses; a keyword outside that subset is an error, so the spec cannot
//! grow a rule that silently goes unchecked.

use crate::{Reply, Result};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};

pub const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Keywords that only document; everything else must be understood by [`Spec::validate`].
pub const ANNOTATIONS: [&str; 5] = ["description", "title", "example", "examples", "deprecated"];

/// openapi.yaml, parsed once per test.
#[derive(Debug)]
pub struct Spec {
    pub doc: Value,
}

impl Spec {
    pub fn load() -> Self {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let doc = serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        Self { doc }
    }

    /// What a local `$ref` (`#/a/b~1c`) names.
    pub fn resolve(&self, reference: &str) -> std::result::Result<&Value, String> {
        let pointer = reference
            .strip_prefix('#')
            .ok_or_else(|| format!("only local $refs are supported: {reference}"))?;
        self.doc
            .pointer(pointer)
            .ok_or_else(|| format!("dangling $ref {reference}"))
    }

    /// The node itself, or what it names when it is a `{$ref: …}`.
    pub fn deref<'a>(&'a self, node: &'a Value) -> std::result::Result<&'a Value, String> {
        match node.get("$ref").and_then(Value::as_str) {
            None => Ok(node),
            Some(reference) => self.resolve(reference),
        }
    }

    /// The responses a path gives to a method: its operation's, or `x-other-methods`' for a method
    /// the path does not route.
    pub fn responses(
        &self,
        path: &str,
        method: &str,
    ) -> std::result::Result<&Map<String, Value>, String> {
        let item = self.doc["paths"]
            .get(path)
            .ok_or_else(|| format!("openapi.yaml has no path {path}"))?;
        let responses = match item.get(method.to_ascii_lowercase().as_str()) {
            Some(operation) => &operation["responses"],
            None => &self.deref(&item["x-other-methods"])?["responses"],
        };
        responses
            .as_object()
            .ok_or_else(|| format!("openapi.yaml: no responses for {method} {path}"))
    }

    pub fn response(
        &self,
        path: &str,
        method: &str,
        status: u16,
    ) -> std::result::Result<&Value, String> {
        let response = self
            .responses(path, method)?
            .get(&status.to_string())
            .ok_or_else(|| {
                format!("status {status} is not a documented answer to {method} {path}")
            })?;
        self.deref(response)
    }

    /// Every problem with the headers of an answer: each one the function set must be declared for
    /// that status, with a value of the declared schema.
    pub fn check_headers(&self, path: &str, method: &str, reply: &Reply) -> Vec<String> {
        let Ok(response) = self.response(path, method, reply.status) else {
            return Vec::new(); // check() reports the undocumented status
        };
        let retry_after = reply.retry_after.as_deref().map(|v| {
            v.parse::<u64>()
                .map_or_else(|_| json!(v), |seconds| json!(seconds))
        });
        let present = [
            ("Retry-After", retry_after),
            ("Idempotent-Replayed", reply.replayed.then(|| json!("true"))),
        ];
        let mut errors = Vec::new();
        for (name, value) in present {
            let Some(value) = value else { continue };
            match response
                .pointer(&format!("/headers/{name}"))
                .map(|h| self.deref(h))
            {
                Some(Ok(header)) => self.validate(&header["schema"], &value, name, &mut errors),
                Some(Err(error)) => errors.push(error),
                None => errors.push(format!(
                    "header {name} is not declared for status {}",
                    reply.status
                )),
            }
        }
        errors
    }

    /// Every problem with answering `method path` by `status` + `body` (empty = conforms).
    pub fn check(&self, path: &str, method: &str, status: u16, body: &Value) -> Vec<String> {
        let schema = self.response(path, method, status).and_then(|response| {
            response
                .pointer("/content/application~1json/schema")
                .ok_or_else(|| format!("{method} {path} {status} has no application/json schema"))
        });
        match schema {
            Ok(schema) => {
                let mut errors = Vec::new();
                self.validate(schema, body, "$", &mut errors);
                errors
            }
            Err(error) => vec![error],
        }
    }

    pub fn validate(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let Some(schema) = schema.as_object() else {
            errors.push(format!("{at}: schema is not an object: {schema}"));
            return;
        };
        for (keyword, rule) in schema {
            match keyword.as_str() {
                "$ref" => match self.resolve(rule.as_str().unwrap_or_default()) {
                    Ok(target) => self.validate(target, value, at, errors),
                    Err(error) => errors.push(error),
                },
                "allOf" => {
                    for sub in rule.as_array().into_iter().flatten() {
                        self.validate(sub, value, at, errors);
                    }
                }
                "oneOf" => {
                    let subs = rule.as_array().map(Vec::as_slice).unwrap_or_default();
                    let mut failures = Vec::new();
                    for sub in subs {
                        let mut sub_errors = Vec::new();
                        self.validate(sub, value, at, &mut sub_errors);
                        failures.push(sub_errors);
                    }
                    let passed = failures.iter().filter(|f| f.is_empty()).count();
                    if passed != 1 {
                        errors.push(format!(
                            "{at}: matches {passed} of the oneOf schemas (want 1): {failures:?}"
                        ));
                    }
                }
                "type" => {
                    let allowed: Vec<&str> = match rule {
                        Value::String(one) => vec![one.as_str()],
                        other => other
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .collect(),
                    };
                    if !allowed.iter().any(|t| has_type(value, t)) {
                        errors.push(format!("{at}: {value} is not of type {allowed:?}"));
                    }
                }
                "enum" => {
                    if !rule
                        .as_array()
                        .is_some_and(|options| options.contains(value))
                    {
                        errors.push(format!("{at}: {value} is not one of {rule}"));
                    }
                }
                "const" => {
                    if rule != value {
                        errors.push(format!("{at}: {value} is not {rule}"));
                    }
                }
                "required" => {
                    for name in rule
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        if value.is_object() && value.get(name).is_none() {
                            errors.push(format!("{at}: required field `{name}` is missing"));
                        }
                    }
                }
                "properties" => {
                    let (Some(fields), Some(rules)) = (value.as_object(), rule.as_object()) else {
                        continue;
                    };
                    for (name, field) in fields {
                        if let Some(field_schema) = rules.get(name) {
                            self.validate(field_schema, field, &format!("{at}.{name}"), errors);
                        }
                    }
                }
                "additionalProperties" => {
                    let Some(fields) = value.as_object() else {
                        continue;
                    };
                    let declared = schema.get("properties").and_then(Value::as_object);
                    for (name, field) in fields {
                        if declared.is_some_and(|d| d.contains_key(name)) {
                            continue;
                        }
                        match rule {
                            Value::Bool(true) => {}
                            Value::Bool(false) => {
                                errors.push(format!("{at}: field `{name}` is not allowed"));
                            }
                            sub => self.validate(sub, field, &format!("{at}.{name}"), errors),
                        }
                    }
                }
                "items" => {
                    for (n, item) in value.as_array().into_iter().flatten().enumerate() {
                        self.validate(rule, item, &format!("{at}[{n}]"), errors);
                    }
                }
                "pattern" => {
                    let Some(text) = value.as_str() else { continue };
                    match rule.as_str().map(regex_lite::Regex::new) {
                        Some(Ok(regex)) if regex.is_match(text) => {}
                        Some(Ok(_)) => errors.push(format!("{at}: {value} does not match {rule}")),
                        _ => errors.push(format!("{at}: bad pattern {rule}")),
                    }
                }
                "minItems" | "maxItems" => {
                    let (Some(items), Some(limit)) = (value.as_array(), rule.as_u64()) else {
                        continue;
                    };
                    let count = u64::try_from(items.len()).unwrap_or(u64::MAX);
                    if (keyword == "minItems" && count < limit)
                        || (keyword == "maxItems" && count > limit)
                    {
                        errors.push(format!("{at}: {count} items break {keyword} {limit}"));
                    }
                }
                "minLength" | "maxLength" => {
                    let (Some(text), Some(limit)) = (value.as_str(), rule.as_u64()) else {
                        continue;
                    };
                    let length = u64::try_from(text.chars().count()).unwrap_or(u64::MAX);
                    let ok = if keyword == "minLength" {
                        length >= limit
                    } else {
                        length <= limit
                    };
                    if !ok {
                        errors.push(format!("{at}: length {length} breaks {keyword} {limit}"));
                    }
                }
                "minimum" | "maximum" => {
                    let (Some(n), Some(limit)) = (value.as_f64(), rule.as_f64()) else {
                        continue;
                    };
                    if (keyword == "minimum" && n < limit) || (keyword == "maximum" && n > limit) {
                        errors.push(format!("{at}: {n} breaks {keyword} {limit}"));
                    }
                }
                other if ANNOTATIONS.contains(&other) => {}
                other => errors.push(format!(
                    "{at}: openapi.yaml uses `{other}`, which this validator does not check"
                )),
            }
        }
    }

    /// The error codes a response may carry: every `code` enum reachable from its schema.
    pub fn codes(&self, response: &Value) -> BTreeSet<String> {
        fn walk(spec: &Spec, node: &Value, codes: &mut BTreeSet<String>) {
            let Ok(node) = spec.deref(node) else { return };
            if let Some(options) = node
                .pointer("/properties/code/enum")
                .and_then(Value::as_array)
            {
                codes.extend(options.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            for key in ["allOf", "oneOf"] {
                for sub in node
                    .get(key)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    walk(spec, sub, codes);
                }
            }
        }
        let mut codes = BTreeSet::new();
        if let Ok(response) = self.deref(response) {
            if let Some(schema) = response.pointer("/content/application~1json/schema") {
                walk(self, schema, &mut codes);
            }
        }
        codes
    }

    /// status -> codes of the answers the function itself gives to `method path` (API Gateway's own
    /// answers, marked `x-answered-by: api-gateway`, cannot happen locally).
    pub fn function_answers(
        &self,
        path: &str,
        method: &str,
    ) -> Result<BTreeMap<u16, BTreeSet<String>>> {
        let mut answers = BTreeMap::new();
        for (status, response) in self.responses(path, method)? {
            let response = self.deref(response)?;
            if response["x-answered-by"] == "api-gateway" {
                continue;
            }
            answers.insert(status.parse()?, self.codes(response));
        }
        Ok(answers)
    }
}

pub fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    }
}
