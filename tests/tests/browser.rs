//! The example page (`web/`) in headless Chromium against the local stack: the page creates its
//! cart through create-session, then `web/test/browser.mjs` (Playwright) changes the interval,
//! steps quantities, runs into the stock and the bounds, and adds cross-sells, checking after each
//! click that the page shows what the function answered; then it retries clicks with their
//! Idempotency-Key through a lost answer, a 409 with Retry-After and Stripe faults (the
//! emulator's fault injection). This test serves `web/` on 127.0.0.1,
//! runs the script, and checks the cart it ended with is the cart Stripe and the stock hold.
//!
//! Needs Debian's Chromium and `web/node_modules`: `web/ensure-browser.sh` installs them when
//! missing (this test runs it first; it says nothing when they are there).

use e2e_tests::{Endpoint, Result, Stack, GA_VERSION, MUG_SKU, TEE_SKU};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Units of the T-shirt in stock: the page's cart holds 2, so the 4th is refused.
const TEE_STOCK: u64 = 3;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// `target/e2e-logs`, beside the other e2e tests' logs (this binary is in `target/debug/deps`).
fn logs_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe
        .ancestors()
        .find(|d| d.file_name().is_some_and(|n| n == "deps"))
        .and_then(Path::parent)
        .map(|d| d.join("..").join("e2e-logs"))
        .unwrap_or_else(|| repo_root().join("target/e2e-logs"));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// A child in its own process group: dropping it stops the group (node takes Chromium with it).
#[derive(Debug)]
struct Guard {
    name: &'static str,
    child: Child,
}

impl Guard {
    fn spawn(name: &'static str, mut command: Command) -> Result<Self> {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        Ok(Self { name, child })
    }

    /// Waits for the exit status, stopping the process when `limit` passes first.
    fn wait(&mut self, limit: Duration) -> Result<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                return Err(format!("{} still ran after {limit:?}: stopped", self.name).into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            // The leader is gone; its group may not be (Chromium under node).
            self.signal("-KILL");
            return;
        }
        self.signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                self.signal("-KILL");
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.signal("-KILL");
        let _ = self.child.wait();
    }
}

/// Installs Chromium and `web/node_modules` when missing (quiet and quick when present).
fn ensure_browser() -> Result {
    let mut command = Command::new("bash");
    command
        .arg(repo_root().join("web/ensure-browser.sh"))
        .stdin(Stdio::null());
    let mut install = Guard::spawn("web/ensure-browser.sh", command)?;
    let status = install.wait(Duration::from_secs(600))?;
    if !status.success() {
        return Err(
            format!("web/ensure-browser.sh failed ({status}); see its output above").into(),
        );
    }
    Ok(())
}

/// `python3 -m http.server` serving `web/` on a free port of 127.0.0.1; its base URL.
fn serve_web() -> Result<(Guard, String)> {
    let log =
        std::fs::File::create(logs_dir().join(format!("web-server-{}.log", std::process::id())))?;
    let mut command = Command::new("python3");
    command
        // Port 0: the kernel picks a free one and the banner says which.
        .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1"])
        .arg("--directory")
        .arg(repo_root().join("web"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log);
    let mut server = Guard::spawn("web server", command)?;
    let stdout = server.child.stdout.take().ok_or("web server stdout")?;
    // The banner comes at once; a reader thread keeps a silent server from blocking the test.
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let line = receiver
        .recv_timeout(Duration::from_secs(10))
        .map_err(|_| "the web server did not start within 10 s")?;
    // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
    let port = line
        .split_whitespace()
        .skip_while(|w| *w != "port")
        .nth(1)
        .and_then(|p| p.parse::<u16>().ok())
        .ok_or_else(|| format!("unexpected web server banner: {line:?}"))?;
    Ok((server, format!("http://127.0.0.1:{port}")))
}

/// The response headers the deployed HTTP API lets a page read (template.yaml's
/// `x-amazon-apigateway-cors.exposeHeaders`): `cargo lambda watch` exposes none, so the page's
/// test adds these to the functions' answers as API Gateway would.
fn deployed_expose_headers() -> Result<Vec<String>> {
    let text = std::fs::read_to_string(repo_root().join("template.yaml"))?;
    let template: serde_norway::Value = serde_norway::from_str(&text)?;
    let headers = template["Resources"]["HttpApi"]["Properties"]["DefinitionBody"]
        ["x-amazon-apigateway-cors"]["exposeHeaders"]
        .as_sequence()
        .ok_or("template.yaml: HttpApi has no x-amazon-apigateway-cors.exposeHeaders")?
        .iter()
        .filter_map(|h| h.as_str().map(str::to_owned))
        .collect();
    Ok(headers)
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters stay).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The browser's CORS preflight for a page on `origin` calling `url` with our two headers.
fn preflight(url: &str, origin: &str) -> Result<(u16, String, String)> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let response = agent
        .options(url)
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "content-type,idempotency-key",
        )
        .call()?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    Ok((
        response.status().as_u16(),
        header("access-control-allow-origin"),
        header("access-control-allow-headers"),
    ))
}

