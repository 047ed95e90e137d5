//! The PostgreSQL state backend: a workspace's state in a database that several machines
//! share (CI runners, laptops), behind the same [`Backend`] trait as the local file.
//!
//! One database holds many states, each under a `name` (`backend "postgres" { name =
//! "prod" }`, default `default`):
//!
//! ```text
//! mcpo_migrations      version, applied_at: which of this crate's table versions are in place
//! mcpo_states          name, lineage, serial, data, written_at, head, deltas_len: the snapshot
//!                      of each state (version `serial`), the version it is at now (`head`)
//!                      and the bytes of the changes recorded since (`deltas_len`)
//! mcpo_state_deltas    name, serial, lineage, data, written_at: the versions after the
//!                      snapshot, each as the change from the one before (one per apply step)
//! mcpo_state_history   name, serial, lineage, data, written_at: earlier versions, the last 50 per name
//! mcpo_locks           name, holder, backend_pid, taken_at: who holds each state's lock
//! mcpo_set_aside       name, serial, lineage, data, why, set_at: versions moved out of the
//!                      way by `state restore` (a damaged current one, or the history of an
//!                      old lineage on `--fresh`), never deleted by mcpo
//! ```
//!
//! - **Tables** are versioned ([`MIGRATIONS`]) and brought up to date on first use, in one
//!   transaction under a transaction-scoped advisory lock, so that four runners starting at
//!   once migrate once. A database whose tables are newer than this build is refused
//!   (E0502), never written.
//! - **The lock** is a session-scoped advisory lock (`pg_try_advisory_lock`) on the
//!   backend's own connection: the database releases it when that connection ends, so a
//!   holder that exits, crashes or is killed never blocks the next run. The holder writes
//!   who it is (command, pid, host, since) to `mcpo_locks` with its connection's
//!   `pg_backend_pid()`; a process that finds the lock taken reads the row whose
//!   `backend_pid` is the one `pg_locks` shows holding it, so a stale row of a dead holder
//!   is never shown as the holder.
//! - **Writes** are compare-and-swap inside one transaction: the row is locked (`FOR
//!   UPDATE`), its lineage and serial must be the ones the state was read at, the version
//!   it replaces moves to the history and the history is pruned to 50. A lost update is
//!   impossible even for a writer that does not hold the lock.
//! - **Steps of an apply** do not rewrite the state: each version is one row of
//!   `mcpo_state_deltas` holding what changed ([`Backend::write_delta`]), inserted by one
//!   statement that also moves `head` on, compare-and-swap (lineage and `head` must be the
//!   ones the change continues). A whole write (the end of an apply, every other command,
//!   and whenever the changes recorded outgrow the snapshot) is a compaction: the new
//!   snapshot replaces the row and the changes are deleted, in its transaction. So, as in
//!   the local backend, the history keeps snapshots (the state before each command that
//!   changed it), and a reader gets the snapshot and the changes after it in one statement.
//!
//! ## Why tokio-postgres
//! The client is `tokio-postgres` (rust-postgres), not `sqlx`. The lock must live on one
//! known connection for the whole run (a session-scoped advisory lock belongs to a
//! connection), and a pool, which sqlx is built around, hands out whichever connection is
//! free. tokio-postgres is one connection per `Client`, runs on the tokio the rest of mcpo
//! already uses, and brings a handful of small crates, where sqlx brings its macros, its
//! pool and its drivers' feature matrix; we write six fixed statements and need no
//! compile-time query checking. The `postgres` crate (the blocking wrapper) was not used
//! because it starts and blocks on its own runtime in the calling thread, which panics when
//! the caller is itself inside a tokio runtime.
//!
//! ## Blocking calls over an async client
//! [`Backend`] is synchronous (its callers run it on blocking threads). The backend owns a
//! small runtime (one worker thread) that drives the connection; each operation is spawned
//! onto it and the caller waits for the answer on a channel. That works from any thread,
//! inside or outside another runtime.
//!
//! TLS is not offered yet: connections are plain TCP or a Unix socket (`sslmode=disable`
//! or `prefer`).

#![warn(clippy::unwrap_used, clippy::indexing_slicing)]

use mcpo_state::crypt::Encryption;
use mcpo_state::{Backend, Delta, HISTORY_KEPT, LockGuard, LockInfo, State, StateError, codec};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::{Client, Config, NoTls};

