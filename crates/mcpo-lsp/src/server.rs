//! The `LanguageServer` implementation: capabilities, document notifications funnelled
//! to the writer thread, debounced diagnostics, and requests answered on snapshots.

use crate::convert::{self, Lines};
use crate::features;
use crate::host::{DiskChange, Host, Snapshot};
use mcpo_diagnostics::{Diagnostic, FileId};
use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::time::Duration;
use tokio::sync::watch;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types as lsp;
use tower_lsp_server::{Client, LanguageServer};

/// How long diagnostics wait for more edits before running (typing in bursts re-checks
/// once, after the burst).
const DEBOUNCE: Duration = Duration::from_millis(10);

/// A change to the workspace, applied in order by the writer thread.
enum Edit {
    /// Read the workspace under this root.
    Load(PathBuf),
    /// A document's full text at a version (open or change).
    Set(lsp::Uri, String, i32),
    /// A document was closed.
    Close(lsp::Uri),
    /// Files changed on disk.
    Disk(Vec<(PathBuf, DiskChange)>),
}

/// What the handlers share.
struct Shared {
    /// The master database and the files.
    host: Mutex<Host>,
    /// Edits to the writer thread, with their sequence numbers.
    edits: Mutex<mpsc::Sender<(u64, Edit)>>,
    /// The sequence number of the last edit sent.
    sent: AtomicU64,
    /// The sequence number of the last edit applied.
    applied: watch::Receiver<u64>,
    /// Files edited since diagnostics were last published for them.
    touched: Mutex<BTreeSet<FileId>>,
    /// Requests being answered: diagnostics wait for them (on two cores, a re-check
    /// running beside a completion doubles the completion's latency).
    in_flight: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn snapshot(&self) -> Snapshot {
        lock(&self.host).snapshot()
    }

    /// Sends an edit to the writer; returns its sequence number.
    fn send(&self, edit: Edit) -> u64 {
        let sender = lock(&self.edits);
        let seq = self.sent.fetch_add(1, Ordering::SeqCst) + 1;
        // The writer only stops when the server does.
        let _ = sender.send((seq, edit));
        seq
    }

    /// Waits until every edit sent so far is applied, so a request sees the text the
    /// client had when it asked.
    async fn caught_up(&self) {
        let want = self.sent.load(Ordering::SeqCst);
        let mut rx = self.applied.clone();
        let _ = rx.wait_for(|a| *a >= want).await;
    }
}

/// The language server.
pub(crate) struct Backend {
    client: Client,
    shared: Arc<Shared>,
    /// Whether the client lets the server register file watchers.
    watch: std::sync::atomic::AtomicBool,
}

impl Backend {
    /// Starts the writer thread and the diagnostics task.
    pub fn new(client: Client, discover: Option<crate::Discover>) -> Self {
        let (tx, rx) = mpsc::channel();
        let (applied_tx, applied_rx) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            host: Mutex::new(Host::new(discover)),
            edits: Mutex::new(tx),
            sent: AtomicU64::new(0),
            applied: applied_rx.clone(),
            touched: Mutex::new(BTreeSet::new()),
            in_flight: AtomicUsize::new(0),
        });
        let writer_shared = shared.clone();
        let _ = std::thread::Builder::new()
            .name("mcpo-lsp-writer".into())
            .spawn(move || writer(&writer_shared, &rx, &applied_tx));
        tokio::spawn(publish_loop(client.clone(), shared.clone(), applied_rx));
        Backend {
            client,
            shared,
            watch: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Runs `f` on a fresh snapshot on a blocking thread, after the edits sent so far.
    /// A query cancelled by a newer edit is retried once on a newer snapshot, then
    /// answered with `ContentModified`.
    async fn on_snapshot<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&Snapshot) -> T + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        self.shared.in_flight.fetch_add(1, Ordering::SeqCst);
        let answer = self.answer(f).await;
        self.shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        answer
    }

    async fn answer<T, F>(&self, f: Arc<F>) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(&Snapshot) -> T + Send + Sync + 'static,
    {
        for _ in 0..2 {
            self.shared.caught_up().await;
            let shared = self.shared.clone();
            let f = f.clone();
            let run = tokio::task::spawn_blocking(move || {
                let snap = shared.snapshot();
                salsa::Cancelled::catch(AssertUnwindSafe(|| f(&snap)))
            });
            match run.await {
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(_cancelled)) => continue,
                Err(_) => return Err(Error::internal_error()),
            }
        }
        Err(Error::new(ErrorCode::ContentModified))
    }
}

