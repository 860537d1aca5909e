//! Portkey's task runner, invoked as `cargo xtask <task>` (an alias in `.cargo/config.toml`).
//!
//! Tasks are written in Rust rather than shell so they run the same on every machine that can
//! build the workspace, with nothing to install but the external tools the checks drive.
//!
//! Layout:
//! - `ci.rs`: `cargo xtask ci [--skip-tests]`, every check CI makes, with a summary table;
//! - `demo.rs`: `cargo xtask demo [--once]`, the binaries wired to simulators (table-driven);
//! - `bench.rs`: `cargo xtask bench <case>`, whole-process benchmarks (table-driven);
//! - `process.rs`: the workspace, cargo, child processes, `/proc` readings;
//! - `http.rs`: a minimal HTTP/1.1 client over `std::net`, shared by demo and bench.

mod bench;
mod ci;
mod demo;
mod http;
mod process;

use clap::{Parser, Subcommand, builder::PossibleValuesParser};

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Portkey's task runner",
    version
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Run every CI check (fmt, clippy, tests, demo smoke test, helm, promtool, hadolint,
    /// actionlint, JSON schemas) and print a summary; exit 1 if any failed.
    Ci {
        /// Do not run `cargo test --workspace` (for callers that just ran it).
        #[arg(long)]
        skip_tests: bool,
        /// Run only this step (repeatable); the order stays the fixed one.
        #[arg(long, value_name = "STEP", value_parser = PossibleValuesParser::new(ci::STEP_NAMES))]
        only: Vec<String>,
    },
    /// Start the simulators and every Portkey binary that exists, wired together, and print the
    /// URLs to open; runs until Ctrl-C.
    Demo {
        /// Start everything, fetch each URL once, stop; fail unless every URL answered 200.
        #[arg(long)]
        once: bool,
    },
    /// Benchmark a release binary against its simulator: latency, peak RSS, API calls per scrape.
    Bench {
        /// The benchmark case.
        #[arg(value_parser = PossibleValuesParser::new(bench::case_names()))]
        case: String,
        /// Timed scrapes per variant.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
        scrapes: u32,
        /// Also install and measure the program the binary replaces (needs python3 with pip).
        #[arg(long)]
        with_incumbent: bool,
    },
}

fn main() -> std::process::ExitCode {
    // Errors are printed as one chain of causes; anyhow's Debug form would add a backtrace
    // whenever RUST_BACKTRACE is set, burying the message in CI logs.
    match run(Cli::parse().task) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(task: Task) -> anyhow::Result<()> {
    match task {
        Task::Ci { skip_tests, only } => ci::run(ci::Options { skip_tests, only }),
        Task::Demo { once } => demo::run(once),
        Task::Bench {
            case,
            scrapes,
            with_incumbent,
        } => bench::run(&bench::Options {
            case,
            scrapes: scrapes as usize,
            with_incumbent,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Task, clap::Error> {
        Cli::try_parse_from(std::iter::once("xtask").chain(args.iter().copied())).map(|c| c.task)
    }

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn ci_flags() {
        assert!(matches!(
            parse(&["ci"]).unwrap(),
            Task::Ci { skip_tests: false, only } if only.is_empty()
        ));
        assert!(matches!(
            parse(&["ci", "--skip-tests"]).unwrap(),
            Task::Ci {
                skip_tests: true,
                ..
            }
        ));
        assert!(matches!(
            parse(&["ci", "--only", "helm", "--only", "promtool"]).unwrap(),
            Task::Ci { only, .. } if only == ["helm", "promtool"]
        ));
        assert!(parse(&["ci", "--skip-test"]).is_err());
        assert!(parse(&["ci", "--only", "deploy"]).is_err());
    }

    #[test]
    fn demo_flags() {
        assert!(matches!(
            parse(&["demo"]).unwrap(),
            Task::Demo { once: false }
        ));
        assert!(matches!(
            parse(&["demo", "--once"]).unwrap(),
            Task::Demo { once: true }
        ));
    }

    #[test]
    fn bench_defaults_and_flags() {
        match parse(&["bench", "pve"]).unwrap() {
            Task::Bench {
                case,
                scrapes,
                with_incumbent,
            } => {
                assert_eq!(case, "pve");
                assert_eq!(scrapes, 20);
                assert!(!with_incumbent);
            }
            other => panic!("parsed as {other:?}"),
        }
        match parse(&["bench", "pve", "--scrapes", "5", "--with-incumbent"]).unwrap() {
            Task::Bench {
                scrapes,
                with_incumbent,
                ..
            } => {
                assert_eq!(scrapes, 5);
                assert!(with_incumbent);
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn bench_rejects_unknown_cases_and_zero_scrapes() {
        assert!(parse(&["bench", "nonesuch"]).is_err());
        assert!(parse(&["bench"]).is_err());
        assert!(parse(&["bench", "pve", "--scrapes", "0"]).is_err());
    }

    #[test]
    fn unknown_task_is_an_error() {
        assert!(parse(&["deploy"]).is_err());
        assert!(parse(&[]).is_err());
    }
}