/// The versions of the tables, in order: version `n` is applied on a database at version
/// `n - 1`. A released migration is never edited: a change is a new one.
pub const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        "CREATE TABLE mcpo_states (
        name       text PRIMARY KEY,
        lineage    text NOT NULL,
        serial     bigint NOT NULL,
        data       bytea NOT NULL,
        written_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE mcpo_state_history (
        name       text NOT NULL,
        serial     bigint NOT NULL,
        lineage    text NOT NULL,
        data       bytea NOT NULL,
        written_at timestamptz NOT NULL,
        PRIMARY KEY (name, serial)
    );
    CREATE TABLE mcpo_locks (
        name        text PRIMARY KEY,
        holder      text NOT NULL,
        backend_pid integer NOT NULL,
        taken_at    timestamptz NOT NULL DEFAULT now()
    );",
    ),
    (
        2,
        "CREATE TABLE mcpo_set_aside (
        id         bigserial PRIMARY KEY,
        name       text NOT NULL,
        serial     bigint NOT NULL,
        lineage    text NOT NULL,
        data       bytea NOT NULL,
        why        text NOT NULL,
        set_at     timestamptz NOT NULL DEFAULT now()
    );",
    ),
    (
        3,
        "ALTER TABLE mcpo_states ADD COLUMN head bigint;
    UPDATE mcpo_states SET head = serial;
    ALTER TABLE mcpo_states ALTER COLUMN head SET NOT NULL;
    ALTER TABLE mcpo_states ADD COLUMN deltas_len bigint NOT NULL DEFAULT 0;
    CREATE TABLE mcpo_state_deltas (
        name       text NOT NULL,
        serial     bigint NOT NULL,
        lineage    text NOT NULL,
        data       bytea NOT NULL,
        written_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (name, serial)
    );",
    ),
];

/// The changes recorded after a snapshot are compacted into a new one once they are longer
/// than the snapshot and than this: the bytes written stay proportional to the changes.
const COMPACT_AFTER: i64 = 256 * 1024;

/// The first key of every advisory lock this backend takes on a state (`mcpo` in ASCII);
/// the second is `hashtext(name)`. Two names with the same hash share a lock: they
/// serialize, and each still sees its own holder row.
const LOCK_CLASS: i32 = 0x6d63_706f;
/// The key of the transaction-scoped lock held while migrating (`mcpm`).
const MIGRATION_LOCK: i64 = 0x6d63_706d;

/// How long to wait for the database to answer a connection attempt when the URL does
/// not say (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A current version as stored: its snapshot's bytes, and the changes recorded after it
/// (serial, lineage, bytes), oldest first.
struct Stored {
    snapshot: Vec<u8>,
    deltas: Vec<(i64, String, Vec<u8>)>,
}

/// A state kept in PostgreSQL.
pub struct PgBackend {
    inner: Arc<Inner>,
    /// The keys every version is sealed with, when the workspace configures encryption.
    keys: Option<Arc<Encryption>>,
}

struct Inner {
    /// Drives the connection; shut down in the background when the last user goes.
    runtime: Option<tokio::runtime::Runtime>,
    client: Arc<tokio::sync::Mutex<Client>>,
    ctx: Ctx,
}

/// Which state, and where, for the queries and their messages.
#[derive(Debug, Clone)]
struct Ctx {
    /// The state's name (`mcpo_states.name`).
    name: String,
    /// Where it lives, for messages.
    location: String,
}

impl Ctx {
    /// Where its earlier versions are, for messages.
    fn history(&self) -> String {
        format!("the history of {}", self.location)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Never blocks, so the backend may be dropped anywhere (even on an async thread).
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl std::fmt::Debug for PgBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBackend")
            .field("location", &self.inner.ctx.location)
            .finish()
    }
}

