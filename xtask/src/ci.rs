//! `cargo xtask ci`: every check CI makes, in one command that also runs on a workstation.
//!
//! Steps run in a fixed order and all of them run even after one fails, so one CI round shows
//! every problem; the summary table at the end says which failed, and the exit status is 1 if any
//! did. The steps:
//!
//! | step | command |
//! |---|---|
//! | fmt | `cargo fmt --all -- --check` |
//! | clippy | `cargo clippy --workspace --all-targets -- -D warnings` |
//! | test | `cargo test --workspace` (left out with `--skip-tests`) |
//! | demo | `cargo xtask demo --once`: every demo URL must answer 200 |
//! | helm | `helm lint --strict` and `helm template` for every `helm/<chart>/` (a directory with `Chart.yaml`), once with default values and once per `helm/<chart>/ci/*-values.yaml` and `helm/<chart>/examples/*.yaml` |
//! | promtool | `promtool check rules` on the rule files under `helm/monitoring-system/rules/`, `promtool test rules` on the test files there (`*_test.yaml`, `*.test.yaml`, or anything under a `tests/` directory) |
//! | hadolint | `hadolint images/Dockerfile*` |
//! | actionlint | `actionlint .github/workflows/*.yml` |
//! | json-schema | `check-jsonschema --check-metaschema helm/*/values.schema.json` |
//!
//! `--only <step>` (repeatable) runs a subset, e.g. `cargo xtask ci --only helm` while working on
//! a chart.
//!
//! A step whose inputs do not exist yet reports "nothing to check". A step whose tool is not on
//! PATH fails when `PORTKEY_REQUIRE_TOOLS=1` (as in CI, which installs every tool through
//! `.ci/install-tools`) and is otherwise reported as SKIPPED, loudly, both when it happens and in
//! the summary.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use crate::process::{cargo, which, workspace_root};

/// Options of `cargo xtask ci`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Leave out `cargo test --workspace` (for callers that just ran it).
    pub skip_tests: bool,
    /// Run only these steps (by name); empty means all.
    pub only: Vec<String>,
}

/// The names of all steps, in the order they run.
pub const STEP_NAMES: &[&str] = &[
    "fmt",
    "clippy",
    "test",
    "demo",
    "helm",
    "promtool",
    "hadolint",
    "actionlint",
    "json-schema",
];

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every command of the step succeeded.
    Passed,
    /// At least one command failed, or a required tool is missing; the text says which.
    Failed(String),
    /// The tool is missing and not required; the text says which tool.
    Skipped(String),
    /// The step's inputs do not exist (yet); the text says what was looked for.
    NothingToCheck(String),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Passed => write!(f, "ok"),
            Outcome::Failed(why) => write!(f, "FAILED: {why}"),
            Outcome::Skipped(why) => write!(f, "SKIPPED: {why}"),
            Outcome::NothingToCheck(what) => write!(f, "nothing to check ({what})"),
        }
    }
}

