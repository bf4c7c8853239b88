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
/// "wrote" or "blocked" in /result/attack.
const WRITE_THROUGH_FD7: &str = r#"
i=0
while [ $i -lt 60 ]; do
  if (printf 'OWNED BY THE CONTAINER' > /proc/self/fd/7) 2>/dev/null; then
    echo wrote > /result/attack; exit 0
  fi
  i=$((i+1)); usleep 50000
done
echo blocked > /result/attack
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