impl PgBackend {
    /// Connects to the database at `url` (a `postgresql://` URL or `key=value` pairs) and
    /// brings its tables up to date; the backend then serves the state called `name`.
    pub fn connect(url: &str, name: &str) -> Result<PgBackend, StateError> {
        let mut config: Config = url.parse().map_err(|e| StateError::Unavailable {
            location: "PostgreSQL (the backend's `url`)".to_string(),
            reason: format!("the url cannot be read: {e}"),
        })?;
        let location = describe(&config, name);
        let unavailable = |reason: String| StateError::Unavailable {
            location: location.clone(),
            reason,
        };
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("mcpoc");
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mcpo-state-pg")
            .enable_all()
            .build()
            .map_err(|e| unavailable(format!("cannot start a runtime: {e}")))?;
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let connected = config.connect(NoTls).await.map(|(client, connection)| {
                // The connection runs until the client is dropped or the server goes.
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                client
            });
            let _ = tx.send(connected);
        });
        let client = match rx.recv() {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                runtime.shutdown_background();
                return Err(unavailable(reason(&e)));
            }
            Err(_) => {
                runtime.shutdown_background();
                return Err(unavailable("the connection attempt stopped".to_string()));
            }
        };
        let backend = PgBackend {
            keys: None,
            inner: Arc::new(Inner {
                runtime: Some(runtime),
                client: Arc::new(tokio::sync::Mutex::new(client)),
                ctx: Ctx {
                    name: name.to_string(),
                    location,
                },
            }),
        };
        backend.migrate()?;
        Ok(backend)
    }

    /// The same backend, sealing every version it writes with `keys` and opening sealed
    /// ones with them; plaintext versions are still read, and sealed from the next write.
    pub fn with_encryption(mut self, keys: Arc<Encryption>) -> PgBackend {
        self.keys = Some(keys);
        self
    }

    /// The name of the state this backend serves.
    pub fn name(&self) -> &str {
        &self.inner.ctx.name
    }

    /// Runs `f` with the connection on the backend's runtime and waits for its answer.
    fn run<T, F, Fut>(&self, f: F) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<tokio::sync::Mutex<Client>>, Ctx) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, StateError>> + Send + 'static,
    {
        run_on(&self.inner, f)
    }

    /// Brings the tables up to date ([`MIGRATIONS`]), once per database however many
    /// processes start at once.
    fn migrate(&self) -> Result<(), StateError> {
        self.run(|client, ctx| async move {
            let failed = |e: tokio_postgres::Error| StateError::Unavailable {
                location: ctx.location.clone(),
                reason: format!("cannot set up the state tables: {}", reason(&e)),
            };
            let mut client = client.lock().await;
            let tx = client.transaction().await.map_err(failed)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await
                .map_err(failed)?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS mcpo_migrations (
                    version    integer PRIMARY KEY,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )",
            )
            .await
            .map_err(failed)?;
            let at: i32 = tx
                .query_one("SELECT coalesce(max(version), 0) FROM mcpo_migrations", &[])
                .await
                .map_err(failed)?
                .get(0);
            let latest = MIGRATIONS.last().map(|(v, _)| *v).unwrap_or(0);
            if at > latest {
                return Err(StateError::NewerFormat {
                    location: format!("{} (its tables)", ctx.location),
                    found: u64::try_from(at).unwrap_or(0),
                    supported: u32::try_from(latest).unwrap_or(0),
                });
            }
            for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > at) {
                tx.batch_execute(sql).await.map_err(failed)?;
                tx.execute(
                    "INSERT INTO mcpo_migrations (version) VALUES ($1)",
                    &[version],
                )
                .await
                .map_err(failed)?;
            }
            tx.commit().await.map_err(failed)
        })
    }

    /// The stored parts of the current version, if there is one: the snapshot and the
    /// changes after it, read by one statement (so from one moment of the database).
    fn current(&self) -> Result<Option<Stored>, StateError> {
        self.run(|client, ctx| async move {
            let client = client.lock().await;
            let rows = client
                .query(
                    "SELECT 0, serial, lineage, data FROM mcpo_states WHERE name = $1
                     UNION ALL
                     SELECT 1, d.serial, d.lineage, d.data
                     FROM mcpo_state_deltas d JOIN mcpo_states s ON s.name = d.name
                     WHERE d.name = $1 AND d.serial > s.serial
                     ORDER BY 1, 2",
                    &[&ctx.name],
                )
                .await
                .map_err(|e| unreadable(&ctx, &e))?;
            let mut rows = rows.into_iter();
            let Some(first) = rows.next() else {
                return Ok(None);
            };
            Ok(Some(Stored {
                snapshot: first.get(3),
                deltas: rows.map(|r| (r.get(1), r.get(2), r.get(3))).collect(),
            }))
        })
    }

    /// The current version from its stored parts: the snapshot with every change after it
    /// applied, in order. A change that does not continue the state is damage (E0501).
    fn decode_current(&self, stored: Stored) -> Result<State, StateError> {
        let ctx = &self.inner.ctx;
        let newest = || self.serials().ok().and_then(|s| s.last().copied());
        let mut state = codec::decode_with(
            &stored.snapshot,
            &ctx.location,
            &ctx.history(),
            newest,
            self.keys.as_deref(),
        )?;
        for (serial, lineage, data) in stored.deltas {
            let shown = format!(
                "{} (its change to version {serial}, in mcpo_state_deltas)",
                ctx.location
            );
            let corrupt = |detail: String| StateError::Corrupt {
                location: shown.clone(),
                detail,
                history: ctx.history(),
                newest: newest(),
            };
            let plain = codec::open(&data, self.keys.as_deref())
                .map_err(|e| codec::open_error(e, &shown, corrupt))?;
            let delta: Delta = serde_json::from_slice(&plain)
                .map_err(|e| corrupt(format!("it is not a recorded change: {e}")))?;
            let next = state.serial.checked_add(1);
            if lineage != state.lineage {
                return Err(corrupt(format!(
                    "it belongs to another state (lineage {lineage}, not {})",
                    state.lineage
                )));
            }
            if u64::try_from(serial).ok() != next {
                return Err(corrupt(format!(
                    "it is version {serial}, but the state it continues is at version {}",
                    state.serial
                )));
            }
            delta.apply_to(&mut state);
            state.serial = u64::try_from(serial).unwrap_or(state.serial);
        }
        Ok(state)
    }

    /// Moves the rows that `delete` (a `DELETE ... WHERE name = $1 RETURNING serial,
    /// lineage, data`) removes into `mcpo_set_aside`, saying `why`, in one transaction;
    /// returns how many, and the lineage of the last.
    fn set_aside(
        &self,
        delete: &'static str,
        why: &'static str,
    ) -> Result<(usize, Option<String>), StateError> {
        self.run(move |client, ctx| async move {
            let failed = |e: tokio_postgres::Error| write_failed(&ctx, "set aside versions of", &e);
            let mut client = client.lock().await;
            let tx = client.transaction().await.map_err(failed)?;
            let moved = tx.query(delete, &[&ctx.name]).await.map_err(failed)?;
            let count = moved.len();
            let mut last = None;
            for row in moved {
                let (serial, lineage, data): (i64, String, Vec<u8>) =
                    (row.get(0), row.get(1), row.get(2));
                tx.execute(
                    "INSERT INTO mcpo_set_aside (name, serial, lineage, data, why)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[&ctx.name, &serial, &lineage, &data, &why],
                )
                .await
                .map_err(failed)?;
                last = Some(lineage);
            }
            tx.commit().await.map_err(failed)?;
            Ok((count, last))
        })
    }

    /// The serials of the kept versions, oldest first.
    fn serials(&self) -> Result<Vec<u64>, StateError> {
        self.run(|client, ctx| async move {
            let client = client.lock().await;
            let rows = client
                .query(
                    "SELECT serial FROM mcpo_state_history WHERE name = $1 ORDER BY serial",
                    &[&ctx.name],
                )
                .await
                .map_err(|e| unreadable(&ctx, &e))?;
            Ok(rows
                .iter()
                .filter_map(|r| u64::try_from(r.get::<_, i64>(0)).ok())
                .collect())
        })
    }
}

