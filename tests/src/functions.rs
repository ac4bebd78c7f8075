//! The built functions behind `cargo lambda watch --only-lambda-apis`, and how tests call them.

use crate::client::{agent, read};
use crate::process::{alive, binary, free_port, log_file, logged_to, Managed};
use crate::{Endpoint, Result};
use serde_json::Value;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `http://127.0.0.1:PORT/lambda-url/<function>/`.
/// cargo-lambda's runtime emulation with the named functions attached, reachable on
#[derive(Debug)]
pub struct Functions {
    base: String,
    agent: ureq::Agent,
    // Functions first: they are stopped before the runtime they poll.
    functions: Vec<Managed>,
    runtime: Managed,
    /// Each function instance's JSON log (stdout).
    logs: Vec<PathBuf>,
    /// What every instance is started with: the runtime's port and the environment.
    port: u16,
    env: Vec<(String, String)>,
}

/// A function process started alone, after the rest of the stack (see [`Functions::cold_instance`]).
#[derive(Debug)]
pub struct ColdInstance {
    /// The function it runs as.
    pub name: String,
    /// Its own `init_us` (the `ready` log line): configuration, clients, catalog.
    pub init_us: u64,
    /// From spawning the process to that line.
    pub spawn_to_ready: Duration,
    _process: Managed,
}

/// A function's answer with the headers the tests look at.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub replayed: bool,
    pub retry_after: Option<String>,
}

impl Reply {
    fn read(mut response: ureq::http::Response<ureq::Body>) -> Result<Self> {
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let replayed = header("idempotent-replayed").as_deref() == Some("true");
        let retry_after = header("retry-after");
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string()?;
        Ok(Self {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
            replayed,
            retry_after,
        })
    }
}