/// Whether `PORTKEY_REQUIRE_TOOLS` asks for missing tools to fail (`1` or `true`).
pub fn tools_required(value: Option<&str>) -> bool {
    value.is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

/// Shared by the steps: where the repository is and whether missing tools fail.
#[derive(Debug)]
struct Context {
    root: PathBuf,
    require_tools: bool,
}

impl Context {
    /// Finds a tool, or says what the step's outcome is without it.
    fn tool(&self, name: &str) -> Result<PathBuf, Outcome> {
        if let Some(path) = which(name) {
            return Ok(path);
        }
        if self.require_tools {
            Err(Outcome::Failed(format!(
                "{name} is not on PATH and PORTKEY_REQUIRE_TOOLS=1 (run .ci/install-tools)"
            )))
        } else {
            println!(
                "!!!!!!!! SKIPPED: {name} is not on PATH, so this check did not run. \
                 Install it with .ci/install-tools; set PORTKEY_REQUIRE_TOOLS=1 to make this fail."
            );
            Err(Outcome::Skipped(format!("{name} not on PATH")))
        }
    }
}

/// Runs a command with inherited output; returns whether it succeeded, printing it first.
fn run_command(command: &mut Command) -> bool {
    let shown: Vec<String> = std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect();
    println!("$ {}", shown.join(" "));
    match command.status() {
        Ok(status) if status.success() => true,
        Ok(status) => {
            println!("  -> exited with {status}");
            false
        }
        Err(error) => {
            println!("  -> could not start: {error}");
            false
        }
    }
}

/// Collects the display names of failed commands into an outcome.
fn outcome_of(failed: Vec<String>) -> Outcome {
    if failed.is_empty() {
        Outcome::Passed
    } else {
        Outcome::Failed(failed.join("; "))
    }
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The files directly inside `dir` whose names satisfy `keep`, sorted; empty if `dir` is absent.
pub fn files_in(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.is_file()
                && path
                    .file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(&keep)
        })
        .collect();
    found.sort();
    found
}

/// Every file below `dir`, recursively, sorted; empty if `dir` is absent.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.is_file() {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

fn is_yaml(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml")
}

/// Chart directories: the directories directly under `helm_dir` that hold a `Chart.yaml`.
pub fn chart_dirs(helm_dir: &Path) -> Vec<PathBuf> {
    let mut charts: Vec<PathBuf> = std::fs::read_dir(helm_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.join("Chart.yaml").is_file())
        .collect();
    charts.sort();
    charts
}

/// The extra values files a chart is checked with: `ci/*-values.yaml` and `examples/*.yaml`.
pub fn values_files(chart: &Path) -> Vec<PathBuf> {
    let mut files = files_in(&chart.join("ci"), |name| {
        name.ends_with("-values.yaml") || name.ends_with("-values.yml")
    });
    files.extend(files_in(&chart.join("examples"), is_yaml));
    files
}

/// Rule files and rule test files under a rules directory, as `(rules, tests)`.
///
/// A test file is named `*_test.yaml` / `*.test.yaml` (or `.yml`) or lives in a `tests/`
/// directory; every other YAML file is a rule file.
pub fn classify_rule_files(rules_dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut rules, mut tests) = (Vec::new(), Vec::new());
    for path in files_below(rules_dir) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !is_yaml(name) {
            continue;
        }
        let stem = name.trim_end_matches(".yaml").trim_end_matches(".yml");
        let in_tests_dir = path
            .strip_prefix(rules_dir)
            .ok()
            .and_then(Path::parent)
            .is_some_and(|parent| parent.components().any(|c| c.as_os_str() == "tests"));
        if stem.ends_with("_test") || stem.ends_with(".test") || in_tests_dir {
            tests.push(path);
        } else {
            rules.push(path);
        }
    }
    (rules, tests)
}

fn step_fmt(_: &Context) -> Outcome {
    let ok = run_command(cargo().args(["fmt", "--all", "--", "--check"]));
    outcome_of(if ok {
        vec![]
    } else {
        vec!["cargo fmt --check".into()]
    })
}

fn step_clippy(_: &Context) -> Outcome {
    let ok = run_command(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]));
    outcome_of(if ok {
        vec![]
    } else {
        vec!["cargo clippy".into()]
    })
}

fn step_test(_: &Context) -> Outcome {
    let ok = run_command(cargo().args(["test", "--workspace"]));
    outcome_of(if ok {
        vec![]
    } else {
        vec!["cargo test".into()]
    })
}

fn step_demo(_: &Context) -> Outcome {
    match crate::demo::run(true) {
        Ok(()) => Outcome::Passed,
        Err(error) => {
            println!("  -> {error:#}");
            Outcome::Failed("demo --once".into())
        }
    }
}

