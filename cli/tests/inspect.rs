//! `stepca completion bash|zsh|fish` (each script passes its shell's syntax check where
//! that shell is installed, offers every command, and bash's and fish's complete a command
//! name) and the hidden `stepca man` (renders with groff or man without warnings, describes
//! every command).

use std::path::PathBuf;
use std::process::{Command, Output};

/// A scratch directory, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("stepca-inspect-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    fn p(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn stepca(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stepca"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs `c`, asserts it succeeded, and returns its stdout.
fn run_ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn stepca_ok(args: &[&str]) -> String {
    run_ok(Command::new(env!("CARGO_BIN_EXE_stepca")).args(args))
}

/// The visible commands, as `stepca --help` lists them (without `help`).
fn commands() -> Vec<String> {
    let help = stepca_ok(&["--help"]);
    let list = help
        .split("Commands:\n")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap();
    let names: Vec<String> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| *n != "help")
        .map(str::to_string)
        .collect();
    assert!(names.len() >= 10, "{names:?}");
    assert!(names.contains(&"inspect".to_string()) && names.contains(&"completion".to_string()));
    assert!(
        !names.contains(&"man".to_string()),
        "man is hidden: {names:?}"
    );
    names
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn completion_scripts_parse_and_offer_every_command() {
    let d = Dir::new("completion");
    let commands = commands();
    for shell in ["bash", "zsh", "fish"] {
        let script = stepca_ok(&["completion", shell]);
        let path = d.p(&format!("stepca.{shell}"));
        std::fs::write(&path, &script).unwrap();
        for c in &commands {
            assert!(script.contains(c.as_str()), "{shell}: no {c}");
        }
        assert!(
            !script.contains("stepca,man)") && !script.contains("\"man\""),
            "{shell}: offers the hidden man"
        );
        if have(shell) {
            run_ok(Command::new(shell).args(["-n", &path]));
        } else {
            eprintln!("SKIPPED: {shell} -n (no {shell} here)");
        }
    }
    // What they complete: a command name from its start.
    let bash = format!(
        "source {}; COMP_WORDS=(stepca insp); COMP_CWORD=1; _stepca stepca insp stepca; \
         echo \"${{COMPREPLY[@]}}\"",
        d.p("stepca.bash")
    );
    assert_eq!(
        run_ok(Command::new("bash").args(["-c", &bash])).trim(),
        "inspect"
    );
    let bash = format!(
        "source {}; COMP_WORDS=(stepca renew --dae); COMP_CWORD=2; _stepca stepca --dae renew; \
         echo \"${{COMPREPLY[@]}}\"",
        d.p("stepca.bash")
    );
    assert_eq!(
        run_ok(Command::new("bash").args(["-c", &bash])).trim(),
        "--daemon"
    );
    if have("fish") {
        let fish = format!("source {}; complete -C 'stepca comp'", d.p("stepca.fish"));
        let out = run_ok(Command::new("fish").args(["-c", &fish]));
        assert!(out.starts_with("completion\t"), "{out}");
    } else {
        eprintln!("SKIPPED: fish completion run (no fish here)");
    }
    assert_eq!(stepca(&["completion", "tcsh"]).status.code(), Some(2));
    assert_eq!(stepca(&["completion"]).status.code(), Some(2));
}

#[test]
fn man_page_renders_and_describes_every_command() {
    let d = Dir::new("man");
    let page = stepca_ok(&["man"]);
    assert!(page.contains("\n.TH STEPCA 1 "), "{page}");
    assert_eq!(page.matches(".ds Aq").count(), 2, "roff's Aq defined once");
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "COMMANDS",
        "\"EXIT STATUS\"",
        "ENVIRONMENT",
    ] {
        assert!(
            page.contains(&format!("\n.SH {section}\n")),
            "no section {section}"
        );
    }
    for c in commands() {
        assert!(
            page.contains(&format!("\n.SS \"stepca {c}\"\n")),
            "no command {c}"
        );
    }
    let path = d.p("stepca.1");
    std::fs::write(&path, &page).unwrap();
    let rendered = if have("groff") {
        let out = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-P-cbou", &path])
            .output()
            .unwrap();
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && warnings.is_empty(),
            "groff: {warnings}"
        );
        String::from_utf8(out.stdout).unwrap()
    } else if have("man") {
        run_ok(
            Command::new("man")
                .args(["-l", &path])
                .env("MANPAGER", "cat"),
        )
    } else {
        eprintln!("SKIPPED: rendering the man page (no groff or man here)");
        return;
    };
    // man may still mark bold by overstriking: strip it.
    let mut plain: Vec<char> = Vec::new();
    for ch in rendered.chars() {
        if ch == '\u{8}' {
            plain.pop();
        } else {
            plain.push(ch);
        }
    }
    let plain: String = plain.into_iter().collect();
    for want in [
        "STEPCA(1)",
        "EXIT STATUS",
        "stepca inspect",
        "--bundle",
        "STEPCA_URL",
    ] {
        assert!(
            plain.contains(want),
            "no {want:?} in the rendered page:\n{plain}"
        );
    }
}
