//! Escapes tried as an attacker would: a malicious image, a hostile config or an
//! `exec` into a compromised container. Each test is the attack, and asserts from
//! the host that nothing outside the container changed. README.md (Security) lists
//! the classes and the CVEs behind them.
//!
//! The runtime binary a container attacks is always a copy made by the test
//! (`Ctx::bin`), never the build output.

mod common;

use common::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Tries, for about three seconds after the runtime has gone, to write through fd 7
/// (a handle on the runtime's executable the image got hold of), and reports
/// "wrote" or "blocked" in /result/attack (renamed into place: complete once seen).
const WRITE_THROUGH_FD7: &str = r#"
i=0
while [ $i -lt 60 ]; do
  if (printf 'OWNED BY THE CONTAINER' > /proc/self/fd/7) 2>/dev/null; then
    echo wrote > /result/.attack; mv /result/.attack /result/attack; exit 0
  fi
  i=$((i+1)); usleep 50000
done
echo blocked > /result/.attack; mv /result/.attack /result/attack
"#;

/// The state of a CVE-2019-5736 attack: the copy under attack and its content.
struct ExeAttack {
    victim: PathBuf,
    before: Vec<u8>,
    result: PathBuf,
}

/// Point `ctx` at a copy of the runtime, bind a host dir at /result for the
/// container's report, and plant the attack script.
fn exe_attack(ctx: &mut Ctx) -> ExeAttack {
    let victim = ctx.dir.join("victim-runtime");
    fs::copy(bin(), &victim).expect("copy the runtime binary");
    ctx.bin = victim.clone();
    let result = ctx.scratch("result");
    let bind = bind_mount(&result, "/result", &["rw"]);
    ctx.config(|c| {
        c["root"]["readonly"] = json!(false);
        c["mounts"].as_array_mut().unwrap().push(bind);
    });
    fs::write(ctx.rootfs.join("attack.sh"), WRITE_THROUGH_FD7).unwrap();
    ExeAttack {
        before: fs::read(&victim).unwrap(),
        victim,
        result,
    }
}

/// The image's ELF interpreter: a program that keeps a handle on the binary it
/// was asked to load (the host's runtime, when the container runs it) and then
/// runs /attack.sh.
fn plant_evil_interpreter(rootfs: &Path) {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let evil = BUILT.get_or_init(|| {
        build_probe(
            "evil_interp",
            &["-static", "-nostdlib", "-fno-stack-protector", "-O1"],
        )
    });
    fs::create_dir_all(rootfs.join("lib64")).unwrap();
    fs::copy(evil, rootfs.join("lib64/ld-linux-x86-64.so.2")).unwrap();
}

impl ExeAttack {
    #[track_caller]
    fn assert_blocked(&self) {
        let report = self.result.join("attack");
        assert!(
            wait_until(Duration::from_secs(30), || report.exists()),
            "the attack never reported: it did not run as planned"
        );
        assert!(
            fs::read(&self.victim).unwrap() == self.before,
            "the container rewrote the host's runtime binary"
        );
        assert_eq!(read(&report).trim(), "blocked");
    }
}

/// The container's program is `/proc/self/exe`: the kernel runs the host's
/// runtime binary with the image's interpreter, which keeps a handle on it.
#[test]
fn init_running_proc_self_exe_cannot_overwrite_the_runtime() {
    let mut ctx = Ctx::new("init_proc_self_exe");
    let attack = exe_attack(&mut ctx);
    plant_evil_interpreter(&ctx.rootfs);
    ctx.set_args(&["/proc/self/exe"]);
    ctx.create().assert_ok("create");
    ctx.start().assert_ok("start");
    attack.assert_blocked();
    ctx.rt(&["delete", "--force", &ctx.id]).assert_ok("delete");
}

