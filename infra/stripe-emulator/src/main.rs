//! `stripe-emulator` binary: arguments, logging, signals. The emulator itself is in the library.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use stripe_emulator::cli::{self, Command, Config};
use stripe_emulator::webhooks::{DeliveryConfig, EndpointSpec, WebhookEndpoint};
use stripe_emulator::AppState;
use tokio::net::TcpListener;

fn main() -> ExitCode {
    let config = match cli::parse(std::env::args().skip(1), |name| std::env::var(name).ok()) {
        Ok(Command::Run(config)) => config,
        Ok(Command::Help) => {
            eprintln!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("stripe-emulator: {message}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    init_logging(config.json_logs);
    let startup_endpoint = match &config.webhook.url {
        None => None,
        Some(url) => {
            let spec = EndpointSpec {
                url: url.clone(),
                secret: config.webhook.secret.clone(),
                ..EndpointSpec::default()
            };
            match WebhookEndpoint::build(
                spec,
                &config.default_version,
                stripe_emulator::store::now(),
            ) {
                Ok(endpoint) => Some(endpoint),
                Err(message) => {
                    eprintln!("stripe-emulator: --webhook-url: {message}");
                    return ExitCode::from(2);
                }
            }
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("stripe-emulator: cannot start runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(config, startup_endpoint));
    // Do not wait for the blocking stdin reader (it may never return).
    runtime.shutdown_background();
    code
}

async fn run(config: Config, startup_endpoint: Option<WebhookEndpoint>) -> ExitCode {
    let listener = match TcpListener::bind((config.host.as_str(), config.port)).await {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!(host = %config.host, port = config.port, error = %err, "cannot bind");
            return ExitCode::FAILURE;
        }
    };
    let address = match listener.local_addr() {
        Ok(address) => address,
        Err(err) => {
            tracing::error!(error = %err, "cannot read bound address");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = shutdown_signal(config.exit_on_stdin_eof);
    {
        // The one line on stdout: test harnesses read the port from it. (`writeln!` rather than
        // `println!`, which would panic if the reader has gone away.)
        let mut stdout = std::io::stdout().lock();
        // A closed stdout only means nobody is reading the line; keep serving.
        let _ = writeln!(stdout, "stripe-emulator listening on http://{address}");
        let _ = stdout.flush();
    }
    tracing::info!(%address, default_api_version = %config.default_version.raw, "listening");
    if let Some(endpoint) = &startup_endpoint {
        // The secret is a test secret; the receiver needs it to verify signatures.
        tracing::info!(
            endpoint_id = %endpoint.id,
            url = %endpoint.url,
            secret = %endpoint.secret,
            "webhook endpoint configured"
        );
    }
    let delivery = DeliveryConfig {
        max_attempts: config.webhook.max_attempts,
        retry_base: Duration::from_millis(config.webhook.retry_base_ms),
        ..DeliveryConfig::default()
    };
    let state = Arc::new(AppState::with_webhooks(
        config.default_version.clone(),
        delivery,
        startup_endpoint,
    ));
    match stripe_emulator::serve(listener, state, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "server failed");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.with_ansi(false).init();
    }
}

/// Resolves on SIGINT, SIGTERM, or (when asked) end of standard input, so a crashed test
/// harness never leaves the process behind. Handlers are installed before this returns, i.e.
/// before the listening line is printed, so a signal sent right after it is never missed.
fn shutdown_signal(exit_on_stdin_eof: bool) -> impl std::future::Future<Output = ()> + Send {
    let stdin_closed = exit_on_stdin_eof.then(|| {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        // A plain thread: it is simply abandoned at exit, unlike a runtime blocking task.
        let spawned = std::thread::Builder::new()
            .name("stdin-watch".into())
            .spawn(move || {
                let mut sink = [0u8; 1024];
                let mut stdin = std::io::stdin().lock();
                loop {
                    match std::io::Read::read(&mut stdin, &mut sink) {
                        Ok(0) => break,
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => break,
                    }
                }
                let _ = tx.send(());
            });
        spawned.ok().map(|_| rx)
    });
    let stdin_closed = stdin_closed.flatten();
    #[cfg(unix)]
    let (mut interrupt, mut terminate) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        let stdin = async {
            match stdin_closed {
                Some(rx) => {
                    let _ = rx.await;
                    tracing::info!("stdin closed");
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(unix)]
        let signals = async {
            let interrupt = async {
                match interrupt.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            let terminate = async {
                match terminate.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = interrupt => tracing::info!("SIGINT"),
                () = terminate => tracing::info!("SIGTERM"),
            }
        };
        #[cfg(not(unix))]
        let signals = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        tokio::select! {
            () = stdin => {}
            () = signals => {}
        }
    }
}
