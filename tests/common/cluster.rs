//! Private PostgreSQL clusters from the system's binaries, for tests that need a server of
//! their own (restarts, late starts) and as the shared fallback when `TEST_DATABASE_URL` is
//! unset. As root, `initdb` refuses to run, so the cluster is run as the `postgres` user.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// A cluster in a folder; stopped (immediate mode) when dropped unless `leak`ed.
pub struct PrivateCluster {
    pub dir: PathBuf,
    pub port: u16,
    bin: PathBuf,
    leak: bool,
}

impl PrivateCluster {
    /// initdb + start on a free port.
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        let bin = bin_dir()?;
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let data = dir.join("data");
        if !data.join("PG_VERSION").exists() {
            chown_to_postgres(dir)?;
            run_as_postgres(
                Command::new(bin.join("initdb"))
                    .args([
                        "-A",
                        "trust",
                        "-U",
                        "postgres",
                        "--no-sync",
                        "-E",
                        "UTF8",
                        "--locale=C.UTF-8",
                    ])
                    .arg("-D")
                    .arg(&data),
            )
            .context("initdb")?;
        }
        let port = free_port()?;
        let cluster = Self {
            dir: dir.to_path_buf(),
            port,
            bin,
            leak: false,
        };
        cluster.start_server()?;
        Ok(cluster)
    }

    /// The `postgres` database of this cluster over TCP.
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }

    /// Starts the server (again) on the same port.
    pub fn start_server(&self) -> anyhow::Result<()> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400 -c shared_buffers=64MB",
            self.port,
            self.dir.display()
        );
        run_as_postgres(
            Command::new(self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.dir.join("data"))
                .args(["-l"])
                .arg(self.dir.join("server.log"))
                .args(["-o", &opts, "-w", "-t", "60", "start"]),
        )
        .context("pg_ctl start")
    }

    /// Stops the server (fast mode: connections are closed).
    pub fn stop_server(&self) -> anyhow::Result<()> {
        run_as_postgres(
            Command::new(self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.dir.join("data"))
                .args(["-m", "fast", "-w", "stop"]),
        )
        .context("pg_ctl stop")
    }

    /// Leaves the server running after this value is dropped.
    pub fn leak(mut self) {
        self.leak = true;
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        if !self.leak {
            let _ = run_as_postgres(
                Command::new(self.bin.join("pg_ctl"))
                    .arg("-D")
                    .arg(self.dir.join("data"))
                    .args(["-m", "immediate", "-w", "stop"]),
            );
        }
    }
}

/// The cluster shared by every test process of this build: started once under a file lock,
/// reused while it answers.
pub fn shared(dir: &Path) -> anyhow::Result<String> {
    std::fs::create_dir_all(dir)?;
    let lock = std::fs::File::create(dir.join("lock"))?;
    lock.lock().context("locking the shared cluster folder")?;
    let port_file = dir.join("port");
    if let Ok(port) = std::fs::read_to_string(&port_file) {
        let url = format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
            port.trim()
        );
        if answers(&url) {
            return Ok(url);
        }
        let _ = std::fs::remove_file(dir.join("data/postmaster.pid"));
    }
    let cluster = PrivateCluster::start(dir)?;
    std::fs::write(&port_file, cluster.port.to_string())?;
    let url = cluster.url();
    cluster.leak();
    Ok(url)
}

fn answers(url: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let ok = Command::new("psql")
            .args([url, "-XAtqc", "select 1"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok || Instant::now() > deadline {
            return ok;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The folder of the newest installed server binaries.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    candidates.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
    });
    if let Some(dir) = candidates
        .into_iter()
        .rev()
        .find(|d| d.join("initdb").exists())
    {
        return Ok(dir);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
        .context(
            "no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin or PATH",
        )
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
}

fn chown_to_postgres(dir: &Path) -> anyhow::Result<()> {
    if is_root() {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir)
            .status()?;
        if !status.success() {
            bail!("chown postgres {} failed", dir.display());
        }
    }
    Ok(())
}

fn run_as_postgres(cmd: &mut Command) -> anyhow::Result<()> {
    let output = if is_root() {
        let mut wrapped = Command::new("runuser");
        wrapped
            .args(["-u", "postgres", "--"])
            .arg(cmd.get_program())
            .args(cmd.get_args());
        wrapped.output()
    } else {
        cmd.output()
    }?;
    if !output.status.success() {
        bail!(
            "{} failed: {}{}",
            cmd.get_program().display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
