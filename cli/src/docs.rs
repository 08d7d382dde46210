//! Shell completions (`stepca completion bash|zsh|fish`, as `step completion SHELL`) and the
//! man page (`stepca man`, hidden), both generated from the clap definitions that `--help`
//! shows, by clap_complete and clap_mangen. `make install` installs them.

use std::io::Write;

use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, roman};
use serde_json::Value;

use crate::Result;

/// The man page's DESCRIPTION (`--help` has only the one-line about).
const DESCRIPTION: &str = "stepca enrolls, renews and revokes X.509 certificates at a \
    smallstep step-ca, on the stepca library: for provisioning lines, scripts and devices \
    that renew their own certificates (renew --daemon, or needs-renewal for systemd timers). \
    Its commands and flags follow step's where step has them. The CA is named by --ca-url and \
    trusted through --root or --fingerprint; --json makes every command print JSON. Tokens \
    are given (--token, --token-file) or minted in process by a JWK provisioner \
    (--provisioner, --password-file) or an X5C provisioner with the device's birth \
    certificate (--x5c-cert, --x5c-key). Every key argument takes a key file or a PKCS#11 \
    URI. stepca COMMAND --help describes each command.";

/// Writes `out` to stdout and exits 0 (also when stdout is a closed pipe, as for `| head`).
pub(crate) fn print_and_exit(out: &[u8]) -> ! {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(out).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("stepca: stdout: {e}");
            std::process::exit(1)
        }
        _ => std::process::exit(0),
    }
}

/// Prints the completion script of `shell` for `cmd` (the whole `stepca` command).
pub(crate) fn completion(shell: clap_complete::Shell, cmd: clap::Command) -> Result<Value> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut without_hidden_commands(cmd), "stepca", &mut out);
    print_and_exit(&out)
}

/// `cmd` without its hidden commands (`man`), which clap_complete would offer too.
fn without_hidden_commands(cmd: clap::Command) -> clap::Command {
    let mut visible = clap::Command::new("stepca")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(cmd.is_subcommand_required_set())
        .args(cmd.get_arguments().cloned())
        .subcommands(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    if let Some(about) = cmd.get_about() {
        visible = visible.about(about.clone());
    }
    visible
}

/// Prints the man page of `cmd` (the whole `stepca` command), section 1.
pub(crate) fn man(cmd: clap::Command) -> Result<Value> {
    print_and_exit(&man_page(cmd))
}

/// One page for the whole command: clap_mangen's title, name, synopsis, description and
/// global options, then a COMMANDS section with each visible command's description,
/// synopsis and options (clap_mangen's, rendered per command without the global options
/// and `--help`), then exit status, environment and see-also.
fn man_page(cmd: clap::Command) -> Vec<u8> {
    let version = cmd.get_version().unwrap_or_default().to_string();
    let commands: Vec<clap::Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
        .collect();
    let top = Man::new(cmd.clone())
        .title("STEPCA")
        .manual("User Commands")
        .source(format!("stepca {version}"));
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = top.render_title(&mut out);
    let _ = top.render_name_section(&mut out);
    let _ = top.render_synopsis_section(&mut out);
    let mut description = Roff::default();
    description.control("SH", ["DESCRIPTION"]);
    description.text([roman(DESCRIPTION)]);
    let _ = description.to_writer(&mut out);
    let _ = top.render_options_section(&mut out);

    let mut roff = Roff::default();
    roff.control("SH", ["COMMANDS"]);
    let _ = roff.to_writer(&mut out);
    for sub in &commands {
        let name = format!("stepca {}", sub.get_name());
        let mut head = Roff::default();
        head.control("SS", [name.as_str()]);
        let about = sub.get_long_about().or_else(|| sub.get_about());
        for line in about.map(|a| a.to_string()).unwrap_or_default().lines() {
            head.text([roman(line)]);
        }
        head.control("PP", []);
        let _ = head.to_writer(&mut out);
        let page = Man::new(sub.clone().bin_name(&name).disable_help_flag(true));
        let mut section = Vec::new();
        let _ = page.render_synopsis_section(&mut section);
        let mut pp = Roff::default();
        pp.control("PP", []);
        let _ = pp.to_writer(&mut section);
        let _ = page.render_options_section(&mut section);
        // Their .SH headings would end COMMANDS: keep the content under this .SS.
        for line in String::from_utf8_lossy(&section).lines() {
            if !line.starts_with(".SH ") {
                out.extend_from_slice(line.as_bytes());
                out.push(b'\n');
            }
        }
    }

    let mut tail = Roff::default();
    tail.control("SH", ["EXIT STATUS"]);
    for &(code, what) in crate::EXIT_STATUS {
        tail.control("TP", []);
        tail.text([bold(code)]);
        tail.text([roman(what)]);
    }
    tail.control("PP", []);
    tail.text([roman(
        "needs-renewal has step's codes instead: 0 due, 1 not due, 2 no such file, 255 any \
         other error, usage errors included.",
    )]);
    // Every argument that an environment variable can give, from the definitions.
    let mut vars: Vec<(String, String)> = crate::config::ENVIRONMENT
        .iter()
        .map(|(v, what)| (v.to_string(), what.to_string()))
        .collect();
    for arg in cmd
        .get_arguments()
        .chain(commands.iter().flat_map(|c| c.get_arguments()))
    {
        if let (Some(var), Some(long)) = (arg.get_env(), arg.get_long()) {
            let var = var.to_string_lossy().into_owned();
            if !vars.iter().any(|(v, _)| *v == var) {
                vars.push((var, format!("the same as --{long}")));
            }
        }
    }
    if !vars.is_empty() {
        tail.control("SH", ["ENVIRONMENT"]);
    }
    for (var, what) in vars {
        tail.control("TP", []);
        tail.text([bold(var)]);
        tail.text([roman(what)]);
    }
    tail.control("SH", ["SEE ALSO"]);
    tail.text([roman("step(1), step-ca(1)")]);
    tail.control("SH", ["VERSION"]);
    tail.text([roman(format!("v{version}"))]);
    let _ = tail.to_writer(&mut out);
    // Every piece rendered apart starts with roff's definition of \*(Aq: keep the first.
    let text = String::from_utf8_lossy(&out).into_owned();
    let mut definitions = 0;
    let mut page = String::with_capacity(text.len());
    for line in text.lines() {
        if line.starts_with(".ie \\n(.g .ds Aq") || line.starts_with(".el .ds Aq") {
            definitions += 1;
            if definitions > 2 {
                continue;
            }
        }
        page.push_str(line);
        page.push('\n');
    }
    page.into_bytes()
}
