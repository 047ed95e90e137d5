//! A throwaway PostgreSQL cluster for a test: `initdb` in a temporary directory, the
//! server on a free port of 127.0.0.1, stopped and deleted when the [`PgCluster`] is
//! dropped. Debian's PostgreSQL (`initdb` and `pg_ctl` on `PATH`, or under
//! `/usr/lib/postgresql/<version>/bin`).
//!
//! PostgreSQL refuses to run as root: a test run as root (CI) runs the cluster as the
//! `postgres` user that Debian's package creates. Without PostgreSQL a test is skipped
//! with a notice; `MCPO_REQUIRE_POSTGRES=1` (set by `.ci/run`) makes that a failure.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The environment variable that makes a missing PostgreSQL a test failure.
pub const REQUIRE_PG_VAR: &str = "MCPO_REQUIRE_POSTGRES";

/// A running throwaway cluster.
pub struct PgCluster {
    dir: PathBuf,
    bin: PathBuf,
    owner: Option<(u32, u32)>,
    port: u16,
}

impl PgCluster {
    /// Starts a cluster for the test called `test`; `None` (with a notice) when
    /// PostgreSQL is not installed and not required.
    pub fn start(test: &str) -> Option<PgCluster> {
        let Some(bin) = find_bin() else {
            let required = std::env::var(REQUIRE_PG_VAR).is_ok_and(|v| v == "1");
            assert!(
                !required,
                "{test}: PostgreSQL's initdb is not installed ({REQUIRE_PG_VAR}=1 requires it: apt-get install postgresql)"
            );
            let _ = writeln!(
                std::io::stderr(),
                "note: {test}: skipped, PostgreSQL's initdb is not installed ({REQUIRE_PG_VAR}=1 makes this a failure)"
            );
            return None;
        };
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mcpo-pg-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the cluster's directory");
        let owner = if is_root() {
            let ids = user_ids("postgres")
                .expect("running as root, and there is no `postgres` user to run PostgreSQL as");
            std::os::unix::fs::chown(&dir, Some(ids.0), Some(ids.1))
                .expect("give the cluster's directory to postgres");
            Some(ids)
        } else {
            None
        };
        let mut cluster = PgCluster {
            dir,
            bin,
            owner,
            port: 0,
        };
        let data = cluster.dir.join("data");
        cluster.run(
            "initdb",
            &[
                "-D",
                path_str(&data),
                "-U",
                "mcpo",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        // A free port: taken from the OS, released, then given to the server (retried
        // when another process took it meanwhile).
        for attempt in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .expect("find a free port");
            let options = format!(
                "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c max_connections=100",
                path_str(&cluster.dir)
            );
            let log = cluster.dir.join("server.log");
            let ok = cluster.try_run(
                "pg_ctl",
                &[
                    "-D",
                    path_str(&data),
                    "-l",
                    path_str(&log),
                    "-o",
                    &options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
            );
            if ok {
                cluster.port = port;
                return Some(cluster);
            }
            assert!(
                attempt < 4,
                "the PostgreSQL server did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        None
    }

    /// The URL of the cluster's `postgres` database as the superuser `mcpo`.
    pub fn url(&self) -> String {
        format!("postgresql://mcpo@127.0.0.1:{}/postgres", self.port)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs `psql` with `sql` against the cluster and returns what it printed (unaligned,
    /// tuples only).
    pub fn psql(&self, sql: &str) -> String {
        let out = Command::new(self.tool("psql"))
            .args([
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.url(),
                "-c",
                sql,
            ])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A plain-text dump of the cluster's `postgres` database (`pg_dump`), schema and
    /// data: what a backup of the database holds.
    pub fn dump(&self) -> String {
        let out = Command::new(self.tool("pg_dump"))
            .args(["--no-password", "-d", &self.url()])
            .output()
            .expect("run pg_dump");
        assert!(
            out.status.success(),
            "pg_dump failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// [`PgCluster::psql`], `None` when psql fails (a table not created yet, say).
    pub fn try_psql(&self, sql: &str) -> Option<String> {
        let out = Command::new(self.tool("psql"))
            .args(["-X", "-A", "-t", "-q", "-d", &self.url(), "-c", sql])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// A program of PostgreSQL's: beside `initdb`, else on `PATH`.
    fn tool(&self, name: &str) -> PathBuf {
        let beside = self.bin.join(name);
        if beside.is_file() {
            beside
        } else {
            PathBuf::from(name)
        }
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new(self.tool(program));
        c.args(args).stdin(Stdio::null());
        if let Some((uid, gid)) = self.owner {
            use std::os::unix::process::CommandExt;
            c.uid(uid).gid(gid).current_dir(&self.dir);
        }
        c
    }

    fn try_run(&self, program: &str, args: &[&str]) -> bool {
        self.command(program, args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self
            .command(program, args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = self
            .command(
                "pg_ctl",
                &["-D", path_str(&data), "-m", "immediate", "-w", "stop"],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// The directory holding `initdb`: on `PATH`, else the newest Debian version's.
fn find_bin() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .and_then(|paths| std::env::split_paths(&paths).find(|d| d.join("initdb").is_file()));
    if let Some(dir) = on_path {
        // A symbolic link on PATH (Debian's /usr/bin wrappers do not include initdb).
        let real = std::fs::canonicalize(dir.join("initdb")).ok()?;
        return real.parent().map(Path::to_path_buf);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    // The effective uid is the third field of the `Uid:` line of /proc/self/status. (A
    // probe file shared by the tests' threads raced: one thread removed it while another
    // read its owner, and initdb then ran as root and refused.)
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(line) = status.lines().find(|l| l.starts_with("Uid:"))
    {
        return line.split_whitespace().nth(2) == Some("0");
    }
    // Elsewhere: the owner of a file this thread just created is its effective user.
    static PROBES: AtomicU32 = AtomicU32::new(0);
    let probe = std::env::temp_dir().join(format!(
        "mcpo-uid-probe-{}-{}",
        std::process::id(),
        PROBES.fetch_add(1, Ordering::SeqCst)
    ));
    let uid = std::fs::write(&probe, b"")
        .and_then(|()| std::fs::metadata(&probe))
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    let _ = std::fs::remove_file(&probe);
    uid.is_ok_and(|u| u == 0)
}

/// The uid and gid of `user`, from `/etc/passwd`.
fn user_ids(user: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        if f.next()? != user {
            return None;
        }
        let _ = f.next();
        let uid = f.next()?.parse().ok()?;
        let gid = f.next()?.parse().ok()?;
        Some((uid, gid))
    })
}