/// Runs `f` on `inner`'s runtime and waits for it (see the crate docs).
fn run_on<T, F, Fut>(inner: &Arc<Inner>, f: F) -> Result<T, StateError>
where
    T: Send + 'static,
    F: FnOnce(Arc<tokio::sync::Mutex<Client>>, Ctx) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, StateError>> + Send + 'static,
{
    let Some(runtime) = inner.runtime.as_ref() else {
        return Err(StateError::Unavailable {
            location: inner.ctx.location.clone(),
            reason: "the backend was shut down".to_string(),
        });
    };
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let client = Arc::clone(&inner.client);
    let ctx = inner.ctx.clone();
    runtime.spawn(async move {
        let _ = tx.send(f(client, ctx).await);
    });
    rx.recv().unwrap_or_else(|_| {
        Err(StateError::Unavailable {
            location: inner.ctx.location.clone(),
            reason: "the database operation stopped".to_string(),
        })
    })
}

/// Where a state lives, for messages: host, port and database, never the password.
fn describe(config: &Config, name: &str) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let port = config
                .get_ports()
                .get(i)
                .or(config.get_ports().first())
                .copied()
                .unwrap_or(5432);
            match h {
                tokio_postgres::config::Host::Tcp(host) => format!("{host}:{port}"),
                #[cfg(unix)]
                tokio_postgres::config::Host::Unix(dir) => {
                    format!("{}/.s.PGSQL.{port}", dir.display())
                }
            }
        })
        .collect();
    let hosts = if hosts.is_empty() {
        "localhost:5432".to_string()
    } else {
        hosts.join(",")
    };
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("PostgreSQL state \"{name}\" ({hosts}, database {db})")
}

