//! The `outdial campaign` and `outdial dnc` commands, run as a user would (the real binary, a
//! temporary SQLite file).

use crate::common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

struct Cli {
    dir: PathBuf,
}

impl Cli {
    fn new() -> Cli {
        let dir = common::temp_dir("cli");
        // Campaign copies written here name the shipped message relative to themselves.
        let messages = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/messages");
        std::fs::create_dir_all(dir.join("messages")).unwrap();
        std::fs::copy(
            messages.join("abandon-cmn.wav"),
            dir.join("messages/abandon-cmn.wav"),
        )
        .unwrap();
        Cli { dir }
    }

    fn db(&self) -> String {
        format!("sqlite://{}", self.dir.join("cli.db").display())
    }

    fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_outdial"));
        cmd.arg("--db").arg(self.db()).args(args);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let mut pipe = child.stdin.take().unwrap();
        if let Some(input) = stdin {
            pipe.write_all(input).unwrap();
        }
        drop(pipe);
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn file(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    }

    fn stats(&self, campaign: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["campaign", "stats", campaign, "--json"])).unwrap()
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn shipped(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("campaigns")
        .join(format!("{name}.yaml"))
        .display()
        .to_string()
}

#[test]
fn apply_is_idempotent_and_bad_files_change_nothing() {
    let cli = Cli::new();
    for name in [
        "credit-verification",
        "welcome",
        "repayment-reminder",
        "cross-sell",
    ] {
        assert_eq!(
            cli.ok(&["campaign", "apply", &shipped(name)]),
            format!("campaign {name}: created\n")
        );
    }
    let again = cli.ok(&["campaign", "apply", &shipped("welcome")]);
    assert_eq!(again, "campaign welcome: unchanged\n");

    let text = std::fs::read_to_string(shipped("welcome")).unwrap();
    let changed = cli.file(
        "welcome.yaml",
        text.replace("ring_timeout: 25s", "ring_timeout: 30s")
            .as_bytes(),
    );
    assert_eq!(
        cli.ok(&["campaign", "apply", &changed]),
        "campaign welcome: updated\n"
    );

    let bad = cli.file(
        "bad.yaml",
        text.replace("ring_timeout: 25s", "ring_timeout: 10s")
            .replace("priority: 40", "priority: 1")
            .as_bytes(),
    );
    let out = cli.run(&["campaign", "apply", &bad], None);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("bad.yaml:14: dialing.ring_timeout: ring_timeout 10s is under 15s"),
        "{err}"
    );
    let list: serde_json::Value =
        serde_json::from_str(&cli.ok(&["campaign", "list", "--json"])).unwrap();
    let welcome = list
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "welcome")
        .unwrap();
    assert_eq!(welcome["priority"], 40, "the bad file changed nothing");
    assert_eq!(list.as_array().unwrap().len(), 4);

    let unknown = cli.file(
        "unknown.yaml",
        text.replace("priority: 40", "priority: 40\nprioritty: 3")
            .as_bytes(),
    );
    let out = cli.run(&["campaign", "apply", &unknown], None);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        !out.status.success() && err.contains("unknown.yaml:7: prioritty: unknown field"),
        "{err}"
    );
}

#[test]
fn load_reports_json_and_reloads_nothing() {
    let cli = Cli::new();
    cli.ok(&["campaign", "apply", &shipped("repayment-reminder")]);
    cli.ok(&["dnc", "add", "13800000005"]);
    let csv = "\u{feff}phone,name,external_id,overdue_days\r\n\
               13800000001,\"Zhao, Lei\",L-1,3\r\n\
               13800000002,Qian Jun,L-2,0\r\n\
               not-a-number,X,L-3,1\r\n\
               13800000002,Dup,L-4,1\r\n\
               13800000005,Dnc,L-5,1\r\n\
               13800000006,Short\r\n";
    let path = cli.file("list.csv", csv.as_bytes());
    let out = cli.ok(&["campaign", "load", "repayment-reminder", &path, "--json"]);
    assert_eq!(out.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut expected = vec![
        "campaign",
        "read",
        "loaded",
        "duplicates",
        "invalid",
        "dnc",
        "errors",
        "errors_truncated",
    ];
    expected.sort();
    let mut keys_sorted = keys.clone();
    keys_sorted.sort();
    assert_eq!(keys_sorted, expected);
    assert_eq!(
        (
            &v["read"],
            &v["loaded"],
            &v["duplicates"],
            &v["invalid"],
            &v["dnc"]
        ),
        (&6.into(), &2.into(), &1.into(), &2.into(), &1.into())
    );
    assert_eq!(v["errors"][0]["line"], 4);
    assert_eq!(v["errors"][1]["line"], 7);
    // Same file again through stdin: nothing new, and the summary is one line.
    let out = cli.run(
        &["campaign", "load", "repayment-reminder", "-"],
        Some(csv.as_bytes()),
    );
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout,
        "<stdin>: loaded 0 of 6 rows into repayment-reminder (3 duplicates, 2 invalid, 1 on DNC)\n"
    );
    let stats = cli.stats("repayment-reminder");
    assert_eq!(stats["leads"], 2);
    assert_eq!(stats["by_state"]["new"], 2);
}

#[test]
fn fatal_load_errors_load_nothing() {
    let cli = Cli::new();
    cli.ok(&["campaign", "apply", &shipped("welcome")]);
    let mut bytes = b"phone,name\n13800000001,a\n13800000002,b\n".to_vec();
    bytes.extend_from_slice(b"13800000003,\xc3\x28\n");
    let path = cli.file("broken.csv", &bytes);
    for (args, needle) in [
        (
            vec!["campaign", "load", "welcome", path.as_str()],
            format!("{path}:4: invalid UTF-8"),
        ),
        (
            vec!["campaign", "load", "welcome", "/no/such/file.csv"],
            "/no/such/file.csv: cannot read".to_string(),
        ),
        (
            vec!["campaign", "load", "nope", path.as_str()],
            "unknown campaign \"nope\"".to_string(),
        ),
    ] {
        let out = cli.run(&args, None);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(&needle), "{err}");
    }
    let no_phone = cli.file("nophone.csv", b"mobile,name\n13800000001,a\n");
    let out = cli.run(&["campaign", "load", "welcome", &no_phone, "--json"], None);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("no `phone` column"));
    assert_eq!(cli.stats("welcome")["leads"], 0);
}

#[test]
fn dnc_commands() {
    let cli = Cli::new();
    cli.ok(&["campaign", "apply", &shipped("cross-sell")]);
    let import = cli.file(
        "dnc.csv",
        b"phone,reason\n13800000001,refused\n+86 138 0000 0002,complaint\n",
    );
    assert_eq!(
        cli.ok(&["dnc", "import", &import]),
        "do-not-call: 2 added, 0 already listed\n"
    );
    let plain = cli.file("dnc.txt", b"13800000002\n13800000003\n");
    assert_eq!(
        cli.ok(&["dnc", "import", &plain]),
        "do-not-call: 1 added, 1 already listed\n"
    );
    assert_eq!(
        cli.ok(&["dnc", "remove", "13800000003"]),
        "do-not-call: 1 removed\n"
    );
    let out = cli.run(&["dnc", "add", "12"], None);
    assert!(!out.status.success());
    let csv = b"phone\n13800000001\n13800000002\n13800000003\n";
    let out = cli.run(
        &["campaign", "load", "cross-sell", "-", "--json"],
        Some(csv),
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((&v["loaded"], &v["dnc"]), (&1.into(), &2.into()));
}