fn step_helm(context: &Context) -> Outcome {
    let charts = chart_dirs(&context.root.join("helm"));
    if charts.is_empty() {
        return Outcome::NothingToCheck("no helm/<chart>/Chart.yaml".into());
    }
    let helm = match context.tool("helm") {
        Ok(helm) => helm,
        Err(outcome) => return outcome,
    };
    let mut failed = Vec::new();
    for chart in &charts {
        let chart_arg = relative(&context.root, chart);
        let release = chart
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut value_sets: Vec<Option<PathBuf>> = vec![None];
        value_sets.extend(values_files(chart).into_iter().map(Some));
        for values in value_sets {
            let extra: Vec<String> = values
                .iter()
                .flat_map(|file| ["--values".to_owned(), relative(&context.root, file)])
                .collect();
            let label = match &values {
                None => chart_arg.clone(),
                Some(file) => format!("{chart_arg} with {}", relative(&context.root, file)),
            };
            let lint = run_command(
                Command::new(&helm)
                    .current_dir(&context.root)
                    .args(["lint", "--strict", &chart_arg])
                    .args(&extra),
            );
            if !lint {
                failed.push(format!("helm lint {label}"));
            }
            // The rendered manifests are long and only their validity matters here.
            let template = run_command(
                Command::new(&helm)
                    .current_dir(&context.root)
                    .args(["template", &release, &chart_arg])
                    .args(&extra)
                    .stdout(Stdio::null()),
            );
            if !template {
                failed.push(format!("helm template {label}"));
            }
        }
    }
    outcome_of(failed)
}

fn step_promtool(context: &Context) -> Outcome {
    let rules_dir = context.root.join("helm/monitoring-system/rules");
    let (rules, tests) = classify_rule_files(&rules_dir);
    if rules.is_empty() && tests.is_empty() {
        return Outcome::NothingToCheck("no YAML under helm/monitoring-system/rules/".into());
    }
    let promtool = match context.tool("promtool") {
        Ok(promtool) => promtool,
        Err(outcome) => return outcome,
    };
    let mut failed = Vec::new();
    if !rules.is_empty()
        && !run_command(
            Command::new(&promtool)
                .current_dir(&context.root)
                .args(["check", "rules"])
                .args(rules.iter().map(|p| relative(&context.root, p))),
        )
    {
        failed.push("promtool check rules".into());
    }
    if !tests.is_empty()
        && !run_command(
            Command::new(&promtool)
                .current_dir(&context.root)
                .args(["test", "rules"])
                .args(tests.iter().map(|p| relative(&context.root, p))),
        )
    {
        failed.push("promtool test rules".into());
    }
    outcome_of(failed)
}

/// A step that runs one tool once over a list of files.
fn step_files(
    context: &Context,
    tool: &str,
    tool_args: &[&str],
    files: Vec<PathBuf>,
    looked_for: &str,
) -> Outcome {
    if files.is_empty() {
        return Outcome::NothingToCheck(format!("no {looked_for}"));
    }
    let program = match context.tool(tool) {
        Ok(program) => program,
        Err(outcome) => return outcome,
    };
    let ok = run_command(
        Command::new(program)
            .current_dir(&context.root)
            .args(tool_args)
            .args(files.iter().map(|p| relative(&context.root, p))),
    );
    outcome_of(if ok { vec![] } else { vec![tool.to_owned()] })
}

fn step_hadolint(context: &Context) -> Outcome {
    let files = files_in(&context.root.join("images"), |name| {
        name.starts_with("Dockerfile")
    });
    step_files(context, "hadolint", &[], files, "images/Dockerfile*")
}

fn step_actionlint(context: &Context) -> Outcome {
    let files = files_in(&context.root.join(".github/workflows"), is_yaml);
    step_files(context, "actionlint", &[], files, ".github/workflows/*.yml")
}

