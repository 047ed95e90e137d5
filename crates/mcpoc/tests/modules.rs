//! Modules from outside the workspace, through the binary: `mcpoc publish` into a registry
//! directory served over HTTP on 127.0.0.1, `mcpoc get` picking the version a constraint
//! allows and pinning it in `mcpo.lock`, `check` treating the module's use exactly like a
//! local one, tampered archives and changed content refused; git sources pinned to a tag
//! and to a commit (local repositories); `mcpoc doc`.

mod deploy_support;
mod twins_support;

use deploy_support::Ws;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A static file server for `root` on 127.0.0.1, stopped on drop.
struct Registry {
    url: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Registry {
    fn serve(root: &Path) -> Registry {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let stop = Arc::new(AtomicBool::new(false));
        let (root, flag) = (root.to_path_buf(), stop.clone());
        let thread = std::thread::spawn(move || {
            // Bounded: at most five minutes, and until the test drops it.
            let start = std::time::Instant::now();
            while !flag.load(Ordering::SeqCst) && start.elapsed().as_secs() < 300 {
                match listener.accept() {
                    Ok((stream, _)) => answer(&root, stream),
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
        });
        Registry {
            url,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn answer(root: &Path, stream: std::net::TcpStream) {
    let _ = stream.set_nonblocking(false);
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    // Skip the headers.
    let mut header = String::new();
    while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
        header.clear();
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/");
    let file = root.join(path.trim_start_matches('/'));
    let mut stream = reader.into_inner();
    match std::fs::read(&file) {
        Ok(body) if !path.contains("..") => {
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
        }
        _ => {
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    }
}

/// Runs `mcpoc args...` in `dir` (outside a workspace).
fn mcpoc_in(dir: &Path, args: &[&str]) -> Out {
    let out = Command::new(deploy_support::MCPOC)
        .args(args)
        .current_dir(dir)
        .env("PATH", deploy_support::path_with_mcpoc())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("mcpoc runs");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// One run's exit code and output.
struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    #[track_caller]
    fn expect_code(&self, code: i32) {
        assert_eq!(self.code, Some(code), "{}", self.both());
    }

    fn both(&self) -> String {
        format!("--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr)
    }
}

/// A module `acme/web` at `version`: a namespace named by `name`, output `namespace`.
fn write_module(dir: &Path, version: &str, extra_output: &str) {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(
        dir.join("mcpo.toml"),
        format!(
            "[module]\nname = \"acme/web\"\nversion = \"{version}\"\ndescription = \"A namespace\"\nservers = [\"kubernetes\"]\n"
        ),
    )
    .expect("write");
    std::fs::write(
        dir.join("main.mcpo"),
        format!(
            r#"# A namespace for a web service.
pattern "web" {{
  param "name" {{
    type        = string
    description = "The namespace's name."
  }}
  resource "kubernetes.namespace" "ns" {{
    name = param.name
  }}
  output "namespace" {{
    value       = kubernetes.namespace.ns.name
    description = "The namespace."
  }}
  {extra_output}
}}
"#
        ),
    )
    .expect("write");
}

const KUBERNETES: &str = r#"server "kubernetes" {
  command = "mcpoc"
  args    = ["twin", "kubernetes", "--state-dir", ".mcpo/twins/kubernetes"]
}
"#;

fn lock_of(ws: &Ws) -> String {
    ws.read("mcpo.lock")
}

#[test]
fn publish_get_use_through_a_registry() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (module, registry) = (tmp.path().join("web"), tmp.path().join("registry"));
    for (v, extra) in [
        ("1.1.0", ""),
        ("1.2.0", ""),
        ("1.4.0", "output \"v14\" {\n    value = \"1.4\"\n  }"),
        ("2.0.0", "output \"v2\" {\n    value = \"2\"\n  }"),
    ] {
        write_module(&module, v, extra);
        let run = mcpoc_in(tmp.path(), &["publish", "web", "--registry", "registry"]);
        run.expect_code(0);
        assert!(
            run.stdout.contains(&format!("published acme/web {v}")),
            "{}",
            run.both()
        );
    }
    // A published version never changes.
    write_module(&module, "2.0.0", "");
    mcpoc_in(tmp.path(), &["publish", "web", "--registry", "registry"]).expect_code(1);
    let server = Registry::serve(&registry);

    let ws = Ws::empty();
    ws.write(
        "mcpo.toml",
        &format!("[registry]\nurl = \"{}\"\n", server.url),
    );
    ws.write(
        "main.mcpo",
        &format!(
            "{KUBERNETES}\nuse \"web\" {{\n  source  = \"acme/web\"\n  version = \"~> 1.2\"\n  name    = \"shop\"\n}}\n\noutput \"ns\" {{\n  value = module.web.v14\n}}\n"
        ),
    );
    ws.pull();
    // Not fetched yet: E0116 at the use.
    let before = ws.run(&["check"]);
    before.expect_code(1);
    assert!(
        before.stderr.contains("E0116") && before.stderr.contains("mcpoc get"),
        "{}",
        before.both()
    );

    // `~> 1.2` picks 1.4.0 (not 1.1.0, not 2.0.0), and the lock pins it.
    let get = ws.run(&["get"]);
    get.expect_code(0);
    assert!(
        get.stdout.contains("1.4.0 fetched and locked"),
        "{}",
        get.both()
    );
    let lock = lock_of(&ws);
    assert!(
        lock.contains("[modules.\"acme/web @ ~> 1.2\"]") && lock.contains("version = \"1.4.0\""),
        "{lock}"
    );
    ws.run(&["check"]).expect_code(0);

    // Checked at the use exactly like a local pattern: a wrong type, a missing param, an
    // output the pattern does not have.
    ws.write(
        "main.mcpo",
        &format!(
            "{KUBERNETES}\nuse \"web\" {{\n  source  = \"acme/web\"\n  version = \"~> 1.2\"\n  name    = [\"shop\"]\n}}\n\nuse \"other\" {{\n  source  = \"acme/web\"\n  version = \"~> 1.2\"\n}}\n\noutput \"ns\" {{\n  value = module.web.v2\n}}\n"
        ),
    );
    let wrong = ws.run(&["check", "--format", "json"]);
    wrong.expect_code(1);
    let doc: serde_json::Value = serde_json::from_str(&wrong.stdout).expect("a JSON document");
    let got: Vec<(String, u64)> = doc["diagnostics"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            (
                d["code"].as_str().unwrap_or("").to_string(),
                d["line"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("E0201".to_string(), 9),
            ("E0200".to_string(), 12),
            ("E0109".to_string(), 18)
        ],
        "{}",
        wrong.both()
    );

    // A new 1.x version does not move the lock; `get --update` does.
    ws.write(
        "main.mcpo",
        &format!("{KUBERNETES}\nuse \"web\" {{\n  source  = \"acme/web\"\n  version = \"~> 1.2\"\n  name    = \"shop\"\n}}\n"),
    );
    write_module(&module, "1.5.0", "");
    mcpoc_in(tmp.path(), &["publish", "web", "--registry", "registry"]).expect_code(0);
    let again = ws.run(&["get"]);
    again.expect_code(0);
    assert!(again.stdout.contains("1.4.0 cached"), "{}", again.both());
    let update = ws.run(&["get", "--update"]);
    update.expect_code(0);
    assert!(
        update.stdout.contains("1.5.0 fetched and locked"),
        "{}",
        update.both()
    );
    ws.run(&["check"]).expect_code(0);

    // The module deploys like any pattern.
    ws.apply_ok();
    assert_eq!(ws.state_addresses(), ["module.web.kubernetes.namespace.ns"]);
    ws.run(&["destroy", "--auto-approve"]).expect_code(0);

    // Files changed in the cache are refused until fetched again.
    let cached = ws
        .path()
        .join(".mcpo/modules/registry/acme/web/1.5.0/main.mcpo");
    let text = std::fs::read_to_string(&cached).expect("cached");
    std::fs::write(
        &cached,
        text.replace("kubernetes.namespace", "kubernetes.config_map"),
    )
    .expect("write");
    let changed = ws.run(&["check"]);
    changed.expect_code(1);
    assert!(
        changed
            .stderr
            .contains("changed after `mcpoc get` fetched them"),
        "{}",
        changed.both()
    );
    ws.run(&["get"]).expect_code(0);
    ws.run(&["check"]).expect_code(0);

    // A tampered archive is refused.
    let archive = registry.join("acme/web/1.5.0.tar.gz");
    let mut bytes = std::fs::read(&archive).expect("archive");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&archive, bytes).expect("write");
    std::fs::remove_dir_all(ws.path().join(".mcpo/modules")).expect("rm cache");
    let tampered = ws.run(&["get"]);
    tampered.expect_code(1);
    assert!(
        tampered.stderr.contains("was refused"),
        "{}",
        tampered.both()
    );
    assert!(
        lock_of(&ws).contains("version = \"1.5.0\""),
        "the lock is kept"
    );
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn git_repo(dir: &Path) -> (String, String) {
    write_module(dir, "1.0.0", "");
    git(dir, &["init", "--quiet"]);
    git(dir, &["add", "."]);
    git(dir, &["commit", "--quiet", "-m", "v1"]);
    git(dir, &["tag", "v1.0.0"]);
    let first = git(dir, &["rev-parse", "HEAD"]);
    write_module(dir, "1.1.0", "output \"later\" {\n    value = \"1.1\"\n  }");
    git(dir, &["commit", "--quiet", "-am", "v1.1"]);
    let second = git(dir, &["rev-parse", "HEAD"]);
    (first, second)
}

#[test]
fn git_sources_pinned_to_a_tag_and_a_commit() {
    if Command::new("git").arg("--version").output().is_err() {
        eprintln!("git is not installed: skipped");
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let repo = tmp.path().join("repo");
    let (first, second) = git_repo(&repo);
    let ws = Ws::empty();
    let url = repo.display().to_string();
    ws.write(
        "main.mcpo",
        &format!(
            "{KUBERNETES}\nuse \"tagged\" {{\n  source = \"git::{url}?ref=v1.0.0\"\n  name   = \"a\"\n}}\n\nuse \"pinned\" {{\n  source = \"git::{url}?ref={second}\"\n  name   = \"b\"\n}}\n\noutput \"later\" {{\n  value = module.pinned.later\n}}\n"
        ),
    );
    ws.pull();
    ws.run(&["check"]).expect_code(1);
    let get = ws.run(&["get"]);
    get.expect_code(0);
    assert!(
        get.stdout.contains(&first) && get.stdout.contains(&second),
        "{}",
        get.both()
    );
    ws.run(&["check"]).expect_code(0);
    // The tag's module has no `later` output: it is the first commit's.
    ws.write(
        "extra.mcpo",
        "output \"nope\" {\n  value = module.tagged.later\n}\n",
    );
    let wrong = ws.run(&["check"]);
    wrong.expect_code(1);
    assert!(wrong.stderr.contains("E0109"), "{}", wrong.both());
    std::fs::remove_file(ws.path().join("extra.mcpo")).expect("rm");

    // The tag moves to the second commit: the lock keeps the first until --update.
    git(&repo, &["tag", "-f", "v1.0.0", &second]);
    std::fs::remove_dir_all(ws.path().join(".mcpo/modules")).expect("rm cache");
    let kept = ws.run(&["get"]);
    kept.expect_code(0);
    assert!(kept.stdout.contains(&first), "{}", kept.both());
    let moved = ws.run(&["get", "--update"]);
    moved.expect_code(0);
    assert!(!moved.stdout.contains(&first), "{}", moved.both());
    ws.apply_ok();
    ws.run(&["destroy", "--auto-approve"]).expect_code(0);
}

#[test]
fn doc_renders_a_module() {
    let tmp = tempfile::tempdir().expect("tmp");
    write_module(&tmp.path().join("web"), "1.0.0", "");
    let run = mcpoc_in(tmp.path(), &["doc", "web"]);
    run.expect_code(0);
    for part in [
        "# `acme/web` 1.0.0",
        "## Pattern `web`",
        "A namespace for a web service.",
        "| `name` | `string` | required | The namespace's name. |",
        "| `namespace` | The namespace. |",
        "- `kubernetes.namespace` `ns`",
    ] {
        assert!(run.stdout.contains(part), "{part}\n{}", run.stdout);
    }
    mcpoc_in(tmp.path(), &["doc", "stdlib/nope"]).expect_code(2);
}

/// A package of adapters documents its resource types: what each takes, which operations
/// it has and what a missing one means, and how the package is imported.
#[test]
fn doc_renders_a_package_of_adapters() {
    let tmp = tempfile::tempdir().expect("tmp");
    let run = mcpoc_in(tmp.path(), &["doc", "stdlib/adapters/server-filesystem"]);
    run.expect_code(0);
    for part in [
        "# `stdlib/adapters/server-filesystem`",
        "```hcl\nuse \"filesystem\" {\n  source = \"stdlib/adapters/server-filesystem\"\n}\n```",
        "## Resource type `filesystem.file`",
        "## Resource type `filesystem.directory`",
        "no `delete`: destroy forgets it and leaves it be",
    ] {
        assert!(run.stdout.contains(part), "{part}\n{}", run.stdout);
    }
    let memory = mcpoc_in(tmp.path(), &["doc", "stdlib/adapters/server-memory"]);
    memory.expect_code(0);
    assert!(
        memory.stdout.contains(
            "## Resource type `memory.entity`\n\nAn entity: `name` is its id.\n\nInputs: `object({ name = string, kind = string, observations = optional(list(string)) })`\n\nOperations: `create`, `read`, `delete` (no `update`: a change replaces)."
        ),
        "{}",
        memory.stdout
    );
}

/// The standard library's READMEs and book pages are what `mcpoc doc` prints. Regenerate
/// with `UPDATE_BOOK=1 cargo test -p mcpoc --test modules`.
#[test]
fn stdlib_pages_are_what_doc_says() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    // A module is a directory with its `mcpo.toml` (`stdlib/adapters/` holds adapters,
    // `stdlib/runbooks/` packages of runbooks).
    let modules_in = |dir: &str| -> Vec<String> {
        std::fs::read_dir(repo.join("stdlib").join(dir))
            .expect("stdlib")
            .flatten()
            .filter(|e| e.path().join("mcpo.toml").is_file())
            .map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                }
            })
            .collect()
    };
    let mut names = modules_in("");
    names.extend(modules_in("runbooks"));
    names.sort();
    assert_eq!(names.len(), 6, "{names:?}");
    let mut stale = Vec::new();
    for name in names {
        let run = mcpoc_in(&repo, &["doc", &format!("stdlib/{name}")]);
        run.expect_code(0);
        for page in [
            repo.join(format!("stdlib/{name}/README.md")),
            repo.join(format!("book/src/stdlib/{name}.md")),
        ] {
            if std::env::var_os("UPDATE_BOOK").is_some() {
                std::fs::write(&page, &run.stdout).expect("write page");
            }
            if std::fs::read_to_string(&page).unwrap_or_default() != run.stdout {
                stale.push(page.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "out of date (run `UPDATE_BOOK=1 cargo test -p mcpoc --test modules`): {stale:?}"
    );
}
