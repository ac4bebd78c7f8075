//! Local DynamoDB (moto) with the tables of template.yaml, and what tests read and write there.

use crate::client::{agent, read};
use crate::process::{listening_address, log_file, repo_root, Managed};
use crate::random::random_u64;
use crate::Result;
use serde_json::Value;
use std::process::{Command, Stdio};

/// The counters of one stock item: units that can be held, are held, were sold, and all ever
/// received (`available + held + sold` when no unit was given back by hand).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stock {
    pub available: u64,
    pub held: u64,
    pub sold: u64,
    pub received: u64,
}

impl Stock {
    /// The counters of a stock item (DynamoDB JSON); zeros for an absent item or attribute.
    pub fn from_item(item: &Value) -> Self {
        Self {
            available: number(item, "available"),
            held: number(item, "held"),
            sold: number(item, "sold"),
            received: number(item, "received"),
        }
    }

    /// Every unit received is available, held or sold: what every stock move keeps.
    pub fn is_balanced(&self) -> bool {
        self.available + self.held + self.sold == self.received
    }

    #[track_caller]
    pub fn assert_balanced(&self, what: &str) {
        assert!(
            self.is_balanced(),
            "{what}: available + held + sold != received in {self:?}"
        );
    }
}

/// A DynamoDB number attribute.
pub fn n(value: u64) -> Value {
    serde_json::json!({ "N": value.to_string() })
}

/// A number attribute of a DynamoDB JSON item (0 when absent).
pub fn number(item: &Value, name: &str) -> u64 {
    item[name]["N"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
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

    /// Every item of a table as DynamoDB JSON, read consistently.
    pub fn scan(&self, table: &str) -> Result<Vec<Value>> {
        let script = r#"
import boto3, json, sys
client = boto3.client("dynamodb", endpoint_url=sys.argv[1], region_name="us-east-1",
                      aws_access_key_id="local", aws_secret_access_key="local")
items, kwargs = [], {"TableName": sys.argv[2], "ConsistentRead": True}
while True:
    page = client.scan(**kwargs)
    items.extend(page.get("Items", []))
    if "LastEvaluatedKey" not in page:
        break
    kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
print(json.dumps(items))
"#;
        let output = Command::new("python3")
            .args(["-c", script, &self.endpoint, table])
            .stderr(Stdio::inherit())
            .output()?;
        if !output.status.success() {
            return Err(format!("scanning {table} failed: {}", output.status).into());
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
        self.put(
            "InventoryTable",
            &serde_json::json!({
                "pk": { "S": format!("sku#{sku}") },
                "available": n(quantity), "held": n(0), "sold": n(0), "received": n(quantity),
            }),
        )
    }

    /// The stock of a SKU (of its shard 0 when the catalog shards it).
    pub fn stock(&self, sku: &str) -> Result<Stock> {
        self.shard_stock(sku, 0)
    }

    /// One shard of a SKU's stock (`sku#<SKU>` is shard 0, `sku#<SKU>#<i>` shard i); zeros when
    /// the item does not exist.
    pub fn shard_stock(&self, sku: &str, shard: u16) -> Result<Stock> {
        let pk = if shard == 0 {
            format!("sku#{sku}")
        } else {
            format!("sku#{sku}#{shard}")
        };
        Ok(Stock::from_item(&self.get("InventoryTable", &pk)?))
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
