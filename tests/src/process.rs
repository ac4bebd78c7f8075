//! Processes a test starts: where their binaries and logs are, free ports, the banner a server
//! announces its address with, and a child killed with its process group when dropped.

use crate::Result;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

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

pub(crate) fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace binaries first (`cargo build --workspace --bins`)",
        path.display()
    );
    path
}

/// `target/e2e-logs`.
pub(crate) fn log_dir() -> PathBuf {
    bin_dir().join("..").join("e2e-logs")
}

/// Where the processes of a test write their logs: `target/e2e-logs/<name>-<pid>-<n>.log`.
pub(crate) fn log_file(name: &str) -> Stdio {
    logged_to(name).0
}

pub(crate) fn logged_to(name: &str) -> (Stdio, PathBuf) {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = log_dir();
    let path = dir.join(format!("{name}-{}-{n}.log", std::process::id()));
    let file = std::fs::create_dir_all(&dir).and_then(|()| std::fs::File::create(&path));
    (
        file.map(Stdio::from).unwrap_or_else(|_| Stdio::null()),
        path,
    )
}

pub(crate) fn free_port() -> u16 {
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
pub(crate) struct Managed {
    pub(crate) name: String,
    pub(crate) child: Child,
    _stdin: Option<ChildStdin>,
}

impl Managed {
    pub(crate) fn spawn(name: &str, mut command: Command) -> Self {
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
pub(crate) fn alive(pid: u32) -> bool {
    proc_stat_fields(pid).is_some_and(|fields| fields.first().is_some_and(|state| state != "Z"))
}

/// The workspace root.
pub(crate) fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
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
