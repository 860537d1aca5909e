//! The built binary: exit codes, environment mode and flags from the environment, graceful exit.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_pve-exporter");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

fn wait_ready(port: u16) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if let Some((200, _)) = http_get(port, "/-/ready") {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("exporter did not become ready on port {port}");
}

fn clean_env(command: &mut Command) -> &mut Command {
    for (key, _) in std::env::vars() {
        if key.starts_with("PVE_") {
            command.env_remove(key);
        }
    }
    command
}

#[test]
fn invalid_config_exits_2_naming_file_module_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pve.yml");
    std::fs::write(
        &path,
        "default:\n  user: a@pve\n  token_name: t\n  token_value: v\n  insecure: true\n",
    )
    .unwrap();
    let output = clean_env(&mut Command::new(BIN))
        .args([
            "--config.file",
            path.to_str().unwrap(),
            "--web.listen-address",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("pve.yml") && stderr.contains("default") && stderr.contains("insecure"),
        "{stderr}"
    );
    assert!(!stderr.contains(": v\n"), "{stderr}");

    let output = clean_env(&mut Command::new(BIN))
        .args(["--config.file", "/nonexistent/pve.yml"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn bad_flags_exit_2() {
    let output = Command::new(BIN)
        .args(["--pve.max-concurrency", "0"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let output = Command::new(BIN)
        .args(["--scrape.timeout-offset", "soon"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn environment_mode_and_flag_variables_then_clean_exit_on_sigterm() {
    let port = free_port();
    let mut child = clean_env(&mut Command::new(BIN))
        .env_remove("MALLOC_ARENA_MAX")
        .env("PVE_USER", "demo@pve")
        .env("PVE_TOKEN_NAME", "portkey")
        .env("PVE_TOKEN_VALUE", "demo-token-value")
        .env("PVE_ALLOWED_TARGETS", "pve.lan")
        .env(
            "PVE_EXPORTER_WEB_LISTEN_ADDRESS",
            format!("127.0.0.1:{port}"),
        )
        .env("PVE_EXPORTER_PVE_DEFAULT_TARGET", "pve.lan")
        .env("PVE_EXPORTER_COLLECTOR_TARGET_METRICS", "true")
        .args([
            "--config.file",
            "/nonexistent/ignored-in-environment-mode.yml",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_ready(port);
    // On glibc the process re-executed itself (same pid) with one malloc arena.
    if cfg!(all(target_os = "linux", target_env = "gnu")) {
        let environ = std::fs::read(format!("/proc/{}/environ", child.id())).unwrap();
        assert!(
            environ
                .split(|b| *b == 0)
                .any(|var| var == b"MALLOC_ARENA_MAX=1"),
            "MALLOC_ARENA_MAX not set in the running exporter"
        );
    }
    // The allowlist from PVE_ALLOWED_TARGETS refuses other hosts before any connection.
    let (status, body) = http_get(port, "/pve?target=10.9.9.9").unwrap();
    assert_eq!(
        (status, body.as_str()),
        (403, "Target '10.9.9.9' not allowed for module 'default'")
    );
    let (status, page) = http_get(port, "/").unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("/pve?target="), "{page}");
    let (_, metrics) = http_get(port, "/metrics").unwrap();
    assert!(
        metrics.contains("pve_request_errors_total{module=\"default\"} 1"),
        "{metrics}"
    );

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let lines: Vec<String> = stderr.lines().map_while(Result::ok).collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("level=info") && l.contains("listening")),
        "{lines:?}"
    );
    assert!(
        lines.iter().all(|l| !l.contains("demo-token-value")),
        "{lines:?}"
    );
}