/// `exec` of a script whose interpreter is `#!/proc/self/exe`, planted by the
/// compromised container.
#[test]
fn exec_of_a_proc_self_exe_script_cannot_overwrite_the_runtime() {
    let mut ctx = Ctx::new("exec_proc_self_exe");
    let attack = exe_attack(&mut ctx);
    plant_evil_interpreter(&ctx.rootfs);
    let script = ctx.rootfs.join("innocent");
    fs::write(&script, "#!/proc/self/exe\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    ctx.set_args(&["sleep", "60"]);
    ctx.create().assert_ok("create");
    ctx.start().assert_ok("start");
    ctx.rt(&["exec", "-d", &ctx.id, "/innocent"])
        .assert_ok("exec");
    attack.assert_blocked();
    ctx.rt(&["delete", "--force", &ctx.id]).assert_ok("delete");
}

/// A container with `CAP_SYS_PTRACE` watches its pid namespace for the `exec`
/// child, which is a clone of the runtime until it execs, and opens its
/// `/proc/<pid>/exe` (non-dumpable processes are no obstacle to that capability).
/// The runtime is held at the pid file (a FIFO) so the watcher cannot miss it.
#[test]
fn ptrace_capable_container_cannot_reach_the_runtime_during_exec() {
    let mut ctx = Ctx::new("ptrace_exec_child");
    let attack = exe_attack(&mut ctx);
    let watcher = r#"
while :; do
  for p in /proc/[0-9]*; do
    case "$(readlink $p/exe 2>/dev/null)" in *busybox*|"") continue;; esac
    exec 7<$p/exe && { readlink $p/exe > /result/got; break 2; }
  done
  usleep 2000
done
. /attack.sh
"#;
    fs::write(ctx.rootfs.join("watch.sh"), watcher).unwrap();
    ctx.config(|c| {
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_SYS_PTRACE"));
        }
    });
    ctx.set_args(&["sh", "/watch.sh"]);
    ctx.create().assert_ok("create");
    ctx.start().assert_ok("start");

    let pid_file = ctx.dir.join("exec.pid");
    let fifo = ctx.dir.join(".exec.pid.tmp");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let got = attack.result.join("got");
    let release = std::thread::spawn(move || {
        let seen = wait_until(Duration::from_secs(20), || got.exists());
        // Opening the FIFO for reading lets the runtime write the pid and go on.
        let pid = fs::read_to_string(&fifo).unwrap();
        (seen, pid)
    });
    let pf = pid_file.to_string_lossy().into_owned();
    ctx.rt(&["exec", "-d", "--pid-file", &pf, &ctx.id, "true"])
        .assert_ok("exec");
    let (seen, pid) = release.join().unwrap();
    assert!(seen, "the watcher never found the exec child");
    assert!(pid.trim().parse::<i32>().is_ok(), "pid file: {pid:?}");
    attack.assert_blocked();
    ctx.rt(&["delete", "--force", &ctx.id]).assert_ok("delete");
}

/// Mount points of a process's mount namespace, as seen from the host.
fn mount_points_of(pid: i64) -> Vec<String> {
    read(format!("/proc/{pid}/mountinfo"))
        .lines()
        .map(|l| l.split(' ').nth(4).unwrap_or_default().to_string())
        .collect()
}

/// The image's `/proc` is a symlink (CVE-2025-52881 class): procfs would land
/// wherever it points, and every `/proc` rule be judged on a path that is not
/// `/proc` (a volume whose image path links to `/proc/1` could then cover the
/// procfs files the runtime later mounts through). procfs must go onto an
/// ordinary directory, as runc requires.
#[test]
fn proc_on_an_image_symlink_is_refused() {
    let mut ctx = Ctx::new("proc_symlink");
    fs::remove_dir(ctx.rootfs.join("proc")).unwrap();
    fs::create_dir(ctx.rootfs.join("evil")).unwrap();
    std::os::unix::fs::symlink("/evil", ctx.rootfs.join("proc")).unwrap();
    std::os::unix::fs::symlink("/proc/1", ctx.rootfs.join("data")).unwrap();
    let volume = ctx.scratch("volume");
    fs::create_dir(volume.join("fd")).unwrap();
    for n in 0..64 {
        std::os::unix::fs::symlink("/etc/hosts", volume.join(format!("fd/{n}"))).unwrap();
    }
    let bind = bind_mount(&volume, "/data", &["rw"]);
    ctx.config(|c| c["mounts"].as_array_mut().unwrap().push(bind));
    let out = ctx.create();
    out.assert_fail("create with /proc a symlink");
    expect_one_line_error(&out);
    assert!(
        out.stderr.contains("must be mounted on ordinary directory"),
        "{}",
        out.stderr
    );
    assert!(fs::read_dir(ctx.rootfs.join("evil"))
        .unwrap()
        .next()
        .is_none());
    ctx.assert_no_leaks();
}

