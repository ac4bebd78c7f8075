//! The local stack for black-box tests, started per test on free ports and stopped when dropped:
//!
//! - `stripe-emulator` (infra/stripe-emulator), started with `--exit-on-stdin-eof` so it dies with us;
//! - DynamoDB: moto (infra/local/moto_server.py, one request at a time) with the tables of
//!   template.yaml (infra/local/create_tables.py);
//! - `cargo lambda watch --only-lambda-apis`: cargo-lambda's Lambda runtime + function URL emulation;
//! - each function's built binary, polling that runtime API exactly as it would inside Lambda.
//!
//! Their logs land in `target/e2e-logs/`. The binaries must be built first (`cargo build --workspace --bins`; the test command does it):
//! starting them prebuilt keeps cargo-lambda from rebuilding the workspace with other features.

pub mod faults;
pub mod hostile;
pub mod lifecycle;
pub mod openapi;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// The seed's preview API version, byte for byte.
pub const PREVIEW_VERSION: &str = "2025-03-31.basil; checkout_server_update_beta=v1;";
/// A generally available version after the `custom` → `elements` rename.
pub const GA_VERSION: &str = "2026-09-30.endive";
pub const SECRET_KEY: &str = "sk_test_e2e_local";
/// The signing secret shared by the emulator's webhook endpoint and the stripe-webhook function.
pub const WEBHOOK_SECRET: &str = "whsec_e2e_local_signing_secret";

/// Test result: any error, sendable so requests can run on threads.
pub type Result<T = (), E = Box<dyn std::error::Error + Send + Sync>> = std::result::Result<T, E>;

/// `target/debug` (or wherever this binary was built), where the workspace binaries are: test
/// binaries live one level down, in `deps/`.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().map(PathBuf::from).unwrap_or_default();
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().map(PathBuf::from).unwrap_or_default()
    } else {
        dir
    }
}

fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace binaries first (`cargo build --workspace --bins`)",
        path.display()
    );
    path
}

/// Where the processes of a test write their logs: `target/e2e-logs/<name>-<pid>-<n>.log`.
fn log_file(name: &str) -> Stdio {
    logged_to(name).0
}

fn logged_to(name: &str) -> (Stdio, PathBuf) {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = bin_dir().join("..").join("e2e-logs");
    let path = dir.join(format!("{name}-{}-{n}.log", std::process::id()));
    let file = std::fs::create_dir_all(&dir).and_then(|()| std::fs::File::create(&path));
    (
        file.map(Stdio::from).unwrap_or_else(|_| Stdio::null()),
        path,
    )
}

/// Unique-enough ids without a random-number crate: time and a counter, hashed.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    hasher.finish()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// The address a local server announces as the first line of its stdout: `<banner><address>`.
pub fn listening_address(process: &mut Child, banner: &str) -> Result<String> {
    let stdout = process
        .stdout
        .take()
        .ok_or("no stdout to read the banner from")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    Ok(line
        .trim()
        .strip_prefix(banner)
        .ok_or_else(|| format!("expected {banner:?}…, got {line:?}"))?
        .to_owned())
}

/// A child process in its own process group, killed (with its children) on drop.
#[derive(Debug)]
struct Managed {
    name: String,
    child: Child,
    _stdin: Option<ChildStdin>,
}

impl Managed {
    fn spawn(name: &str, mut command: Command) -> Self {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdin = child.stdin.take();
        Self {
            name: name.to_owned(),
            child,
            _stdin: stdin,
        }
    }
}

impl Drop for Managed {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
        eprintln!("{} had to be killed", self.name);
    }
}

