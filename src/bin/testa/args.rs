//! The command line, as runc spells it.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "testa",
    version = concat!("version ", env!("CARGO_PKG_VERSION"), "\nspec: 1.2.0"),
    about = "An OCI container runtime, runc-compatible"
)]
pub struct Cli {
    /// Root directory for storage of container state
    #[arg(long, global = true, default_value = "/run/testa")]
    pub root: PathBuf,
    /// Log file (default: stderr)
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long = "log-format", global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Enable debug logging
    #[arg(long, global = true)]
    pub debug: bool,
    /// Use systemd for cgroups (not supported yet)
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Accepted for runc compatibility (true, false or auto)
    #[arg(long)]
    pub rootless: Option<String>,
    /// Accepted for runc compatibility
    #[arg(long, global = true, hide = true)]
    pub criu: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(clap::Args)]
pub struct CreateArgs {
    /// Container id
    pub id: String,
    /// Path to the bundle directory
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// File to write the container's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to receive the pty master of a terminal
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Do not use pivot_root to jail the process (MS_MOVE + chroot)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N additional file descriptors (3..3+N) to the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
}

#[derive(Subcommand)]
pub enum Command {
    /// Create a container
    Create(CreateArgs),
    /// Start a created container
    Start {
        /// Container id
        id: String,
    },
    /// Create and start a container
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Detach from the container's process
        #[arg(short, long)]
        detach: bool,
        /// Do not delete the container after it exits
        #[arg(long)]
        keep: bool,
    },
    /// Output the state of a container
    State {
        /// Container id
        id: String,
    },
    /// Send a signal to the container's init process
    Kill {
        /// Container id
        id: String,
        /// Signal name or number (default SIGTERM)
        signal: Option<String>,
        /// Send the signal to all processes of the container
        #[arg(short, long)]
        all: bool,
    },
    /// Delete a container
    Delete {
        /// Container id
        id: String,
        /// Kill the container first if it is running
        #[arg(short, long)]
        force: bool,
    },
    /// List containers
    List {
        /// Output format: table or json
        #[arg(short, long, default_value = "table")]
        format: String,
        /// Print only the container ids
        #[arg(short, long)]
        quiet: bool,
    },
    /// Create a new specification file (config.json)
    Spec {
        /// Path to the bundle directory
        #[arg(short, long)]
        bundle: Option<PathBuf>,
        /// Generate a configuration for a rootless container
        #[arg(long)]
        rootless: bool,
    },
    /// Show the features this runtime supports (runtime-spec features JSON)
    Features,
    /// Create the container a library caller describes in FILE (the helper
    /// of multi-threaded embedders)
    #[command(hide = true)]
    CreateFromFile {
        /// The request (JSON)
        file: PathBuf,
    },
    /// Execute a new process inside a running container
    Exec(ExecArgs),
    /// Suspend every process of the container
    Pause {
        /// Container id
        id: String,
    },
    /// Resume a paused container
    Resume {
        /// Container id
        id: String,
    },
    /// Update the container's resource limits
    Update(UpdateArgs),
    /// Display container events: resource statistics and OOM kills
    Events {
        /// Container id
        id: String,
        /// Print the statistics once and exit
        #[arg(long)]
        stats: bool,
        /// Interval between statistics (e.g. 5s, 500ms)
        #[arg(long, default_value = "5s")]
        interval: String,
    },
    /// List the processes running in a container
    Ps {
        /// Container id
        id: String,
        /// Output format: table or json
        #[arg(short, long, default_value = "table")]
        format: String,
        /// Options passed to ps(1) (default -ef)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
}

/// `update`'s flags, as runc spells them.
#[derive(clap::Args)]
pub struct UpdateArgs {
    /// Container id
    pub id: String,
    /// File holding a linux.resources JSON object, or '-' for stdin
    #[arg(short, long)]
    pub resources: Option<String>,
    /// Block I/O weight (10-1000)
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period (µs)
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota (µs)
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-share", alias = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// CPU realtime period (µs)
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime (µs)
    #[arg(long = "cpu-rt-runtime")]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs to use
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Memory limit (bytes, or with a k/m/g suffix)
    #[arg(long)]
    pub memory: Option<String>,
    /// Memory reservation (soft limit)
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Memory + swap limit; -1 for unlimited swap
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<String>,
    /// Maximum number of pids
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
}

/// `exec`'s flags, as runc spells them.
#[derive(clap::Args)]
pub struct ExecArgs {
    /// Container id
    pub id: String,
    /// The command and its arguments (unless --process)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// Path to a process.json (an OCI process object)
    #[arg(short, long)]
    pub process: Option<std::path::PathBuf>,
    /// Detach from the process
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the process's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to receive the pty master of a terminal
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Working directory in the container
    #[arg(long)]
    pub cwd: Option<String>,
    /// Set an environment variable (KEY=value)
    #[arg(short, long)]
    pub env: Vec<String>,
    /// uid[:gid] to run as
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional gids
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Add a capability
    #[arg(short, long)]
    pub cap: Vec<String>,
    /// Set no_new_privs
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Pass N additional file descriptors (3..3+N)
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// SELinux label (not supported)
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// AppArmor profile (not supported)
    #[arg(long)]
    pub apparmor: Option<String>,
}
