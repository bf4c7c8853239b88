//! Terminals: the pty master handed to a `--console-socket` exactly as runc
//! hands it (one message, SCM_RIGHTS), `consoleSize` applied, and a
//! foreground `run -t` relaying a real terminal and restoring it.

mod common;
use common::*;
use serde_json::json;
use std::fs;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

/// The pty master and the name runc sends with it.
fn receive_master(listener: &UnixListener) -> (OwnedFd, String) {
    let (fd, payload) = receive_fd(listener);
    (fd, String::from_utf8_lossy(&payload).into_owned())
}

/// Read from the master until `want` shows up (or time runs out).
fn read_until(master: &mut fs::File, want: &str, timeout: Duration) -> String {
    nix::fcntl::fcntl(
        &*master,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .unwrap();
    let start = Instant::now();
    let mut got = String::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < timeout && !got.contains(want) {
        match master.read(&mut buf) {
            Ok(n) if n > 0 => got.push_str(&String::from_utf8_lossy(&buf[..n])),
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    got
}

#[test]
fn console_socket_receives_the_master_and_console_size_applies() {
    let mut c = Ctx::new("console_socket");
    c.config(|cfg| {
        cfg["process"]["terminal"] = json!(true);
        cfg["process"]["consoleSize"] = json!({"height": 30, "width": 100});
    });
    c.set_args(&["sh"]);
    let sock = c.dir.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let receiver = std::thread::spawn(move || receive_master(&listener));
    let b = c.bundle_s();
    c.rt(&[
        "create",
        "--console-socket",
        sock.to_str().unwrap(),
        "--bundle",
        &b,
        &c.id,
    ])
    .assert_ok("create with a console socket");
    let (master, name) = receiver.join().unwrap();
    assert_eq!(name, "/dev/ptmx");
    c.start().assert_ok("start");
    let mut master = fs::File::from(master);
    master
        .write_all(b"stty size; tty; echo $((6*7))\n")
        .unwrap();
    let out = read_until(&mut master, "42", Duration::from_secs(10));
    assert!(out.contains("30 100"), "consoleSize not applied: {out:?}");
    assert!(out.contains("/dev/pts/"), "not on a pty: {out:?}");
    master.write_all(b"exit\n").unwrap();
    c.wait_status("stopped", Duration::from_secs(10));
    c.rt(&["delete", &c.id]).assert_ok("delete");
    c.assert_no_leaks();
}

#[test]
fn terminal_without_console_socket_when_detached_is_refused() {
    let mut c = Ctx::new("tty_detached");
    c.config(|cfg| cfg["process"]["terminal"] = json!(true));
    let o = c.create();
    o.assert_fail("create -t without a console socket");
    assert!(o.stderr.contains("console socket"), "{o:?}");
    c.assert_no_leaks();
}

#[test]
fn exec_tty_through_console_socket() {
    let mut c = Ctx::new("exec_tty");
    c.set_args(&["sleep", "100"]);
    c.create().assert_ok("create");
    c.start().assert_ok("start");
    let sock = c.dir.join("exec.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let receiver = std::thread::spawn(move || receive_master(&listener));
    c.rt(&[
        "exec",
        "-t",
        "-d",
        "--console-socket",
        sock.to_str().unwrap(),
        &c.id,
        "sh",
    ])
    .assert_ok("exec -t -d");
    let (master, _) = receiver.join().unwrap();
    let mut master = fs::File::from(master);
    master.write_all(b"tty; echo $((6*7)); exit\n").unwrap();
    let out = read_until(&mut master, "42", Duration::from_secs(10));
    assert!(out.contains("/dev/pts/"), "{out:?}");
    c.rt(&["delete", "--force", &c.id]).assert_ok("delete");
    c.assert_no_leaks();
}

/// `run -t` in the foreground under a real terminal (util-linux `script`):
/// typed input reaches the shell, its output comes back, `exit 7` is the
/// exit status, and the terminal's mode is what it was before.
#[test]
fn foreground_run_relays_a_real_terminal() {
    let mut c = Ctx::new("foreground_tty");
    c.config(|cfg| cfg["process"]["terminal"] = json!(true));
    c.set_args(&["sh"]);
    let before = c.dir.join("stty.before");
    let after = c.dir.join("stty.after");
    let code = c.dir.join("code");
    let inner = format!(
        "stty -g > {b}; {bin} --root {root} run --bundle {bundle} {id}; echo $? > {code}; stty -g > {a}",
        b = before.display(),
        a = after.display(),
        code = code.display(),
        bin = bin().display(),
        root = c.root_s(),
        bundle = c.bundle_s(),
        id = c.id,
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &inner, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux");
    let mut stdin = child.stdin.take().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    stdin.write_all(b"echo typed-$((40+2))\n").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    stdin.write_all(b"exit 7\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("typed-42"),
        "no echo of the typed command: {text:?}"
    );
    assert_eq!(read(&code).trim(), "7", "{text:?}");
    assert_eq!(read(&before), read(&after), "terminal mode not restored");
    c.assert_no_leaks();
}