/// The fields of `/proc/<pid>/stat` after the command name (which is in parentheses and may
/// contain spaces): the process state first, user and system ticks at 11 and 12.
pub fn proc_stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// Whether the process runs (a zombie has exited and only waits to be reaped).
fn alive(pid: u32) -> bool {
    proc_stat_fields(pid).is_some_and(|fields| fields.first().is_some_and(|state| state != "Z"))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

fn read(mut response: ureq::http::Response<ureq::Body>) -> Result<(u16, Value)> {
    let status = response.status().as_u16();
    // Request logs of long benchmark runs exceed ureq's default 10 MB.
    let text = response
        .body_mut()
        .with_config()
        .limit(256 * 1024 * 1024)
        .read_to_string()?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok((status, body))
}

/// The Stripe emulator and a client for it (Stripe API + test control API).
#[derive(Debug)]
pub struct Emulator {
    pub base: String,
    agent: ureq::Agent,
    _process: Managed,
}

impl Emulator {
    pub fn start() -> Result<Self> {
        let mut command = Command::new(binary("stripe-emulator"));
        command
            .args(["--host", "127.0.0.1", "--port", "0", "--exit-on-stdin-eof"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file("stripe-emulator"));
        let mut process = Managed::spawn("stripe-emulator", command);
        let base = listening_address(&mut process.child, "stripe-emulator listening on ")?;
        Ok(Self {
            base,
            agent: agent(),
            _process: process,
        })
    }

    /// A Stripe API POST with a form body, as a Stripe client would send it.
    pub fn post(&self, path: &str, form: &[(&str, &str)], version: &str) -> Result<(u16, Value)> {
        let response = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {SECRET_KEY}"))
            .header("Stripe-Version", version)
            .send_form(form.iter().copied())?;
        read(response)
    }

    pub fn get(&self, path: &str, version: &str) -> Result<(u16, Value)> {
        let response = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {SECRET_KEY}"))
            .header("Stripe-Version", version)
            .call()?;
        read(response)
    }

    /// Creates an object and returns it, failing the test on any error status.
    pub fn create(&self, path: &str, form: &[(&str, &str)], version: &str) -> Result<Value> {
        match self.post(path, form, version)? {
            (200, body) => Ok(body),
            (status, body) => Err(format!("POST {path} -> {status}: {body}").into()),
        }
    }

    pub fn session(&self, id: &str) -> Result<Value> {
        match self.get(
            &format!("/v1/checkout/sessions/{id}?expand[]=line_items"),
            GA_VERSION,
        )? {
            (200, body) => Ok(body),
            (status, body) => Err(format!("GET session -> {status}: {body}").into()),
        }
    }

    /// Every /v1 request the emulator has seen, oldest first.
    pub fn requests(&self) -> Result<Vec<Value>> {
        let (_, body) = read(
            self.agent
                .get(format!("{}/_emulator/requests", self.base))
                .call()?,
        )?;
        Ok(body["data"].as_array().cloned().unwrap_or_default())
    }

    /// The requests that changed a session (`POST /v1/checkout/sessions/{id}`).
    pub fn session_updates(&self, id: &str) -> Result<Vec<Value>> {
        let path = format!("/v1/checkout/sessions/{id}");
        Ok(self
            .requests()?
            .into_iter()
            .filter(|r| r["method"] == "POST" && r["path"] == path.as_str())
            .collect())
    }

    pub fn inject_fault(&self, rule: &Value) -> Result<()> {
        let response = self
            .agent
            .post(format!("{}/_emulator/faults", self.base))
            .send_json(rule)?;
        let (status, body) = read(response)?;
        if status >= 300 {
            return Err(format!("fault rule refused: {status} {body}").into());
        }
        Ok(())
    }

    /// Completes an open session (as a paid checkout would); Stripe sends its webhook.
    /// Expires an open session through Stripe's API, as a shopper's abandoned checkout ends.
    pub fn expire_session(&self, id: &str, version: &str) -> Result<()> {
        match self.post(&format!("/v1/checkout/sessions/{id}/expire"), &[], version)? {
            (200, _) => Ok(()),
            (status, body) => Err(format!("expiring {id}: {status} {body}").into()),
        }
    }

    pub fn complete_session(&self, id: &str) -> Result<()> {
        let response = self
            .agent
            .post(format!(
                "{}/_emulator/checkout/sessions/{id}/complete",
                self.base
            ))
            .send_json(serde_json::json!({}))?;
        match read(response)? {
            (200, _) => Ok(()),
            (status, body) => Err(format!("completing {id}: {status} {body}").into()),
        }
    }

    /// Removes every fault rule: Stripe answers normally again.
    pub fn clear_faults(&self) -> Result<()> {
        self.agent
            .delete(format!("{}/_emulator/faults", self.base))
            .call()?;
        Ok(())
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// Local DynamoDB (moto) with the tables of template.yaml.
#[derive(Debug)]
pub struct Dynamo {
    pub endpoint: String,
    _process: Managed,
}

impl Dynamo {
    pub fn start() -> Result<Self> {
        Self::start_with_latency(0)
    }

    /// Like [`Dynamo::start`], every request answered `latency_ms` later (benchmarks).
    pub fn start_with_latency(latency_ms: u64) -> Result<Self> {
        let root = repo_root();
        let mut command = Command::new("python3");
        command
            .arg(root.join("infra/local/moto_server.py"))
            .args(["--port", "0", "--exit-on-stdin-eof"])
            .args(["--latency-ms", &latency_ms.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file("moto"));
        let mut process = Managed::spawn("moto", command);
        let endpoint = listening_address(&mut process.child, "moto listening on ")?;
        let created = Command::new("python3")
            .arg(root.join("infra/local/create_tables.py"))
            .args(["--endpoint", &endpoint])
            .stderr(Stdio::inherit())
            .output()?;
        if !created.status.success() {
            return Err(format!("creating tables failed: {}", created.status).into());
        }
        Ok(Self {
            endpoint,
            _process: process,
        })
    }

    /// Writes an item (DynamoDB JSON, e.g. `{"pk":{"S":"x"}}`) straight into a table, as another
    /// writer or a stale leftover would.
    pub fn put(&self, table: &str, item: &Value) -> Result<()> {
        let script = r#"
import boto3, json, sys
client = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local")
client.put_item(TableName=sys.argv[2], Item=json.loads(sys.argv[3]))
"#;
        let status = Command::new("python3")
            .args(["-c", script, &self.endpoint, table, &item.to_string()])
            .status()?;
        if !status.success() {
            return Err(format!("put_item failed: {status}").into());
        }
        Ok(())
    }

    /// An item as DynamoDB JSON (`{"pk":{"S":…},…}`), or `null` when absent.
    pub fn get(&self, table: &str, pk: &str) -> Result<Value> {
        let script = r#"
import boto3, json, sys
client = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local")
item = client.get_item(TableName=sys.argv[2], Key={"pk": {"S": sys.argv[3]}}, ConsistentRead=True)
print(json.dumps(item.get("Item")))
"#;
        let output = Command::new("python3")
            .args(["-c", script, &self.endpoint, table, pk])
            .stderr(Stdio::inherit())
            .output()?;
        if !output.status.success() {
            return Err(format!("get_item failed: {}", output.status).into());
        }
        Ok(serde_json::from_slice(&output.stdout)?)
    }

    /// Creates an SSM parameter (moto serves SSM too), a SecureString when `secure`.
    pub fn put_parameter(&self, name: &str, value: &str, secure: bool) -> Result<()> {
        let script = r#"
import boto3, sys
client = boto3.client("ssm", endpoint_url=sys.argv[1], region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local")
client.put_parameter(Name=sys.argv[2], Value=sys.argv[3],
                     Type="SecureString" if sys.argv[4] == "1" else "String", Overwrite=True)
"#;
        let status = Command::new("python3")
            .args([
                "-c",
                script,
                &self.endpoint,
                name,
                value,
                if secure { "1" } else { "0" },
            ])
            .status()?;
        if !status.success() {
            return Err(format!("put_parameter failed: {status}").into());
        }
        Ok(())
    }

    /// Puts `quantity` units of `sku` in stock (a fresh SKU item).
    pub fn receive(&self, sku: &str, quantity: u64) -> Result<()> {
        let n = |v: u64| serde_json::json!({ "N": v.to_string() });
        self.put(
            "InventoryTable",
            &serde_json::json!({
                "pk": { "S": format!("sku#{sku}") },
                "available": n(quantity), "held": n(0), "sold": n(0), "received": n(quantity),
            }),
        )
    }

    /// `(available, held, sold, received)` of a SKU (of its shard 0 when the catalog shards it).
    pub fn stock(&self, sku: &str) -> Result<(u64, u64, u64, u64)> {
        self.shard_stock(sku, 0)
    }

    /// `(available, held, sold, received)` of one shard of a SKU's stock (`sku#<SKU>` is
    /// shard 0, `sku#<SKU>#<i>` shard i); zeros when the item does not exist.
    pub fn shard_stock(&self, sku: &str, shard: u16) -> Result<(u64, u64, u64, u64)> {
        let pk = if shard == 0 {
            format!("sku#{sku}")
        } else {
            format!("sku#{sku}#{shard}")
        };
        let item = self.get("InventoryTable", &pk)?;
        let n = |name: &str| {
            item[name]["N"]
                .as_str()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok((n("available"), n("held"), n("sold"), n("received")))
    }

    /// Receives `quantity` units of `sku` with infra/local/receive_stock.py, which spreads them
    /// over the shards `catalog` (JSON) gives the SKU.
    pub fn receive_with_catalog(&self, sku: &str, quantity: u64, catalog: &str) -> Result<()> {
        let path = std::env::temp_dir().join(format!("e2e-catalog-{:016x}.json", random_u64()));
        std::fs::write(&path, catalog)?;
        let status = Command::new("python3")
            .arg(repo_root().join("infra/local/receive_stock.py"))
            .args(["--endpoint", &self.endpoint, "--sku", sku])
            .args(["--quantity", &quantity.to_string()])
            .arg("--catalog")
            .arg(&path)
            .stdout(Stdio::null())
            .status();
        let _ = std::fs::remove_file(&path);
        if !status?.success() {
            return Err("receive_stock.py failed".into());
        }
        Ok(())
    }

    /// Moves a hold's expiry into the past, as if its time had come.
    pub fn expire_hold(&self, reservation: &str, sku: &str) -> Result<()> {
        let pk = format!("hold#{reservation}#{sku}");
        let mut item = self.get("InventoryTable", &pk)?;
        if item.is_null() {
            return Err(format!("no hold {pk}").into());
        }
        item["expires_at"] = serde_json::json!({ "N": "1" });
        self.put("InventoryTable", &item)
    }

    /// The requests moto has answered: `{received_at_us, elapsed_us, target}`, oldest first.
    pub fn requests(&self) -> Result<Vec<Value>> {
        let (_, body) = read(
            agent()
                .get(format!("{}/_local/requests", self.endpoint))
                .call()?,
        )?;
        Ok(body["data"].as_array().cloned().unwrap_or_default())
    }

    /// Environment that points a function's AWS SDK at this DynamoDB.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL_DYNAMODB", self.endpoint.clone()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "local".into()),
            ("AWS_SECRET_ACCESS_KEY", "local".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("IDEMPOTENCY_TABLE", "IdempotencyTable".into()),
            ("INVENTORY_TABLE", "InventoryTable".into()),
        ]
    }
}

/// The catalog one test sells: a plan with monthly and yearly prices, two untracked one-time
/// products, and a T-shirt drawing on stock SKU `TEE` (quantities 1 to 5).
#[derive(Debug, Clone)]
pub struct Catalog {
    pub monthly: String,
    pub yearly: String,
    pub sticker: String,
    pub onboarding: String,
    pub tee: String,
    /// Cross-sell offer for any cart ($12, stock-tracked as `MUG`).
    pub mug: String,
    /// Recurring add-on offered to carts with the Pro plan, at $5/month or $50/year.
    pub support_monthly: String,
    pub support_yearly: String,
    /// Free gift for one-off carts of $50 or more.
    pub gift: String,
    /// Exclusive sales tax for US destinations (5 %) and, more specific, California (8.25 %).
    pub tax_us: String,
    pub tax_us_ca: String,
}

/// The stock-tracked SKU of [`Catalog::tee`].
pub const TEE_SKU: &str = "TEE";
/// The stock-tracked SKU of [`Catalog::mug`].
pub const MUG_SKU: &str = "MUG";

impl Catalog {
    pub fn seed(stripe: &Emulator) -> Result<Self> {
        let v = GA_VERSION;
        let plan = stripe.create("/v1/products", &[("name", "Pro plan")], v)?;
        let plan_id = plan["id"].as_str().ok_or("product id")?;
        let price = |amount: &str, interval: Option<&str>, product: &str| -> Result<String> {
            let mut form = vec![
                ("currency", "usd"),
                ("unit_amount", amount),
                ("product", product),
            ];
            if let Some(interval) = interval {
                form.push(("recurring[interval]", interval));
            }
            let created = stripe.create("/v1/prices", &form, v)?;
            Ok(created["id"].as_str().ok_or("price id")?.to_owned())
        };
        let sticker = stripe.create("/v1/products", &[("name", "Sticker pack")], v)?;
        let onboarding = stripe.create("/v1/products", &[("name", "Onboarding call")], v)?;
        let tee = stripe.create("/v1/products", &[("name", "T-shirt")], v)?;
        let mug = stripe.create("/v1/products", &[("name", "Mug")], v)?;
        let support = stripe.create("/v1/products", &[("name", "Priority support")], v)?;
        let support_id = support["id"].as_str().ok_or("product id")?;
        let gift = stripe.create("/v1/products", &[("name", "Thank-you stickers")], v)?;
        let tax_rate = |name: &str, percentage: &str, state: Option<&str>| -> Result<String> {
            let mut form = vec![
                ("display_name", name),
                ("percentage", percentage),
                ("inclusive", "false"),
                ("country", "US"),
            ];
            if let Some(state) = state {
                form.push(("state", state));
            }
            let created = stripe.create("/v1/tax_rates", &form, v)?;
            Ok(created["id"].as_str().ok_or("tax rate id")?.to_owned())
        };
        Ok(Self {
            tax_us: tax_rate("Sales tax", "5", None)?,
            tax_us_ca: tax_rate("CA sales tax", "8.25", Some("CA"))?,
            monthly: price("1500", Some("month"), plan_id)?,
            yearly: price("15000", Some("year"), plan_id)?,
            sticker: price("500", None, sticker["id"].as_str().ok_or("product id")?)?,
            onboarding: price("9900", None, onboarding["id"].as_str().ok_or("product id")?)?,
            tee: price("2500", None, tee["id"].as_str().ok_or("product id")?)?,
            mug: price("1200", None, mug["id"].as_str().ok_or("product id")?)?,
            support_monthly: price("500", Some("month"), support_id)?,
            support_yearly: price("5000", Some("year"), support_id)?,
            gift: price("0", None, gift["id"].as_str().ok_or("product id")?)?,
        })
    }

    pub fn json(&self) -> String {
        self.json_with_shards(&[])
    }

    /// [`Catalog::json`] with `inventory_shards` set to `shards` (absent when empty).
    pub fn json_with_shards(&self, shards: &[(&str, u16)]) -> String {
        let mut json = serde_json::json!({
            "plans": [
                { "id": "pro", "monthly": self.monthly, "yearly": self.yearly },
                { "id": "support", "monthly": self.support_monthly, "yearly": self.support_yearly,
                  "quantity": { "min": 1, "max": 1 } },
            ],
            "products": [
                { "price": self.sticker, "unit_amount": 500 },
                { "price": self.onboarding, "quantity": { "min": 1, "max": 1 }, "unit_amount": 9900 },
                { "price": self.tee, "sku": TEE_SKU, "quantity": { "min": 1, "max": 5 }, "unit_amount": 2500 },
                { "price": self.mug, "sku": MUG_SKU, "quantity": { "min": 1, "max": 2 }, "unit_amount": 1200 },
                { "price": self.gift, "quantity": { "min": 1, "max": 1 }, "unit_amount": 0 },
            ],
            "offers": [
                { "price": self.mug },
                { "plan": "support", "requires": ["pro"] },
            ],
            "complimentary": { "price": self.gift, "threshold": 5000 },
            // Below $50 paid: standard $5 and express $15; from $50: free standard, express $10.
            "shipping": {
                "countries": ["US", "CA"],
                "tiers": [
                    { "id": "standard", "display_name": "Standard", "amount": 500, "below": 5000,
                      "min_days": 3, "max_days": 5 },
                    { "id": "express", "display_name": "Express", "amount": 1500, "below": 5000,
                      "min_days": 1, "max_days": 2 },
                    { "id": "free", "display_name": "Free shipping", "amount": 0, "from": 5000,
                      "min_days": 3, "max_days": 5 },
                    { "id": "express_over_50", "display_name": "Express", "amount": 1000,
                      "from": 5000, "min_days": 1, "max_days": 2 },
                ],
            },
            "tax_rates": [
                { "country": "US", "tax_rate": self.tax_us },
                { "country": "US", "state": "CA", "tax_rate": self.tax_us_ca },
            ]
        });
        if !shards.is_empty() {
            json["inventory_shards"] = shards
                .iter()
                .map(|(sku, n)| ((*sku).to_owned(), Value::from(*n)))
                .collect::<serde_json::Map<_, _>>()
                .into();
        }
        json.to_string()
    }
}

/// cargo-lambda's runtime emulation with the named functions attached, reachable on
/// `http://127.0.0.1:PORT/lambda-url/<function>/`.
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

impl Functions {
    /// Starts `instances` processes of each function; each polls cargo-lambda for its next
    /// invocation, so they run in parallel, like Lambda scaling out. `--concurrency` stays at 1:
    /// above it cargo-lambda (1.9) starts `cargo run` instances of its own whenever an invocation
    /// waits, even with `--only-lambda-apis`; in the fault run that coincided with invocations cut
    /// off mid-flight ("Peer disconnected").
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
            .post(format!("{}/{function}{path}", self.base))
            .header("Content-Type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut response = request.send(body)?;
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
        Ok(Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
            replayed,
            retry_after,
        })
    }

    /// POSTs a raw body to a function URL path.
    pub fn post(&self, function: &str, path: &str, body: &str) -> Result<(u16, Value)> {
        let response = self
            .agent
            .post(format!("{}/{function}{path}", self.base))
            .header("Content-Type", "application/json")
            .send(body)?;
        read(response)
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

/// Where the functions find their secrets and catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// `STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET`, `CATALOG_JSON` (local development).
    InEnvironment,
    /// `*_PARAMETER` names of SSM parameters (how template.yaml deploys them); served by moto.
    InParameterStore,
}

/// Emulator + catalog + the change-interval function configured for one Stripe API version.
#[derive(Debug)]
pub struct Stack {
    pub functions: Functions,
    pub catalog: Catalog,
    pub stripe: Emulator,
    pub dynamo: Dynamo,
    pub api_version: &'static str,
}

impl Stack {
    pub fn start(api_version: &'static str, extra_env: &[(&str, &str)]) -> Result<Self> {
        Self::start_scaled(api_version, extra_env, 1)
    }

    /// Like [`Stack::start`] with `instances` parallel instances of each function.
    pub fn start_scaled(
        api_version: &'static str,
        extra_env: &[(&str, &str)],
        instances: usize,
    ) -> Result<Self> {
        Self::start_with(api_version, extra_env, instances, Secrets::InEnvironment)
    }

    /// The full form: `secrets` says whether the Stripe key, webhook secret and catalog reach
    /// the functions as plain variables (local) or as SSM parameters (as deployed).
    pub fn start_with(
        api_version: &'static str,
        extra_env: &[(&str, &str)],
        instances: usize,
        secrets: Secrets,
    ) -> Result<Self> {
        Self::start_on(
            Emulator::start()?,
            Dynamo::start()?,
            api_version,
            extra_env,
            instances,
            secrets,
        )
    }

    /// Like [`Stack::start_scaled`], with the stock of each SKU of `shards` split over that
    /// many items (the catalog's `inventory_shards`).
    pub fn start_sharded(
        api_version: &'static str,
        instances: usize,
        shards: &[(&str, u16)],
    ) -> Result<Self> {
        Self::start_cataloged(
            Emulator::start()?,
            Dynamo::start()?,
            api_version,
            &[],
            instances,
            Secrets::InEnvironment,
            shards,
        )
    }

    /// The stack around an emulator and a DynamoDB already started (e.g. with latency).
    pub fn start_on(
        stripe: Emulator,
        dynamo: Dynamo,
        api_version: &'static str,
        extra_env: &[(&str, &str)],
        instances: usize,
        secrets: Secrets,
    ) -> Result<Self> {
        Self::start_cataloged(
            stripe,
            dynamo,
            api_version,
            extra_env,
            instances,
            secrets,
            &[],
        )
    }

    fn start_cataloged(
        stripe: Emulator,
        dynamo: Dynamo,
        api_version: &'static str,
        extra_env: &[(&str, &str)],
        instances: usize,
        secrets: Secrets,
        shards: &[(&str, u16)],
    ) -> Result<Self> {
        let catalog = Catalog::seed(&stripe)?;
        let catalog_json = catalog.json_with_shards(shards);
        let dynamo_env = dynamo.env();
        let mut env = vec![
            ("STRIPE_API_BASE", stripe.base.as_str()),
            ("STRIPE_API_VERSION", api_version),
            (
                "CHECKOUT_RETURN_URL",
                "https://shop.example/checkout/return",
            ),
        ];
        match secrets {
            Secrets::InEnvironment => env.extend([
                ("STRIPE_SECRET_KEY", SECRET_KEY),
                ("CATALOG_JSON", catalog_json.as_str()),
                ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ]),
            Secrets::InParameterStore => {
                dynamo.put_parameter("/cart/stripe-secret-key", SECRET_KEY, true)?;
                dynamo.put_parameter("/cart/webhook-secret", WEBHOOK_SECRET, true)?;
                dynamo.put_parameter("/cart/catalog", &catalog_json, false)?;
                env.extend([
                    ("STRIPE_SECRET_KEY_PARAMETER", "/cart/stripe-secret-key"),
                    ("STRIPE_WEBHOOK_SECRET_PARAMETER", "/cart/webhook-secret"),
                    ("CATALOG_PARAMETER", "/cart/catalog"),
                    ("AWS_ENDPOINT_URL_SSM", dynamo.endpoint.as_str()),
                ]);
            }
        }
        env.extend(dynamo_env.iter().map(|(k, v)| (*k, v.as_str())));
        env.extend_from_slice(extra_env);
        let functions = Functions::start(
            &[
                "add-cross-sell",
                "update-shipping",
                "change-interval",
                "update-quantity",
                "create-session",
                "stripe-webhook",
                "release-holds",
            ],
            &env,
            instances,
        )?;
        Ok(Self {
            functions,
            catalog,
            stripe,
            dynamo,
            api_version,
        })
    }

    /// An open Elements session (in this stack's API dialect) holding `items` (price, quantity).
    pub fn create_session(&self, items: &[(&str, u32)]) -> Result<Value> {
        let preview = self.api_version == PREVIEW_VERSION;
        let mut form: Vec<(String, String)> = vec![
            ("mode".into(), "subscription".into()),
            (
                "ui_mode".into(),
                if preview { "custom" } else { "elements" }.into(),
            ),
            ("return_url".into(), "https://shop.example/return".into()),
        ];
        if preview {
            form.push((
                "permissions[update_line_items]".into(),
                "server_only".into(),
            ));
        }
        // What create-session writes: marks the session as this app's and names its holds.
        form.push((
            "metadata[cart_reservation]".into(),
            format!("rsv_e2e_{:016x}", random_u64()),
        ));
        for (n, (price, quantity)) in items.iter().enumerate() {
            form.push((format!("line_items[{n}][price]"), (*price).to_owned()));
            form.push((format!("line_items[{n}][quantity]"), quantity.to_string()));
        }
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.stripe
            .create("/v1/checkout/sessions", &form, self.api_version)
    }

    pub fn change_interval(&self, body: &str) -> Result<(u16, Value)> {
        self.functions
            .post("change-interval", "/change-subscription-interval", body)
    }

    /// Points the emulator's webhook deliveries at the stripe-webhook function; returns the
    /// endpoint's id.
    pub fn connect_webhooks(&self) -> Result<String> {
        let endpoint = serde_json::json!({
            "url": self.functions.url("stripe-webhook", "/stripe-webhook"),
            "secret": WEBHOOK_SECRET,
        });
        let response = agent()
            .post(format!("{}/_emulator/webhook_endpoints", self.stripe.base))
            .send_json(&endpoint)?;
        let (status, body) = read(response)?;
        if status >= 300 {
            return Err(format!("webhook endpoint refused: {status} {body}").into());
        }
        Ok(body["id"].as_str().ok_or("webhook endpoint id")?.to_owned())
    }

    /// `POST /checkout-sessions` with `items` as `(price, quantity)` and an optional key.
    pub fn create_cart(&self, items: &[(&str, i64)], key: Option<&str>) -> Result<Reply> {
        let items: Vec<Value> = items
            .iter()
            .map(|(price, quantity)| serde_json::json!({ "price": price, "quantity": quantity }))
            .collect();
        let body = serde_json::json!({ "items": items }).to_string();
        let headers: Vec<(&str, &str)> = key.map(|k| ("Idempotency-Key", k)).into_iter().collect();
        self.functions
            .send("create-session", "/checkout-sessions", &body, &headers)
    }

    pub fn add_cross_sell(&self, session: &str, price: &str) -> Result<Reply> {
        let body = serde_json::json!({ "checkout_session_id": session, "price_id": price });
        self.functions
            .send("add-cross-sell", "/add-cross-sell", &body.to_string(), &[])
    }

    /// `POST /update-shipping-details` with a full address in `country` (and `state`).
    pub fn update_shipping(
        &self,
        session: &str,
        country: &str,
        state: Option<&str>,
    ) -> Result<Reply> {
        let body = serde_json::json!({
            "checkout_session_id": session,
            "shipping_details": { "name": "Ada Lovelace", "address": {
                "line1": "1 Main St", "city": "Springfield", "state": state,
                "postal_code": "94105", "country": country,
            }},
        });
        self.functions.send(
            "update-shipping",
            "/update-shipping-details",
            &body.to_string(),
            &[],
        )
    }

    pub fn update_quantity(&self, session: &str, line_item: &str, quantity: i64) -> Result<Reply> {
        let body = serde_json::json!({
            "checkout_session_id": session, "line_item_id": line_item, "quantity": quantity
        });
        self.functions.send(
            "update-quantity",
            "/update-quantity",
            &body.to_string(),
            &[],
        )
    }

    /// `/change-subscription-interval` with an `Idempotency-Key`.
    pub fn change_interval_keyed(&self, body: &str, key: &str) -> Result<Reply> {
        self.functions.send(
            "change-interval",
            "/change-subscription-interval",
            body,
            &[("Idempotency-Key", key)],
        )
    }
}

/// The ids of a session's line items, in order.
pub fn line_item_ids(session: &Value) -> Vec<String> {
    session["line_items"]["data"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|li| li["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Unix seconds now.
pub fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

/// `Stripe-Signature` for `payload` at time `t`, computed with Python's hmac (an implementation
/// independent of the one the webhook function verifies with).
pub fn stripe_signature(payload: &str, secret: &str, t: i64) -> Result<String> {
    let output = Command::new("python3")
        .args([
            "-c",
            "import hmac, hashlib, sys; print(hmac.new(sys.argv[1].encode(), \
             (sys.argv[2] + '.' + sys.argv[3]).encode(), hashlib.sha256).hexdigest())",
            secret,
            &t.to_string(),
            payload,
        ])
        .output()?;
    Ok(format!(
        "t={t},v1={}",
        String::from_utf8(output.stdout)?.trim()
    ))
}

/// A small deterministic generator (splitmix64), so a failing run can be replayed from its seed.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        let n = u64::try_from(n.max(1)).unwrap_or(u64::MAX);
        usize::try_from(self.next_u64() % n).unwrap_or(0)
    }

    /// `true` in `percent` cases of 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// One element of `items` (`None` when empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }
}

/// A job for [`in_parallel`].
pub type Job<'a, T> = Box<dyn FnOnce() -> T + Send + 'a>;

/// Runs `jobs` on `threads` threads and returns their results in job order.
pub fn in_parallel<T: Send>(threads: usize, jobs: Vec<Job<'_, T>>) -> Vec<T> {
    let count = jobs.len();
    let jobs = std::sync::Mutex::new(jobs.into_iter().enumerate().rev().collect::<Vec<_>>());
    let results = std::sync::Mutex::new(Vec::with_capacity(count));
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                let Some((n, job)) = jobs.lock().map(|mut j| j.pop()).ok().flatten() else {
                    break;
                };
                let result = job();
                if let Ok(mut r) = results.lock() {
                    r.push((n, result));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by_key(|(n, _)| *n);
    results.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_reads_as_alive_with_its_cpu_ticks() {
        let fields = proc_stat_fields(std::process::id()).unwrap();
        assert!(matches!(fields[0].as_str(), "R" | "S"), "{fields:?}");
        assert!(fields[11].parse::<u64>().is_ok() && fields[12].parse::<u64>().is_ok());
        assert!(alive(std::process::id()));
        assert!(!alive(u32::MAX), "no such process");
    }
}