impl Functions {
    /// Starts `instances` processes of each function; each polls cargo-lambda for its next
    /// invocation, so they run in parallel, like Lambda scaling out. `--concurrency` stays at 1:
    /// above it cargo-lambda (1.9) starts `cargo run` instances of its own whenever an invocation
    /// waits, even with `--only-lambda-apis`, and invocations get cut off mid-flight ("Peer
    /// disconnected").
    pub fn start(names: &[&str], env: &[(&str, &str)], instances: usize) -> Result<Self> {
        let port = free_port();
        let mut watch = Command::new("cargo-lambda");
        watch
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            // cargo-lambda also ends a function's wait for its next invocation after this long,
            // and the Rust runtime exits on that answer: a function idle for longer would be
            // gone. Lambda's own limit (15 min) keeps idle functions alive through long runs.
            .args(["--timeout", "900"])
            .stdin(Stdio::null())
            .stdout(log_file("cargo-lambda-watch-stdout"))
            .stderr(log_file("cargo-lambda-watch"));
        let runtime = Managed::spawn("cargo lambda watch", watch);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("cargo lambda watch did not start listening within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut logs = Vec::new();
        let functions = names
            .iter()
            .flat_map(|name| std::iter::repeat_n(*name, instances.max(1)))
            .map(|name| {
                let (process, log) = spawn_function(name, name, port, env);
                logs.push(log);
                process
            })
            .collect();
        Ok(Self {
            base: format!("http://127.0.0.1:{port}/lambda-url"),
            agent: agent(),
            functions,
            runtime,
            logs,
            port,
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        })
    }

    /// Stops every running instance of `function` (e.g. before measuring a cold one).
    pub fn stop(&mut self, function: &str) {
        self.functions.retain(|f| f.name != function);
    }

    /// Starts a new process of `binary` and waits for its `ready` log line: what a cold start
    /// costs. Stop the other instances first for it to get the next invocation.
    pub fn cold_instance(&self, binary: &str) -> Result<ColdInstance> {
        let name = binary.to_owned();
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let spawned = Instant::now();
        let (process, log) = spawn_function(binary, &name, self.port, &env);
        let deadline = spawned + Duration::from_secs(10);
        loop {
            let ready = std::fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                .find(|line| line["message"] == "ready")
                .and_then(|line| line["init_us"].as_u64());
            if let Some(init_us) = ready {
                let spawn_to_ready = spawned.elapsed();
                // Its first poll for an invocation follows at once; let it register.
                std::thread::sleep(Duration::from_millis(50));
                return Ok(ColdInstance {
                    name,
                    init_us,
                    spawn_to_ready,
                    _process: process,
                });
            }
            if Instant::now() > deadline {
                return Err(format!("{binary} was not ready within 10 s").into());
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// The process ids of `function`'s instances (benchmarks read their CPU time and memory).
    pub fn pids(&self, function: &str) -> Vec<u32> {
        self.functions
            .iter()
            .filter(|f| f.name == function)
            .map(|f| f.child.id())
            .collect()
    }

    /// Every JSON log line of every instance, each tagged with `"instance": <index>`.
    pub fn log_lines(&self) -> Vec<Value> {
        self.logs
            .iter()
            .enumerate()
            .flat_map(|(instance, path)| {
                std::fs::read_to_string(path)
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|line| serde_json::from_str::<Value>(line).ok())
                    .map(|mut line| {
                        line["instance"] = instance.into();
                        line
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The `responded` log line of every request, in each instance's order.
    pub fn responses_logged(&self) -> Vec<Value> {
        self.log_lines()
            .into_iter()
            .filter(|l| l["message"] == "responded")
            .collect()
    }

    /// Invokes a non-HTTP function (like a schedule would) through the Lambda Invoke API.
    pub fn invoke(&self, function: &str, payload: &Value) -> Result<Value> {
        let root = self.base.trim_end_matches("/lambda-url");
        let response = self
            .agent
            .post(format!(
                "{root}/2015-03-31/functions/{function}/invocations"
            ))
            .send_json(payload)
            .map_err(|e| self.lost(&format!("invoking {function}"), &e))?;
        let (status, body) = read(response)?;
        if status != 200 {
            return Err(format!("invoking {function}: {status} {body}").into());
        }
        Ok(body)
    }

    /// A call to the runtime that got no answer, with whether the runtime is still running.
    fn lost(&self, what: &str, error: &ureq::Error) -> String {
        let runtime = if alive(self.runtime.child.id()) {
            "cargo lambda watch still runs"
        } else {
            "cargo lambda watch has exited"
        };
        format!("{what}: {error} ({runtime})")
    }

    /// The function URL of `function` at `path`.
    pub fn url(&self, function: &str, path: &str) -> String {
        format!("{}/{function}{path}", self.base)
    }

    /// POSTs a raw body with extra headers.
    pub fn send(
        &self,
        function: &str,
        path: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Result<Reply> {
        let mut request = self
            .agent
            .post(self.url(function, path))
            .header("Content-Type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Reply::read(request.send(body)?)
    }

    /// POSTs `body` to `endpoint` with this Content-Type, or none.
    pub fn send_as(
        &self,
        endpoint: Endpoint,
        content_type: Option<&str>,
        body: &str,
    ) -> Result<Reply> {
        let mut request = self.agent.post(self.endpoint_url(endpoint));
        if let Some(content_type) = content_type {
            request = request.header("Content-Type", content_type);
        }
        Reply::read(request.send(body)?)
    }

    /// GETs `endpoint`'s route from its function URL.
    pub fn get(&self, endpoint: Endpoint) -> Result<Reply> {
        Reply::read(self.agent.get(self.endpoint_url(endpoint)).call()?)
    }

    /// The function URL of `endpoint` at its route.
    pub fn endpoint_url(&self, endpoint: Endpoint) -> String {
        self.url(endpoint.function(), endpoint.route())
    }

    /// POSTs a JSON body with extra headers to `endpoint` at its route.
    pub fn call(&self, endpoint: Endpoint, body: &str, headers: &[(&str, &str)]) -> Result<Reply> {
        self.send(endpoint.function(), endpoint.route(), body, headers)
    }
}

/// One function process polling cargo-lambda's runtime on `port` as `name`; returns it and its
/// JSON log (stdout).
fn spawn_function(
    binary_name: &str,
    name: &str,
    port: u16,
    env: &[(&str, &str)],
) -> (Managed, PathBuf) {
    let mut command = Command::new(binary(binary_name));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("http://127.0.0.1:{port}/.rt/{name}"),
        )
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stderr(log_file(&format!("{name}-stderr")));
    let (stdout, path) = logged_to(name);
    command.stdout(stdout);
    (Managed::spawn(name, command), path)
}
