//! Running commands: echoing them, failing on a nonzero exit, teeing output
//! that must also be read back, and installing missing tools.

use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;

pub type Result<T = ()> = std::result::Result<T, String>;

/// `cargo`, the one that runs this xtask when cargo told us which.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn describe(cmd: &Command) -> String {
    let mut text = String::new();
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            text.push_str(&format!(
                "{}={} ",
                key.to_string_lossy(),
                value.to_string_lossy()
            ));
        }
    }
    let program = cmd.get_program().to_string_lossy();
    // Show `cargo`, not the toolchain path in $CARGO.
    let program = if program.ends_with("/cargo") {
        "cargo".into()
    } else {
        program
    };
    text.push_str(&program);
    for arg in cmd.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Runs `cmd` with inherited output; an error when it fails.
pub fn run(cmd: &mut Command) -> Result {
    let text = describe(cmd);
    eprintln!("$ {text}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start `{text}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{text}` failed ({status})"))
    }
}

/// Runs `cmd` and returns its standard output (standard error passes through).
pub fn output(cmd: &mut Command) -> Result<String> {
    let text = describe(cmd);
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start `{text}`: {e}"))?;
    if !out.status.success() {
        return Err(format!("`{text}` failed ({})", out.status));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("`{text}` printed non-UTF-8: {e}"))
}

/// Whether `cmd` starts and exits successfully, quietly.
pub fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `cmd`, forwarding its output line by line as it comes, and returns
/// every line (stdout and stderr interleaved as read) with the result.
pub fn run_tee(cmd: &mut Command) -> (Result, Vec<String>) {
    let text = describe(cmd);
    eprintln!("$ {text}");
    let mut child = match cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn() {
        Ok(child) => child,
        Err(e) => return (Err(format!("cannot start `{text}`: {e}")), Vec::new()),
    };
    let lines = Arc::new(Mutex::new(Vec::new()));
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let out_lines = Arc::clone(&lines);
    let out = thread::spawn(move || {
        for line in BufReader::new(stdout)
            .lines()
            .map_while(std::result::Result::ok)
        {
            println!("{line}");
            out_lines.lock().expect("lines lock").push(line);
        }
    });
    let err_lines = Arc::clone(&lines);
    let err = thread::spawn(move || {
        for line in BufReader::new(stderr)
            .lines()
            .map_while(std::result::Result::ok)
        {
            eprintln!("{line}");
            err_lines.lock().expect("lines lock").push(line);
        }
    });
    let status = child.wait();
    let _ = out.join();
    let _ = err.join();
    let _ = std::io::stdout().flush();
    let lines = std::mem::take(&mut *lines.lock().expect("lines lock"));
    let result = match status {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("`{text}` failed ({status})")),
        Err(e) => Err(format!("`{text}` did not finish: {e}")),
    };
    (result, lines)
}

/// Installs the cargo subcommand `cargo <sub>` from crate `krate` when `cargo <sub> --version` fails.
pub fn ensure_cargo_tool(sub: &str, krate: &str) -> Result {
    if succeeds(cargo().args([sub, "--version"])) {
        return Ok(());
    }
    eprintln!("`cargo {sub}` is missing; installing {krate} (this takes a few minutes, once)");
    run(cargo().args(["install", krate, "--locked"]))
}

fn rustup_installed(list: &str) -> Result<Vec<String>> {
    let text = output(Command::new("rustup").args([list, "list", "--installed"]))?;
    Ok(text.lines().map(|l| l.trim().to_string()).collect())
}

/// Adds rustup component `component` (for example `llvm-tools-preview`) when missing.
/// Installed components are listed without `-preview` and with the host triple.
pub fn ensure_component(component: &str) -> Result {
    let stem = component.trim_end_matches("-preview");
    if rustup_installed("component")?
        .iter()
        .any(|c| c == component || c.starts_with(&format!("{stem}-")))
    {
        return Ok(());
    }
    run(Command::new("rustup").args(["component", "add", component]))
}

/// Adds rustup target `target` when missing.
pub fn ensure_target(target: &str) -> Result {
    if rustup_installed("target")?.iter().any(|t| t == target) {
        return Ok(());
    }
    run(Command::new("rustup").args(["target", "add", target]))
}

/// Whether a person is at the terminal (both ends), for interactive review.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}