/// The config mounts no procfs, and the image's `/proc` is a fake tree whose
/// `self/fd/N` all link to an image file. After the pivot, the runtime must not
/// resolve anything through it: masks and read-only paths land on the image's
/// `/proc/kcore` and `/proc/sys` (not where the links point), `oom_score_adj`
/// reaches the real process, and the exec FIFO is the real FIFO (its start byte
/// must not land in the link's target). A sysctl, which would have to be
/// written under the image's `/proc/sys`, is refused naming the field.
#[test]
fn a_fake_proc_in_the_image_redirects_nothing() {
    let mut ctx = Ctx::new("fake_proc");
    let result = ctx.scratch("result");
    let p = ctx.rootfs.join("proc");
    fs::create_dir_all(p.join("sys/kernel")).unwrap();
    fs::create_dir_all(p.join("self/fd")).unwrap();
    fs::write(p.join("kcore"), "fake kcore").unwrap();
    fs::write(p.join("sys/kernel/hostname"), "fake").unwrap();
    fs::write(p.join("self/oom_score_adj"), "fake").unwrap();
    for n in 0..256 {
        std::os::unix::fs::symlink("/etc/target", p.join(format!("self/fd/{n}"))).unwrap();
    }
    fs::write(ctx.rootfs.join("etc/target"), "target").unwrap();
    let bind = bind_mount(&result, "/result", &["rw"]);
    ctx.config(|c| {
        let mounts = c["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| m["type"] != "proc");
        mounts.push(bind);
        c["linux"]["sysctl"] = json!({"kernel.hostname": "via-sysctl"});
        c["process"]["oomScoreAdj"] = json!(123);
    });
    let refused = ctx.create();
    refused.assert_fail("a sysctl without a procfs");
    expect_one_line_error(&refused);
    assert!(
        refused.stderr.contains("linux.sysctl"),
        "{}",
        refused.stderr
    );
    assert_eq!(read(p.join("sys/kernel/hostname")), "fake");

    ctx.config(|c| c["linux"]["sysctl"] = json!({}));
    ctx.set_sh("touch /result/.ran; mv /result/.ran /result/ran; sleep 60");
    ctx.create().assert_ok("create");
    ctx.start().assert_ok("start");
    let out = result.join("ran");
    assert!(
        wait_until(Duration::from_secs(10), || out.exists()),
        "the container never ran"
    );
    assert_eq!(read(p.join("self/oom_score_adj")), "fake");
    assert_eq!(read(ctx.rootfs.join("etc/target")), "target");
    let pid = ctx.state()["pid"].as_i64().unwrap();
    assert_eq!(read(format!("/proc/{pid}/oom_score_adj")).trim(), "123");
    let points = mount_points_of(pid);
    for want in ["/proc/kcore", "/proc/sys"] {
        assert!(
            points.iter().any(|m| m == want),
            "{want} not mounted: {points:?}"
        );
    }
    assert!(
        !points.iter().any(|m| m == "/etc/target"),
        "a mount landed on the link's target: {points:?}"
    );
    ctx.rt(&["delete", "--force", &ctx.id]).assert_ok("delete");
}

/// The image's `/dev/console` is a symlink (CVE-2025-52565 class) and the config
/// brings no `/dev` tmpfs: the console must not be mounted where it points.
#[test]
fn console_on_an_image_symlink_is_refused() {
    let mut ctx = Ctx::new("console_symlink");
    fs::write(ctx.rootfs.join("etc/console-target"), "target").unwrap();
    std::os::unix::fs::symlink("/etc/console-target", ctx.rootfs.join("dev/console")).unwrap();
    ctx.config(|c| {
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["destination"] != "/dev");
        c["process"]["terminal"] = json!(true);
    });
    ctx.set_args(&["sleep", "60"]);
    let sock = ctx.dir.join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let receiver = std::thread::spawn(move || receive_fd(&listener));
    let b = ctx.bundle_s();
    let s = sock.to_string_lossy().into_owned();
    let out = ctx.rt(&["create", "--bundle", &b, "--console-socket", &s, &ctx.id]);
    if out.ok() {
        let pid = ctx.state()["pid"].as_i64().unwrap();
        let points = mount_points_of(pid);
        ctx.rt(&["delete", "--force", &ctx.id]).assert_ok("delete");
        panic!("create took a symlinked /dev/console; mounts: {points:?}");
    }
    drop(receiver);
    expect_one_line_error(&out);
    assert!(out.stderr.contains("/dev/console"), "{}", out.stderr);
    assert_eq!(read(ctx.rootfs.join("etc/console-target")), "target");
    ctx.assert_no_leaks();
}

