//! The binary's one-shot modes: `--dry-run` exit codes and `--config.print-default`.

use std::process::Command;

fn exporter() -> Command {
    Command::new(env!("CARGO_BIN_EXE_snmp-exporter"))
}

#[test]
fn dry_run_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yml");
    std::fs::write(&good, "m:\n  walk: [1.3.6.1.2.1.2]\n").unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "m:\n  walk: [1.3.6.1.2.1.2]\n  retires: 3\n").unwrap();
    let ok = exporter()
        .args(["--dry-run", "--config.file"])
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    let failed = exporter()
        .args(["--dry-run", "--config.file"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("bad.yml") && stderr.contains("retires"),
        "{stderr}"
    );
    let embedded = exporter().arg("--dry-run").output().unwrap();
    assert_eq!(embedded.status.code(), Some(0));
}

#[test]
fn print_default_round_trips_through_a_config_file() {
    for layout in ["split", "flat"] {
        let output = exporter()
            .args(["--config.print-default", layout])
            .output()
            .unwrap();
        assert!(output.status.success());
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(text.contains("ifHCInOctets"));
        assert_eq!(text.contains("auths:"), layout == "split");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snmp.yml");
        std::fs::write(&path, text).unwrap();
        let check = exporter()
            .args(["--dry-run", "--config.file"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(check.status.code(), Some(0), "{layout}: {check:?}");
    }
}