fn step_json_schema(context: &Context) -> Outcome {
    let files: Vec<PathBuf> = chart_dirs(&context.root.join("helm"))
        .into_iter()
        .map(|chart| chart.join("values.schema.json"))
        .filter(|schema| schema.is_file())
        .collect();
    step_files(
        context,
        "check-jsonschema",
        &["--check-metaschema"],
        files,
        "helm/*/values.schema.json",
    )
}

type Step = (&'static str, fn(&Context) -> Outcome);

/// The steps to run, in order.
fn steps(options: &Options) -> Vec<Step> {
    let all: [Step; 9] = [
        ("fmt", step_fmt),
        ("clippy", step_clippy),
        ("test", step_test),
        ("demo", step_demo),
        ("helm", step_helm),
        ("promtool", step_promtool),
        ("hadolint", step_hadolint),
        ("actionlint", step_actionlint),
        ("json-schema", step_json_schema),
    ];
    all.into_iter()
        .filter(|(name, _)| !(options.skip_tests && *name == "test"))
        .filter(|(name, _)| options.only.is_empty() || options.only.iter().any(|o| o == name))
        .collect()
}

/// Formats the summary table printed after all steps.
pub fn summary_table(results: &[(&str, Outcome, Duration)]) -> String {
    let mut table = String::from("==> summary\n");
    for (name, outcome, elapsed) in results {
        table.push_str(&format!(
            "  {name:<12} {:>7.1}s  {outcome}\n",
            elapsed.as_secs_f64()
        ));
    }
    table
}

/// Runs every step; fails if any step failed.
pub fn run(options: Options) -> Result<()> {
    let context = Context {
        root: workspace_root(),
        require_tools: tools_required(std::env::var("PORTKEY_REQUIRE_TOOLS").ok().as_deref()),
    };
    let steps = steps(&options);
    let mut results = Vec::new();
    for (index, (name, step)) in steps.iter().enumerate() {
        println!("\n==> [{}/{}] {name}", index + 1, steps.len());
        let started = Instant::now();
        let outcome = step(&context);
        println!("==> {name}: {outcome}");
        results.push((*name, outcome, started.elapsed()));
    }
    println!("\n{}", summary_table(&results));
    let failed: Vec<&str> = results
        .iter()
        .filter(|(_, outcome, _)| matches!(outcome, Outcome::Failed(_)))
        .map(|(name, _, _)| *name)
        .collect();
    if !failed.is_empty() {
        bail!("failed steps: {}", failed.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system temp dir, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Self {
            static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("xtask-ci-{tag}-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn touch(&self, relative: &str) -> PathBuf {
            let path = self.0.join(relative);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, "x").unwrap();
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn require_tools_values() {
        assert!(tools_required(Some("1")));
        assert!(tools_required(Some("TRUE")));
        assert!(!tools_required(Some("0")));
        assert!(!tools_required(Some("")));
        assert!(!tools_required(None));
    }

    #[test]
    fn charts_are_directories_with_chart_yaml() {
        let scratch = Scratch::new("charts");
        scratch.touch("b-chart/Chart.yaml");
        scratch.touch("a-chart/Chart.yaml");
        scratch.touch("not-a-chart/values.yaml");
        scratch.touch("README.md");
        let charts = chart_dirs(&scratch.0);
        assert_eq!(
            charts,
            [scratch.0.join("a-chart"), scratch.0.join("b-chart")]
        );
        assert!(chart_dirs(&scratch.0.join("missing")).is_empty());
    }

    #[test]
    fn values_files_come_from_ci_and_examples() {
        let scratch = Scratch::new("values");
        let chart = scratch.0.join("chart");
        let ci = scratch.touch("chart/ci/tls-values.yaml");
        scratch.touch("chart/ci/notes.txt");
        scratch.touch("chart/ci/values.yaml"); // not *-values.yaml
        let example = scratch.touch("chart/examples/full.yaml");
        scratch.touch("chart/values.yaml");
        assert_eq!(values_files(&chart), [ci, example]);
    }

    #[test]
    fn rule_files_and_tests_are_told_apart() {
        let scratch = Scratch::new("rules");
        let rules = scratch.touch("pve.yaml");
        let rules_yml = scratch.touch("snmp.yml");
        let test_suffix = scratch.touch("pve_test.yaml");
        let test_dotted = scratch.touch("snmp.test.yml");
        let test_dir = scratch.touch("tests/ceph.yaml");
        scratch.touch("README.md");
        let (found_rules, found_tests) = classify_rule_files(&scratch.0);
        assert_eq!(found_rules, [rules, rules_yml]);
        let mut expected_tests = vec![test_suffix, test_dotted, test_dir];
        expected_tests.sort();
        assert_eq!(found_tests, expected_tests);
        assert_eq!(
            classify_rule_files(&scratch.0.join("missing")),
            (vec![], vec![])
        );
    }

    #[test]
    fn missing_required_tool_fails_and_optional_one_skips() {
        let required = Context {
            root: PathBuf::from("."),
            require_tools: true,
        };
        assert!(matches!(
            required.tool("portkey-no-such-tool"),
            Err(Outcome::Failed(_))
        ));
        let optional = Context {
            root: PathBuf::from("."),
            require_tools: false,
        };
        assert!(matches!(
            optional.tool("portkey-no-such-tool"),
            Err(Outcome::Skipped(_))
        ));
        assert!(optional.tool("sh").is_ok());
    }

    #[test]
    fn step_without_inputs_has_nothing_to_check_even_without_its_tool() {
        let context = Context {
            root: PathBuf::from("."),
            require_tools: true,
        };
        let outcome = step_files(&context, "portkey-no-such-tool", &[], vec![], "inputs");
        assert_eq!(outcome, Outcome::NothingToCheck("no inputs".into()));
    }

    #[test]
    fn failing_tool_fails_the_step() {
        let scratch = Scratch::new("fail");
        let file = scratch.touch("input");
        let context = Context {
            root: scratch.0.clone(),
            require_tools: true,
        };
        // `false` ignores its arguments and exits 1; `true` exits 0.
        assert!(matches!(
            step_files(&context, "false", &[], vec![file.clone()], "inputs"),
            Outcome::Failed(_)
        ));
        assert_eq!(
            step_files(&context, "true", &[], vec![file], "inputs"),
            Outcome::Passed
        );
    }

    #[test]
    fn step_lists_respect_skip_tests_and_only() {
        let names = |options: Options| steps(&options).iter().map(|(n, _)| *n).collect::<Vec<_>>();
        assert_eq!(names(Options::default()), STEP_NAMES);
        let skipped = names(Options {
            skip_tests: true,
            ..Options::default()
        });
        assert!(!skipped.contains(&"test"));
        assert_eq!(skipped.len(), STEP_NAMES.len() - 1);
        let only = names(Options {
            skip_tests: false,
            only: vec!["helm".into(), "fmt".into()],
        });
        assert_eq!(only, ["fmt", "helm"], "the fixed order is kept");
    }

    #[test]
    fn summary_shows_every_outcome() {
        let table = summary_table(&[
            ("fmt", Outcome::Passed, Duration::from_millis(1500)),
            (
                "helm",
                Outcome::Failed("helm lint x".into()),
                Duration::ZERO,
            ),
            (
                "hadolint",
                Outcome::Skipped("hadolint not on PATH".into()),
                Duration::ZERO,
            ),
            (
                "promtool",
                Outcome::NothingToCheck("no rules".into()),
                Duration::ZERO,
            ),
        ]);
        assert!(table.contains("fmt"));
        assert!(table.contains("1.5s  ok"));
        assert!(table.contains("FAILED: helm lint x"));
        assert!(table.contains("SKIPPED: hadolint not on PATH"));
        assert!(table.contains("nothing to check (no rules)"));
    }
}