/// The image's `/dev/null` is a link to one of its files and the config brings
/// no `/dev` tmpfs (CVE-2025-31133 class): masking with it would bind that file
/// (or whatever a race swaps in) over `/proc/kcore` and friends instead of
/// hiding them. Only the real 1:3 character device is used.
#[test]
fn masks_refuse_a_fake_dev_null() {
    let mut ctx = Ctx::new("fake_dev_null");
    fs::write(ctx.rootfs.join("etc/not-null"), "not null").unwrap();
    std::os::unix::fs::symlink("/etc/not-null", ctx.rootfs.join("dev/null")).unwrap();
    ctx.config(|c| {
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["destination"] != "/dev");
    });
    let out = ctx.create();
    out.assert_fail("create with a fake /dev/null");
    expect_one_line_error(&out);
    assert!(
        out.stderr.contains("not the 1:3 character device"),
        "{}",
        out.stderr
    );
    ctx.assert_no_leaks();
}

/// A `CAP_SYS_PTRACE` container shares its pid namespace with a second one (a
/// pod) and, while that one's init waits to be started, walks every fd of it
/// (`/proc/<pid>/fd/N`): none may lead to the host's filesystem, e.g. a host
/// procfs handle whose `1/root` is the host's root.
#[test]
fn a_ptrace_capable_pod_neighbour_gets_no_host_fd_from_an_init() {
    let mut watcher = Ctx::new("pod_watcher");
    let secret = watcher.dir.join("host-secret");
    fs::write(&secret, "host only").unwrap();
    let result = watcher.scratch("result");
    let bind = bind_mount(&result, "/result", &["rw"]);
    let script = format!(
        r#"
while [ ! -e /result/go ]; do usleep 20000; done
for f in /proc/[0-9]*/fd/*; do
  cat "$f/1/root{secret}" 2>/dev/null && echo "$f" >> /result/leaks
  cat "$f/..{secret}" 2>/dev/null && echo "$f" >> /result/leaks
  cat "$f/../..{secret}" 2>/dev/null && echo "$f" >> /result/leaks
done
touch /result/leaks; mv /result/leaks /result/done; sleep 60
"#,
        secret = secret.display()
    );
    fs::write(watcher.rootfs.join("watch.sh"), script).unwrap();
    watcher.config(|c| {
        c["mounts"].as_array_mut().unwrap().push(bind);
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_SYS_PTRACE"));
        }
    });
    watcher.set_args(&["sh", "/watch.sh"]);
    watcher.create().assert_ok("create the watcher");
    watcher.start().assert_ok("start the watcher");
    let wpid = watcher.state()["pid"].as_i64().unwrap();

    let mut pod = Ctx::new("pod_member");
    pod.config(|c| {
        add_ns(
            c,
            json!({"type": "pid", "path": format!("/proc/{wpid}/ns/pid")}),
        );
    });
    pod.set_args(&["true"]);
    pod.create().assert_ok("create the pod member");
    // Its init now waits on the exec FIFO, holding whatever it holds.
    fs::write(result.join("go"), "").unwrap();
    let done = result.join("done");
    assert!(
        wait_until(Duration::from_secs(30), || done.exists()),
        "the watcher never finished"
    );
    assert_eq!(read(&done), "", "host files reached through an init's fds");
    pod.rt(&["delete", "--force", &pod.id])
        .assert_ok("delete the pod member");
    watcher
        .rt(&["delete", "--force", &watcher.id])
        .assert_ok("delete the watcher");
}