/// Applies edits in order, in batches; the master database is only written here.
fn writer(shared: &Shared, rx: &mpsc::Receiver<(u64, Edit)>, applied: &watch::Sender<u64>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        let last = batch.last().map_or(0, |(seq, _)| *seq);
        let mut touched = Vec::new();
        {
            // Setting an input waits for the snapshots in use to be dropped (their
            // queries are cancelled first), so no snapshot may be held on this thread.
            let mut host = lock(&shared.host);
            for (_, edit) in batch {
                match edit {
                    Edit::Load(root) => {
                        host.load(&root);
                        touched.extend(host.snapshot().table.ids());
                    }
                    Edit::Set(uri, text, version) => {
                        touched.extend(host.set_document(&uri, text, version));
                    }
                    Edit::Close(uri) => touched.extend(host.close_document(&uri)),
                    Edit::Disk(changes) => {
                        for (path, change) in changes {
                            touched.extend(host.disk_changed(&path, change));
                        }
                    }
                }
            }
            // Modules loaded again may change every file's diagnostics.
            if host.take_modules_changed() {
                touched.extend(host.snapshot().table.ids());
            }
        }
        lock(&shared.touched).extend(touched);
        applied.send_replace(last);
    }
}

/// Publishes diagnostics after edits: debounced, on a snapshot, dropped when a newer
/// edit arrived meanwhile. Files are published when edited or when their diagnostics
/// changed (an edit in one file can fix or break another).
async fn publish_loop(client: Client, shared: Arc<Shared>, mut applied: watch::Receiver<u64>) {
    let mut published: BTreeMap<FileId, Vec<Diagnostic>> = BTreeMap::new();
    let mut pending: BTreeSet<FileId> = BTreeSet::new();
    let mut uris: BTreeMap<FileId, lsp::Uri> = BTreeMap::new();
    loop {
        if applied.changed().await.is_err() {
            return;
        }
        tokio::time::sleep(DEBOUNCE).await;
        // Requests first (bounded: diagnostics are not put off for more than 200 ms).
        for _ in 0..100 {
            if shared.in_flight.load(Ordering::SeqCst) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let generation = *applied.borrow_and_update();
        pending.extend(std::mem::take(&mut *lock(&shared.touched)));
        let worker = shared.clone();
        let before = std::mem::take(&mut published);
        let want = pending.clone();
        let run = tokio::task::spawn_blocking(move || {
            let snap = worker.snapshot();
            let out = salsa::Cancelled::catch(AssertUnwindSafe(|| {
                file_diagnostics(&snap, &before, &want)
            }));
            (out, before)
        });
        let Ok((out, before)) = run.await else {
            return;
        };
        published = before;
        let Ok((now, messages)) = out else {
            continue;
        };
        if *applied.borrow() != generation {
            // Stale: a newer edit is waiting; its run publishes.
            continue;
        }
        for (id, uri, diags, version) in messages {
            uris.insert(id, uri.clone());
            client.publish_diagnostics(uri, diags, version).await;
        }
        // Files that left the workspace (deleted on disk): clear what they showed.
        let gone: Vec<FileId> = uris
            .keys()
            .filter(|id| !now.contains_key(id))
            .copied()
            .collect();
        for id in gone {
            if let Some(uri) = uris.remove(&id) {
                client.publish_diagnostics(uri, Vec::new(), None).await;
            }
        }
        published = now;
        pending.clear();
    }
}

type Messages = Vec<(FileId, lsp::Uri, Vec<lsp::Diagnostic>, Option<i32>)>;

/// The diagnostics of every file, and the messages for the files that are in `touched`
/// or whose diagnostics differ from `before`.
fn file_diagnostics(
    snap: &Snapshot,
    before: &BTreeMap<FileId, Vec<Diagnostic>>,
    touched: &BTreeSet<FileId>,
) -> (BTreeMap<FileId, Vec<Diagnostic>>, Messages) {
    // The workspace's check reports its modules' files too (as `mcpoc check` does), each
    // checked in its module's workspace; a file no module reads is checked on its own.
    let mut now = mcpo_ide::diagnostics(&snap.db, snap.ws);
    for ws in snap.lone.iter() {
        for (id, diags) in mcpo_ide::diagnostics(&snap.db, *ws) {
            now.entry(id).or_default().extend(diags);
        }
    }
    for id in snap.table.ids() {
        now.entry(id).or_default();
    }
    // A module loaded by several `use` blocks reports the same problem once per instance.
    for diags in now.values_mut() {
        mcpo_diagnostics::sort(diags);
        let mut kept: Vec<Diagnostic> = Vec::with_capacity(diags.len());
        for d in diags.drain(..) {
            let twin = kept
                .iter()
                .rev()
                .take_while(|k| k.span == d.span && k.code == d.code)
                .any(|k| *k == d);
            if !twin {
                kept.push(d);
            }
        }
        *diags = kept;
    }
    let mut messages = Vec::new();
    for (id, diags) in &now {
        if !touched.contains(id) && before.get(id) == Some(diags) {
            continue;
        }
        let Some(entry) = snap.table.by_id(*id) else {
            continue;
        };
        let lines = Lines::new(entry.source.text(&snap.db));
        let converted = diags
            .iter()
            .map(|d| convert::diagnostic(snap, &lines, d))
            .collect();
        messages.push((*id, entry.uri.clone(), converted, entry.version));
    }
    (now, messages)
}

/// The root folder the client opened: its first workspace folder, else `rootUri`.
fn root_of(params: &lsp::InitializeParams) -> Option<PathBuf> {
    #[expect(deprecated, reason = "older clients send only rootUri")]
    let root_uri = params.root_uri.as_ref();
    params
        .workspace_folders
        .as_ref()
        .and_then(|f| f.first())
        .map(|f| &f.uri)
        .or(root_uri)
        .and_then(|u| u.to_file_path().map(|p| p.into_owned()))
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: lsp::InitializeParams) -> Result<lsp::InitializeResult> {
        let dynamic = params
            .capabilities
            .workspace
            .as_ref()
            .and_then(|w| w.did_change_watched_files.as_ref())
            .and_then(|w| w.dynamic_registration)
            .unwrap_or(false);
        self.watch.store(dynamic, Ordering::SeqCst);
        convert::set_book_url(params.initialization_options.as_ref());
        if let Some(root) = root_of(&params) {
            self.shared.send(Edit::Load(root));
            self.shared.caught_up().await;
        }
        Ok(lsp::InitializeResult {
            capabilities: lsp::ServerCapabilities {
                position_encoding: Some(lsp::PositionEncodingKind::UTF16),
                text_document_sync: Some(lsp::TextDocumentSyncCapability::Kind(
                    lsp::TextDocumentSyncKind::FULL,
                )),
                document_formatting_provider: Some(lsp::OneOf::Left(true)),
                hover_provider: Some(lsp::HoverProviderCapability::Simple(true)),
                completion_provider: Some(lsp::CompletionOptions {
                    trigger_characters: Some(vec![".".into(), "\"".into(), "=".into()]),
                    ..lsp::CompletionOptions::default()
                }),
                definition_provider: Some(lsp::OneOf::Left(true)),
                references_provider: Some(lsp::OneOf::Left(true)),
                rename_provider: Some(lsp::OneOf::Right(lsp::RenameOptions {
                    prepare_provider: Some(true),
                    work_done_progress_options: lsp::WorkDoneProgressOptions::default(),
                })),
                document_symbol_provider: Some(lsp::OneOf::Left(true)),
                workspace_symbol_provider: Some(lsp::OneOf::Left(true)),
                signature_help_provider: Some(lsp::SignatureHelpOptions {
                    trigger_characters: Some(vec!["(".into(), ",".into()]),
                    ..lsp::SignatureHelpOptions::default()
                }),
                code_action_provider: Some(lsp::CodeActionProviderCapability::Simple(true)),
                semantic_tokens_provider: Some(
                    lsp::SemanticTokensServerCapabilities::SemanticTokensOptions(
                        lsp::SemanticTokensOptions {
                            legend: features::legend(),
                            full: Some(lsp::SemanticTokensFullOptions::Bool(true)),
                            range: None,
                            work_done_progress_options: lsp::WorkDoneProgressOptions::default(),
                        },
                    ),
                ),
                ..lsp::ServerCapabilities::default()
            },
            server_info: Some(lsp::ServerInfo {
                name: "mcpo".to_string(),
                version: Some(env!("CARGO_PKG_VERSION").to_string()),
            }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: lsp::InitializedParams) {
        if !self.watch.load(Ordering::SeqCst) {
            return;
        }
        // Sources, pulled schemas, the lock and discovery files written outside the editor
        // (`mcpoc schema pull`, a checkout) reach the server as
        // `workspace/didChangeWatchedFiles`.
        let mut globs = vec![
            "**/*.mcpo".to_string(),
            "**/.mcpo/schemas/*.json".to_string(),
            format!("**/{}", mcpo_schema::LOCK_FILE),
        ];
        globs.extend(
            crate::host::DISCOVERY_FILES
                .iter()
                .map(|f| format!("**/{f}")),
        );
        let watchers = globs
            .into_iter()
            .map(|g| lsp::FileSystemWatcher {
                glob_pattern: lsp::GlobPattern::String(g),
                kind: None,
            })
            .collect();
        let options = lsp::DidChangeWatchedFilesRegistrationOptions { watchers };
        let registration = lsp::Registration {
            id: "mcpo-watched-files".to_string(),
            method: "workspace/didChangeWatchedFiles".to_string(),
            register_options: serde_json::to_value(options).ok(),
        };
        // A client that refuses only loses updates from outside the editor.
        let _ = self.client.register_capability(vec![registration]).await;
    }

    async fn did_change_watched_files(&self, params: lsp::DidChangeWatchedFilesParams) {
        let changes: Vec<(PathBuf, DiskChange)> = params
            .changes
            .into_iter()
            .filter_map(|c| {
                let path = c.uri.to_file_path()?.into_owned();
                let change = if c.typ == lsp::FileChangeType::DELETED {
                    DiskChange::Deleted
                } else {
                    DiskChange::Written
                };
                Some((path, change))
            })
            .collect();
        if !changes.is_empty() {
            self.shared.send(Edit::Disk(changes));
        }
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_open(&self, params: lsp::DidOpenTextDocumentParams) {
        let doc = params.text_document;
        self.shared.send(Edit::Set(doc.uri, doc.text, doc.version));
    }

    async fn did_change(&self, params: lsp::DidChangeTextDocumentParams) {
        // Full synchronisation: the last change holds the whole text.
        if let Some(change) = params.content_changes.into_iter().last() {
            let doc = params.text_document;
            self.shared
                .send(Edit::Set(doc.uri, change.text, doc.version));
        }
    }

    async fn did_close(&self, params: lsp::DidCloseTextDocumentParams) {
        self.shared.send(Edit::Close(params.text_document.uri));
    }

    async fn hover(&self, params: lsp::HoverParams) -> Result<Option<lsp::Hover>> {
        let at = params.text_document_position_params;
        self.on_snapshot(move |snap| features::hover(snap, &at))
            .await
    }

    async fn completion(
        &self,
        params: lsp::CompletionParams,
    ) -> Result<Option<lsp::CompletionResponse>> {
        let at = params.text_document_position;
        self.on_snapshot(move |snap| features::completion(snap, &at))
            .await
    }

    async fn goto_definition(
        &self,
        params: lsp::GotoDefinitionParams,
    ) -> Result<Option<lsp::GotoDefinitionResponse>> {
        let at = params.text_document_position_params;
        self.on_snapshot(move |snap| features::definition(snap, &at))
            .await
    }

    async fn references(&self, params: lsp::ReferenceParams) -> Result<Option<Vec<lsp::Location>>> {
        let at = params.text_document_position;
        let decl = params.context.include_declaration;
        self.on_snapshot(move |snap| features::references(snap, &at, decl))
            .await
    }

    async fn prepare_rename(
        &self,
        params: lsp::TextDocumentPositionParams,
    ) -> Result<Option<lsp::PrepareRenameResponse>> {
        self.on_snapshot(move |snap| features::prepare_rename(snap, &params))
            .await
    }

    async fn rename(&self, params: lsp::RenameParams) -> Result<Option<lsp::WorkspaceEdit>> {
        let at = params.text_document_position;
        let name = params.new_name;
        self.on_snapshot(move |snap| features::rename(snap, &at, &name))
            .await?
            .map_err(Error::invalid_params)
    }

    async fn document_symbol(
        &self,
        params: lsp::DocumentSymbolParams,
    ) -> Result<Option<lsp::DocumentSymbolResponse>> {
        let uri = params.text_document.uri;
        self.on_snapshot(move |snap| features::document_symbols(snap, &uri))
            .await
    }

    async fn symbol(
        &self,
        params: lsp::WorkspaceSymbolParams,
    ) -> Result<Option<lsp::WorkspaceSymbolResponse>> {
        let query = params.query;
        self.on_snapshot(move |snap| features::workspace_symbols(snap, &query))
            .await
    }

    async fn signature_help(
        &self,
        params: lsp::SignatureHelpParams,
    ) -> Result<Option<lsp::SignatureHelp>> {
        let at = params.text_document_position_params;
        self.on_snapshot(move |snap| features::signature_help(snap, &at))
            .await
    }

    async fn code_action(
        &self,
        params: lsp::CodeActionParams,
    ) -> Result<Option<lsp::CodeActionResponse>> {
        self.on_snapshot(move |snap| {
            features::code_actions(snap, &params.text_document.uri, params.range)
        })
        .await
    }

    async fn semantic_tokens_full(
        &self,
        params: lsp::SemanticTokensParams,
    ) -> Result<Option<lsp::SemanticTokensResult>> {
        let uri = params.text_document.uri;
        self.on_snapshot(move |snap| features::semantic_tokens(snap, &uri))
            .await
    }

    async fn formatting(
        &self,
        params: lsp::DocumentFormattingParams,
    ) -> Result<Option<Vec<lsp::TextEdit>>> {
        let uri = params.text_document.uri;
        self.on_snapshot(move |snap| {
            let entry = snap.table.get(&uri)?;
            let text = entry.source.text(&snap.db);
            let formatted = mcpo_ide::format(&snap.db, entry.source)?;
            let lines = Lines::new(text);
            let whole = mcpo_diagnostics::Span::new(0, text.len());
            Some(vec![lsp::TextEdit::new(lines.range(whole), formatted)])
        })
        .await
    }
}