/// A driver error in words: the database's own message when it answered, else the
/// connection problem with its cause.
fn reason(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = format!("{}: {}", db.severity(), db.message());
        if let Some(detail) = db.detail() {
            text.push_str(&format!(" ({detail})"));
        }
        return text;
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

fn unreadable(ctx: &Ctx, e: &tokio_postgres::Error) -> StateError {
    let location = ctx.location.clone();
    if e.is_closed() || e.as_db_error().is_none() {
        StateError::Unavailable {
            location,
            reason: reason(e),
        }
    } else {
        StateError::Unreadable {
            location,
            reason: reason(e),
        }
    }
}

fn write_failed(ctx: &Ctx, action: &'static str, e: &tokio_postgres::Error) -> StateError {
    StateError::WriteFailed {
        action,
        location: ctx.location.clone(),
        reason: reason(e),
    }
}

/// The lock of a state: held on the backend's connection until released.
struct PgLock {
    inner: Arc<Inner>,
}

impl Drop for PgLock {
    fn drop(&mut self) {
        // Best effort, bounded: if this fails the lock still goes with the connection.
        let _ = run_on(&self.inner, |client, ctx| async move {
            let client = client.lock().await;
            let name = ctx.name.clone();
            let _ = client
                .execute(
                    "DELETE FROM mcpo_locks WHERE name = $1 AND backend_pid = pg_backend_pid()",
                    &[&name],
                )
                .await;
            let _ = client
                .execute(
                    "SELECT pg_advisory_unlock($1, hashtext($2))",
                    &[&LOCK_CLASS, &name],
                )
                .await;
            Ok(())
        });
    }
}

impl Backend for PgBackend {
    fn location(&self) -> String {
        self.inner.ctx.location.clone()
    }

    fn read(&self) -> Result<State, StateError> {
        match self.current()? {
            None => {
                // A state that is gone while its history is kept was lost, not never
                // written: starting afresh would create everything again.
                let kept = self.serials()?;
                if let Some(&newest) = kept.last() {
                    return Err(StateError::Missing {
                        location: self.inner.ctx.location.clone(),
                        history: self.inner.ctx.history(),
                        count: kept.len(),
                        newest,
                    });
                }
                Ok(State::new(mcpo_state::new_lineage()))
            }
            Some(stored) => self.decode_current(stored),
        }
    }

    fn restore(&self, serial: u64) -> Result<State, StateError> {
        if let Some(stored) = self.current()? {
            match self.decode_current(stored) {
                Ok(_) => {
                    return Err(StateError::NothingToRestore {
                        location: self.inner.ctx.location.clone(),
                    });
                }
                // Nothing is lost: the damaged version is set aside, not deleted.
                Err(StateError::Corrupt { .. }) => {
                    self.set_aside(
                        "DELETE FROM mcpo_states WHERE name = $1 RETURNING serial, lineage, data",
                        "damaged, replaced by `mcpoc state restore`",
                    )?;
                    self.set_aside(
                        "DELETE FROM mcpo_state_deltas WHERE name = $1 RETURNING serial, lineage, data",
                        "a change recorded after a damaged version, replaced by `mcpoc state restore`",
                    )?;
                }
                Err(e) => return Err(e),
            }
        }
        let mut state = self.read_version(serial)?;
        // The restored version continues the history: the next serial after the newest.
        let newest = self.serials()?.last().copied().unwrap_or(serial);
        state.serial = newest.max(serial);
        self.write(&mut state)?;
        Ok(state)
    }

    fn start_fresh(&self) -> Result<Option<String>, StateError> {
        if let Some(stored) = self.current()? {
            self.decode_current(stored)?;
            return Err(StateError::NothingToRestore {
                location: self.inner.ctx.location.clone(),
            });
        }
        // The old lineage's versions go aside, where the new state's can never overwrite
        // them.
        let (count, lineage) = self.set_aside(
            "DELETE FROM mcpo_state_history WHERE name = $1 RETURNING serial, lineage, data",
            "an earlier lineage, set aside by `mcpoc state restore --fresh`",
        )?;
        Ok(lineage.map(|lineage| {
            format!(
                "the {count} earlier version(s) are kept in the table mcpo_set_aside of {} (lineage {lineage})",
                self.inner.ctx.location
            )
        }))
    }

    fn write(&self, state: &mut State) -> Result<(), StateError> {
        let location = self.inner.ctx.location.clone();
        let current = state.serial;
        let exhausted = || StateError::SerialExhausted {
            location: location.clone(),
            serial: current,
        };
        // Serials are `bigint` in the database: the next one must fit.
        let next = state
            .serial
            .checked_add(1)
            .filter(|n| i64::try_from(*n).is_ok())
            .ok_or_else(exhausted)?;
        let expected = i64::try_from(state.serial).map_err(|_| exhausted())?;
        let serial = std::mem::replace(&mut state.serial, next);
        let encoded = codec::encode_with(state, &location, self.keys.as_deref());
        state.serial = serial;
        let bytes = encoded?;
        let lineage = state.lineage.clone();
        let next_db = i64::try_from(next).map_err(|_| exhausted())?;
        self.run(move |client, ctx| async move {
            let name = ctx.name.clone();
            let mut client = client.lock().await;
            let tx = client
                .transaction()
                .await
                .map_err(|e| write_failed(&ctx, "begin a transaction on", &e))?;
            let current = tx
                .query_opt(
                    "SELECT lineage, head FROM mcpo_states WHERE name = $1 FOR UPDATE",
                    &[&name],
                )
                .await
                .map_err(|e| write_failed(&ctx, "read", &e))?;
            let conflict = |on: String| StateError::Conflict {
                location: ctx.location.clone(),
                on_disk: on,
                writing: format!("lineage {lineage}, serial {expected}"),
            };
            match current {
                Some(row) => {
                    let (l, s): (String, i64) = (row.get(0), row.get(1));
                    if l != lineage || s != expected {
                        return Err(conflict(format!("lineage {l}, serial {s}")));
                    }
                    tx.execute(
                        "INSERT INTO mcpo_state_history (name, serial, lineage, data, written_at)
                         SELECT name, serial, lineage, data, written_at FROM mcpo_states
                         WHERE name = $1
                         ON CONFLICT (name, serial) DO UPDATE
                         SET lineage = excluded.lineage, data = excluded.data,
                             written_at = excluded.written_at",
                        &[&name],
                    )
                    .await
                    .map_err(|e| write_failed(&ctx, "keep the previous version in", &e))?;
                    tx.execute(
                        "UPDATE mcpo_states SET serial = $2, head = $2, deltas_len = 0,
                             data = $3, written_at = now()
                         WHERE name = $1",
                        &[&name, &next_db, &bytes],
                    )
                    .await
                    .map_err(|e| write_failed(&ctx, "write", &e))?;
                }
                None => {
                    let inserted = tx
                        .execute(
                            "INSERT INTO mcpo_states (name, lineage, serial, head, data)
                             VALUES ($1, $2, $3, $3, $4) ON CONFLICT (name) DO NOTHING",
                            &[&name, &lineage, &next_db, &bytes],
                        )
                        .await
                        .map_err(|e| write_failed(&ctx, "write", &e))?;
                    if inserted == 0 {
                        return Err(conflict("a state written meanwhile".to_string()));
                    }
                }
            }
            // The changes are in the new snapshot now (or, with no state before, were
            // left by a state that is gone and continue nothing).
            tx.execute("DELETE FROM mcpo_state_deltas WHERE name = $1", &[&name])
                .await
                .map_err(|e| write_failed(&ctx, "compact the changes of", &e))?;
            prune(&tx, &name)
                .await
                .map_err(|e| write_failed(&ctx, "prune the history of", &e))?;
            tx.commit()
                .await
                .map_err(|e| write_failed(&ctx, "commit to", &e))
        })?;
        state.serial = next;
        Ok(())
    }

    /// Records the next version as `delta` (one row of `mcpo_state_deltas`), by one
    /// statement that moves `head` on only if the state is still `lineage` at `serial`;
    /// `None` when there is no snapshot yet or the changes are due for compaction.
    fn write_delta(
        &self,
        lineage: &str,
        serial: u64,
        delta: &Delta,
    ) -> Result<Option<u64>, StateError> {
        let location = self.inner.ctx.location.clone();
        let exhausted = || StateError::SerialExhausted {
            location: location.clone(),
            serial,
        };
        let next = serial
            .checked_add(1)
            .filter(|n| i64::try_from(*n).is_ok())
            .ok_or_else(exhausted)?;
        let expected = i64::try_from(serial).map_err(|_| exhausted())?;
        let plain = serde_json::to_vec(delta).map_err(|e| StateError::WriteFailed {
            action: "encode",
            location: location.clone(),
            reason: e.to_string(),
        })?;
        let data = codec::seal(plain, &location, self.keys.as_deref())?;
        let len = i64::try_from(data.len()).unwrap_or(i64::MAX);
        let lineage = lineage.to_string();
        let written = self.run(move |client, ctx| async move {
            let client = client.lock().await;
            let failed = |e: tokio_postgres::Error| write_failed(&ctx, "write", &e);
            let row = client
                .query_opt(
                    "WITH moved AS (
                         UPDATE mcpo_states SET head = head + 1, deltas_len = deltas_len + $4
                         WHERE name = $1 AND lineage = $2 AND head = $3
                           AND deltas_len <= greatest(length(data)::bigint, $5)
                         RETURNING head
                     )
                     INSERT INTO mcpo_state_deltas (name, serial, lineage, data)
                     SELECT $1, head, $2, $6 FROM moved
                     RETURNING serial",
                    &[&ctx.name, &lineage, &expected, &len, &COMPACT_AFTER, &data],
                )
                .await
                .map_err(failed)?;
            if let Some(row) = row {
                return Ok(Some(row.get::<_, i64>(0)));
            }
            // Nothing written: no snapshot yet, another version there, or compaction due.
            let there = client
                .query_opt(
                    "SELECT lineage, head FROM mcpo_states WHERE name = $1",
                    &[&ctx.name],
                )
                .await
                .map_err(failed)?;
            match there {
                None => Ok(None),
                Some(r) => {
                    let (l, h): (String, i64) = (r.get(0), r.get(1));
                    if l != lineage || h != expected {
                        return Err(StateError::Conflict {
                            location: ctx.location.clone(),
                            on_disk: format!("lineage {l}, serial {h}"),
                            writing: format!("lineage {lineage}, serial {expected}"),
                        });
                    }
                    Ok(None)
                }
            }
        })?;
        Ok(written.map(|_| next))
    }

    fn lock(&self, info: LockInfo) -> Result<LockGuard, StateError> {
        let holder = serde_json::to_string(&info).map_err(|e| StateError::LockFailed {
            action: "describe the holder of",
            location: self.inner.ctx.location.clone(),
            reason: e.to_string(),
        })?;
        let got = self.run(move |client, ctx| async move {
            let name = ctx.name.clone();
            let failed = |e: tokio_postgres::Error| StateError::LockFailed {
                action: "take",
                location: format!("the lock of {}", ctx.location),
                reason: reason(&e),
            };
            let client = client.lock().await;
            let got: bool = client
                .query_one(
                    "SELECT pg_try_advisory_lock($1, hashtext($2))",
                    &[&LOCK_CLASS, &name],
                )
                .await
                .map_err(failed)?
                .get(0);
            if got {
                client
                    .execute(
                        "INSERT INTO mcpo_locks (name, holder, backend_pid, taken_at)
                         VALUES ($1, $2, pg_backend_pid(), now())
                         ON CONFLICT (name) DO UPDATE
                         SET holder = excluded.holder, backend_pid = excluded.backend_pid,
                             taken_at = excluded.taken_at",
                        &[&name, &holder],
                    )
                    .await
                    .map_err(failed)?;
                return Ok(None);
            }
            // The holder writes its row right after taking the lock: a row not (yet)
            // belonging to the connection that holds the lock is retried for a moment.
            for _ in 0..5 {
                let row = client
                    .query_opt(
                        "SELECT l.holder FROM mcpo_locks l
                         JOIN pg_locks p ON p.pid = l.backend_pid
                         WHERE l.name = $2 AND p.locktype = 'advisory' AND p.granted
                           AND p.classid = $1::integer::oid
                           AND p.objid = hashtext($2)::oid AND p.objsubid = 2",
                        &[&LOCK_CLASS, &name],
                    )
                    .await
                    .map_err(failed)?;
                if let Some(info) =
                    row.and_then(|r| serde_json::from_str::<LockInfo>(&r.get::<_, String>(0)).ok())
                {
                    return Ok(Some(Some(info)));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(Some(None))
        })?;
        match got {
            None => Ok(LockGuard::new(
                info,
                PgLock {
                    inner: Arc::clone(&self.inner),
                },
            )),
            Some(holder) => Err(StateError::Locked {
                holder,
                location: self.inner.ctx.location.clone(),
            }),
        }
    }

    fn history(&self) -> Result<Vec<u64>, StateError> {
        self.serials()
    }

    fn adopt(&self, history: &[State], current: &State) -> Result<(), StateError> {
        let location = &self.inner.ctx.location;
        let skip = history.len().saturating_sub(HISTORY_KEPT);
        let mut rows: Vec<(i64, String, Vec<u8>)> = Vec::new();
        for version in history.iter().skip(skip).chain(std::iter::once(current)) {
            let serial =
                i64::try_from(version.serial).map_err(|_| StateError::SerialExhausted {
                    location: location.clone(),
                    serial: version.serial,
                })?;
            rows.push((
                serial,
                version.lineage.clone(),
                codec::encode_with(version, location, self.keys.as_deref())?,
            ));
        }
        self.run(move |client, ctx| async move {
            let mut client = client.lock().await;
            let tx = client
                .transaction()
                .await
                .map_err(|e| write_failed(&ctx, "begin a transaction on", &e))?;
            let there = tx
                .query_opt(
                    "SELECT lineage, head, length(data) FROM mcpo_states WHERE name = $1 FOR UPDATE",
                    &[&ctx.name],
                )
                .await
                .map_err(|e| write_failed(&ctx, "read", &e))?;
            if let Some(row) = there {
                let (l, s): (String, i64) = (row.get(0), row.get(1));
                return Err(StateError::TargetNotEmpty {
                    location: ctx.location.clone(),
                    detail: format!("lineage {l}, serial {s}"),
                });
            }
            // Kept versions without a current one are a lost state's: never overwritten.
            let kept: i64 = tx
                .query_one(
                    "SELECT count(*) FROM mcpo_state_history WHERE name = $1",
                    &[&ctx.name],
                )
                .await
                .map_err(|e| write_failed(&ctx, "read", &e))?
                .get(0);
            if kept > 0 {
                return Err(StateError::TargetNotEmpty {
                    location: ctx.location.clone(),
                    detail: format!("no current version, but {kept} earlier versions are kept"),
                });
            }
            let Some((last, earlier)) = rows.split_last() else {
                return Ok(());
            };
            for (serial, lineage, data) in earlier {
                tx.execute(
                    "INSERT INTO mcpo_state_history (name, serial, lineage, data, written_at)
                     VALUES ($1, $2, $3, $4, now())",
                    &[&ctx.name, serial, lineage, data],
                )
                .await
                .map_err(|e| write_failed(&ctx, "write the history of", &e))?;
            }
            tx.execute(
                "INSERT INTO mcpo_states (name, lineage, serial, head, data)
                 VALUES ($1, $2, $3, $3, $4)",
                &[&ctx.name, &last.1, &last.0, &last.2],
            )
            .await
            .map_err(|e| write_failed(&ctx, "write", &e))?;
            tx.commit()
                .await
                .map_err(|e| write_failed(&ctx, "commit to", &e))
        })
    }

    /// Seals the current version and the history again with the configured key, in one
    /// transaction, after every version was opened (with any key given).
    fn reseal(&self) -> Result<usize, StateError> {
        let Some(keys) = self.keys.clone() else {
            return Err(StateError::Key {
                location: self.inner.ctx.location.clone(),
                reason: "the workspace configures no key to encrypt with: add an `encryption` block to its `backend` block first".into(),
            });
        };
        // The changes after the snapshot are compacted into it first (every version opens
        // with a key given, or nothing is written).
        if let Some(stored) = self.current()?
            && !stored.deltas.is_empty()
        {
            let mut state = self.decode_current(stored)?;
            self.write(&mut state)?;
        }
        let rows: Vec<(bool, i64, Vec<u8>)> = self.run(|client, ctx| async move {
            let client = client.lock().await;
            let rows = client
                .query(
                    "SELECT true, serial, data FROM mcpo_states WHERE name = $1
                     UNION ALL
                     SELECT false, serial, data FROM mcpo_state_history WHERE name = $1",
                    &[&ctx.name],
                )
                .await
                .map_err(|e| unreadable(&ctx, &e))?;
            Ok(rows
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect())
        })?;
        let ctx = &self.inner.ctx;
        let mut sealed = Vec::with_capacity(rows.len());
        for (current, serial, bytes) in rows {
            let shown = if current {
                ctx.location.clone()
            } else {
                format!("version {serial} of {}", ctx.location)
            };
            let state = codec::decode_with(&bytes, &shown, &ctx.history(), || None, Some(&*keys))?;
            sealed.push((
                current,
                serial,
                codec::encode_with(&state, &shown, Some(&*keys))?,
            ));
        }
        let count = sealed.len();
        self.run(move |client, ctx| async move {
            let mut client = client.lock().await;
            let tx = client
                .transaction()
                .await
                .map_err(|e| write_failed(&ctx, "begin a transaction on", &e))?;
            for (current, serial, data) in &sealed {
                let sql = if *current {
                    "UPDATE mcpo_states SET data = $3 WHERE name = $1 AND serial = $2"
                } else {
                    "UPDATE mcpo_state_history SET data = $3 WHERE name = $1 AND serial = $2"
                };
                let changed = tx
                    .execute(sql, &[&ctx.name, serial, data])
                    .await
                    .map_err(|e| write_failed(&ctx, "write", &e))?;
                if changed != 1 {
                    return Err(StateError::Conflict {
                        location: ctx.location.clone(),
                        on_disk: "a version written meanwhile".into(),
                        writing: format!("version {serial}, sealed again"),
                    });
                }
            }
            tx.commit()
                .await
                .map_err(|e| write_failed(&ctx, "commit to", &e))
        })?;
        Ok(count)
    }

    fn notice(&self) -> Option<String> {
        self.keys.as_ref().filter(|k| k.read_plaintext()).map(|_| {
            format!(
                "{} was not encrypted: it is encrypted from its next write on; the versions already kept in its history stay as they are until `mcpoc state rekey`",
                self.inner.ctx.location
            )
        })
    }

    fn read_version(&self, serial: u64) -> Result<State, StateError> {
        let Ok(wanted) = i64::try_from(serial) else {
            return Err(StateError::NoSuchVersion {
                serial,
                available: self.serials()?,
            });
        };
        let found = self.run(move |client, ctx| async move {
            let client = client.lock().await;
            let row = client
                .query_opt(
                    "SELECT data FROM mcpo_state_history WHERE name = $1 AND serial = $2
                     UNION ALL
                     SELECT data FROM mcpo_states WHERE name = $1 AND serial = $2
                     LIMIT 1",
                    &[&ctx.name, &wanted],
                )
                .await
                .map_err(|e| unreadable(&ctx, &e))?;
            Ok(row.map(|r| r.get::<_, Vec<u8>>(0)))
        })?;
        match found {
            Some(bytes) => {
                let ctx = &self.inner.ctx;
                let shown = format!("version {serial} of {}", ctx.location);
                codec::decode_with(
                    &bytes,
                    &shown,
                    &ctx.history(),
                    || None,
                    self.keys.as_deref(),
                )
            }
            None => {
                // The current version, when changes were recorded after its snapshot.
                if let Some(stored) = self.current()?
                    && !stored.deltas.is_empty()
                {
                    let state = self.decode_current(stored)?;
                    if state.serial == serial {
                        return Ok(state);
                    }
                }
                Err(StateError::NoSuchVersion {
                    serial,
                    available: self.serials()?,
                })
            }
        }
    }
}

/// Deletes the versions of `name` beyond the newest [`HISTORY_KEPT`].
async fn prune(
    tx: &tokio_postgres::Transaction<'_>,
    name: &str,
) -> Result<u64, tokio_postgres::Error> {
    let kept = i64::try_from(HISTORY_KEPT).unwrap_or(i64::MAX);
    tx.execute(
        "DELETE FROM mcpo_state_history WHERE name = $1 AND serial NOT IN
           (SELECT serial FROM mcpo_state_history WHERE name = $1 ORDER BY serial DESC LIMIT $2)",
        &[&name, &kept],
    )
    .await
}