#[test]
fn the_example_page_changes_the_cart_in_headless_chromium() -> Result {
    ensure_browser()?;
    // Two instances of each function: a retry of a click runs beside the attempt it repeats, as
    // Lambda scales out. Functions wait 8 s for Stripe: the page's lost-answer step slows one
    // Stripe update to 4.5 s, and it must still be applied.
    let stack = Stack::builder(GA_VERSION)
        .env(&[("STRIPE_TIMEOUT_MS", "8000")])
        .instances(2)
        .start()?;
    stack.dynamo.receive(TEE_SKU, TEE_STOCK)?;
    stack.dynamo.receive(MUG_SKU, 2)?;
    let c = &stack.catalog;
    let (_server, origin) = serve_web()?;

    // cargo lambda watch answers preflights for any origin and the headers asked for (its default
    // CORS); the deployed HTTP API allows content-type and idempotency-key (template.yaml).
    for endpoint in [
        Endpoint::CreateSession,
        Endpoint::ChangeInterval,
        Endpoint::UpdateQuantity,
        Endpoint::AddCrossSell,
    ] {
        let (status, allow_origin, allow_headers) =
            preflight(&stack.functions.endpoint_url(endpoint), &origin)?;
        assert!(
            (200..300).contains(&status)
                && (allow_origin == origin || allow_origin == "*")
                && allow_headers.contains("idempotency-key")
                && allow_headers.contains("content-type"),
            "preflight of {endpoint:?}: {status}, allow-origin {allow_origin:?}, allow-headers {allow_headers:?}"
        );
    }

    // `…/lambda-url/` + function + route is how the page builds each URL.
    let api = stack.functions.url("", "");
    let labels = [
        (c.monthly.as_str(), "Pro plan (monthly)"),
        (c.yearly.as_str(), "Pro plan (yearly)"),
        (c.tee.as_str(), "T-shirt"),
        (c.mug.as_str(), "Mug"),
        (c.support_monthly.as_str(), "Priority support"),
        (c.support_yearly.as_str(), "Priority support (yearly)"),
        (c.gift.as_str(), "Thank-you stickers (gift)"),
    ]
    .map(|(price, name)| format!("{price}:{name}"))
    .join(",");
    let url = format!(
        "{origin}/index.html?api={}&prices={}&offers={}&labels={}",
        encode(api.trim_end_matches('/')),
        encode(&format!("{}:1,{}:2", c.monthly, c.tee)),
        encode(&format!("{},{}", c.mug, c.support_monthly)),
        encode(&labels),
    );
    let spec = serde_json::json!({
        "url": url,
        "screenshotDir": logs_dir(),
        // The page's test injects Stripe faults there (POST /_emulator/faults).
        "stripe": stack.stripe.base,
        "exposeHeaders": deployed_expose_headers()?,
        "catalog": {
            "monthly": c.monthly, "yearly": c.yearly, "tee": c.tee,
            "offer": c.mug, "addon": c.support_monthly,
        },
        // Unit amounts as Catalog::seed prices them, in cents.
        "amounts": { "monthly": 1500, "yearly": 15000, "tee": 2500, "offer": 1200, "addon": 500 },
    });

    let output_path = logs_dir().join(format!("browser-{}.log", std::process::id()));
    let output = std::fs::File::create(&output_path)?;
    let mut command = Command::new("node");
    command
        .arg(repo_root().join("web/test/browser.mjs"))
        .arg(spec.to_string())
        .current_dir(repo_root().join("web"))
        .stdin(Stdio::null())
        .stdout(output.try_clone()?)
        .stderr(output);
    let started = Instant::now();
    let mut browser = Guard::spawn("node web/test/browser.mjs", command)?;
    // The script bounds itself at 170 s; this is the backstop.
    let status = browser.wait(Duration::from_secs(200));
    let printed = std::fs::read_to_string(&output_path).unwrap_or_default();
    eprintln!(
        "--- node web/test/browser.mjs ({:.1} s, {}) ---\n{printed}---",
        started.elapsed().as_secs_f64(),
        output_path.display()
    );
    let status = status?;
    assert!(
        status.success(),
        "browser.mjs failed ({status}): see its output above"
    );

    // The cart the page ended with is the one Stripe holds, and its T-shirts are the ones held.
    let result: Value = printed
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .ok_or("browser.mjs printed no RESULT line")
        .and_then(|json| serde_json::from_str(json).map_err(|_| "RESULT is not JSON"))?;
    let id = result["session"].as_str().ok_or("no session id")?;
    let stored = stack.stripe.session(id)?;
    // (price, quantity) per line: the page's `price` is an id, Stripe's an expanded price.
    let lines = |items: &Value| -> Vec<(String, i64)> {
        items
            .as_array()
            .into_iter()
            .flatten()
            .map(|li| {
                let price = li["price"]["id"].as_str().or(li["price"].as_str());
                (
                    price.unwrap_or_default().to_owned(),
                    li["quantity"].as_i64().unwrap_or(-1),
                )
            })
            .collect()
    };
    assert_eq!(
        lines(&result["items"]),
        lines(&stored["line_items"]["data"]),
        "the page shows another cart than Stripe's"
    );
    assert_eq!(result["total"], stored["amount_total"]);
    for (sku, in_cart) in [(TEE_SKU, 3), (MUG_SKU, 1)] {
        let stock = stack.dynamo.stock(sku)?;
        stock.assert_balanced(sku);
        assert_eq!(stock.held, in_cart, "{sku}: what the cart holds is held");
    }
    Ok(())
}
