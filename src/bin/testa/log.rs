//! runc's logging: logrus text lines (`time=".." level=error msg=".."`) or
//! JSON lines (`{"level":..,"msg":..,"time":..}`), to `--log` or stderr.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Where and how log lines go. The `--log` file is opened for each line,
/// not held: an fd opened before the `--preserve-fds` check could take a
/// number the caller left free and so reach the container.
pub struct Logger {
    file: Option<PathBuf>,
    json: bool,
    debug: bool,
}

fn open_log(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

impl Logger {
    pub fn new(path: Option<&Path>, json: bool, debug: bool) -> Logger {
        // A log that cannot be opened goes to stderr, as before; the probe's
        // fd is closed at once.
        let file = path.filter(|p| open_log(p).is_ok()).map(Path::to_path_buf);
        Logger { file, json, debug }
    }

    fn line(&self, level: &str, msg: &str) -> String {
        let time = now();
        if self.json {
            let v = serde_json::json!({"level": level, "msg": msg, "time": time});
            format!("{v}\n")
        } else {
            format!("time={time:?} level={level} msg={msg:?}\n")
        }
    }

    fn write(&self, level: &str, msg: &str) {
        let line = self.line(level, msg);
        match &self.file {
            Some(path) => {
                if let Ok(mut f) = open_log(path) {
                    let _ = f.write_all(line.as_bytes());
                }
            }
            None => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
    }

    /// An error: to the log, and (as runc does) plainly to stderr when the
    /// log goes to a file.
    pub fn error(&self, msg: &str) {
        self.write("error", msg);
        if self.file.is_some() {
            eprintln!("{msg}");
        }
    }

    pub fn warn(&self, msg: &str) {
        self.write("warning", msg);
    }

    pub fn debug(&self, msg: &str) {
        if self.debug {
            self.write("debug", msg);
        }
    }
}

/// Now in RFC 3339 (UTC, seconds), as logrus prints it.
fn now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    testa::container::format_rfc3339(secs, 0)
}
