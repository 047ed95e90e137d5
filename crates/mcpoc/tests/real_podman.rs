//! Containers on a real engine, end to end through `mcpoc`: Debian's podman (rootful),
//! driven by the standard library's adapters for two real MCP servers,
//! `mcp-server-docker` (PyPI, through podman's Docker-compatible API, served by
//! `podman system service` on a socket of the test's own) and `podman-mcp-server` (npm,
//! through the `podman` command). Installed by `scripts/install-podman.sh`, which also
//! builds the busybox image the containers run (nothing is pulled).
//!
//! Each test applies, plans again, sees a container removed outside mcpo, destroys, and
//! checks with `podman` itself that nothing of its own is left; a guard removes whatever a
//! failed test left behind (containers, networks, volumes, images, the API service).

mod deploy_support;
mod real_services;
mod twins_support;

use deploy_support::Ws;
use real_services::{cache_dir, engine_turn, free_port, http_body, ping};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The image `scripts/install-podman.sh` builds from busybox-static.
const BUSYBOX: &str = "localhost/mcpo-busybox:latest";

/// Skips the test with a notice, or fails it when `MCPO_REQUIRE_TEST_SERVERS` is set.
fn missing(what: &str) -> Option<Podman> {
    assert!(
        std::env::var("MCPO_REQUIRE_TEST_SERVERS").is_err(),
        "{what} (run scripts/install-podman.sh)"
    );
    eprintln!("skipped: {what} (run scripts/install-podman.sh)");
    None
}

/// Debian's podman with the cache's `containers.conf`, and the two servers.
struct Podman {
    conf: PathBuf,
    docker_server: PathBuf,
    podman_server: PathBuf,
}

impl Podman {
    /// The installation, or `None` when something is missing (the test is skipped).
    fn find() -> Option<Podman> {
        let cache = cache_dir();
        let p = Podman {
            conf: cache.join("podman/containers.conf"),
            docker_server: cache.join("py/docker/bin/mcp-server-docker"),
            podman_server: cache.join("node_modules/.bin/podman-mcp-server"),
        };
        for path in [&p.conf, &p.docker_server, &p.podman_server] {
            if !path.exists() {
                return missing(&format!("{} is missing", path.display()));
            }
        }
        match p.cmd(&["image", "exists", BUSYBOX]).output() {
            Ok(out) if out.status.success() => Some(p),
            Ok(_) => missing(&format!("podman has no image {BUSYBOX}")),
            Err(e) => missing(&format!("podman cannot run: {e}")),
        }
    }

    /// A `podman` command with the cache's `containers.conf`.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("podman");
        cmd.args(args)
            .env("CONTAINERS_CONF", &self.conf)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `podman args...` and returns its output, whatever its exit status.
    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("podman runs")
    }

    /// Runs `podman args...`, which must succeed, and returns its stdout.
    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "podman {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `podman ... --format json` parsed.
    fn json(&self, args: &[&str]) -> Vec<Value> {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        let text = self.ok(&all);
        if text.trim().is_empty() {
            return Vec::new();
        }
        serde_json::from_str(&text).expect("podman's JSON")
    }

    /// The containers (all states), as `podman ps -a` lists them.
    fn containers(&self) -> Vec<Value> {
        self.json(&["ps", "-a"])
    }

    /// Names of the containers, networks and volumes whose name starts with `prefix`, and
    /// ids of the containers made from image `image` (when given).
    fn ours(&self, prefix: &str, image: Option<&str>) -> Vec<String> {
        let mut found = Vec::new();
        for c in self.containers() {
            let names: Vec<&str> = c["Names"]
                .as_array()
                .map(|n| n.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let from_image = image.is_some_and(|i| c["Image"].as_str() == Some(i));
            if from_image || names.iter().any(|n| n.starts_with(prefix)) {
                found.push(format!(
                    "container {} ({})",
                    names.join(","),
                    c["Id"].as_str().unwrap_or("")
                ));
            }
        }
        for n in self.json(&["network", "ls"]) {
            let name = n["name"].as_str().or(n["Name"].as_str()).unwrap_or("");
            if name.starts_with(prefix) {
                found.push(format!("network {name}"));
            }
        }
        for v in self.json(&["volume", "ls"]) {
            let name = v["Name"].as_str().unwrap_or("");
            if name.starts_with(prefix) {
                found.push(format!("volume {name}"));
            }
        }
        found
    }

    /// The container named `name`, if it exists.
    fn container(&self, name: &str) -> Option<Value> {
        let out = self.run(&["container", "inspect", name]);
        if !out.status.success() {
            return None;
        }
        let all: Vec<Value> = serde_json::from_slice(&out.stdout).ok()?;
        all.into_iter().next()
    }

    /// Starts the Docker-compatible API on `socket` (`podman system service`) and waits
    /// until it answers.
    fn service(&self, socket: &Path) -> Child {
        let mut child = self
            .cmd(&[
                "system",
                "service",
                "--time=0",
                &format!("unix://{}", socket.display()),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("podman system service starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if ping(socket) {
                return child;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("podman system service exited: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "podman system service does not answer on {}",
                socket.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Removes, when dropped (a test that passed or failed), what a test made under its
/// prefix or from its image, and stops the API service it started. Holds the engine
/// for its test until then.
struct Sweep<'p> {
    podman: &'p Podman,
    prefix: String,
    image: Option<String>,
    service: Option<Child>,
    _turn: std::fs::File,
}

impl<'p> Sweep<'p> {
    fn new(podman: &'p Podman, test: &str) -> Sweep<'p> {
        // Released when the file closes: after the sweep, even when the test panicked.
        let turn = engine_turn();
        Sweep {
            podman,
            prefix: format!("mcpo-e2e-{}-{test}", std::process::id()),
            image: None,
            service: None,
            _turn: turn,
        }
    }
}

impl Drop for Sweep<'_> {
    fn drop(&mut self) {
        let p = self.podman;
        for c in p.containers() {
            let named = c["Names"].as_array().is_some_and(|n| {
                n.iter()
                    .filter_map(Value::as_str)
                    .any(|n| n.starts_with(&self.prefix))
            });
            let from_image = self
                .image
                .as_deref()
                .is_some_and(|i| c["Image"].as_str() == Some(i));
            if let Some(id) = c["Id"].as_str().filter(|_| named || from_image) {
                let _ = p.run(&["rm", "-f", "-t", "0", id]);
            }
        }
        for found in p.ours(&self.prefix, None) {
            if let Some(name) = found.strip_prefix("network ") {
                let _ = p.run(&["network", "rm", "-f", name]);
            } else if let Some(name) = found.strip_prefix("volume ") {
                let _ = p.run(&["volume", "rm", "-f", name]);
            }
        }
        if let Some(image) = &self.image {
            let _ = p.run(&["rmi", "-f", image]);
        }
        if let Some(mut child) = self.service.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A network, a volume and two containers, one serving its volume over HTTP on
/// 127.0.0.1:`port` (the page is written from its environment at start).
fn app(prefix: &str, port: u16) -> String {
    format!(
        r#"
resource "docker.network" "app" {{
  name   = "{prefix}-net"
  labels = {{ suite = "mcpo" }}
}}

resource "docker.volume" "site" {{
  name = "{prefix}-site"
}}

resource "docker.container" "web" {{
  name    = "{prefix}-web"
  image   = "{BUSYBOX}"
  network = docker.network.app.name
  env     = {{ GREETING = "hello from mcpo" }}
  ports   = [{{ host_port = {port}, container_port = 8080, host_ip = "127.0.0.1" }}]
  volumes = [{{ volume = docker.volume.site.name, target = "/www" }}]
  command = ["/bin/sh", "-c", "echo \"$GREETING\" > /www/index.html && exec httpd -f -p 8080 -h /www"]
}}

resource "docker.container" "worker" {{
  name    = "{prefix}-worker"
  image   = "{BUSYBOX}"
  network = docker.network.app.name
  env     = {{ UPSTREAM = docker.container.web.name }}
  command = ["sleep", "3600"]
}}

output "web_state" {{
  value = docker.container.web.state
}}

output "web_networks" {{
  value = docker.container.web.networks
}}

output "volume_scope" {{
  value = startswith(docker.volume.site.mountpoint, "/")
}}
"#
    )
}

#[test]
fn mcp_server_docker_on_podman_applies_replans_sees_removal_and_destroys() {
    let Some(podman) = Podman::find() else { return };
    let mut sweep = Sweep::new(&podman, "docker");
    let prefix = sweep.prefix.clone();
    let port = free_port();
    let ws = Ws::empty();
    ws.write(
        "adapters.mcpo",
        "use \"docker\" { source = \"stdlib/adapters/mcp-server-docker\" }\n",
    );
    let socket = ws.path().join("podman.sock");
    sweep.service = Some(podman.service(&socket));
    ws.write(
        "main.mcpo",
        &format!(
            "server \"docker\" {{\n  command = \"{}\"\n  env     = {{ DOCKER_HOST = \"unix://{}\" }}\n}}\n{}",
            podman.docker_server.display(),
            socket.display(),
            app(&prefix, port)
        ),
    );
    ws.pull();

    ws.run(&["check"]).expect_code(0);
    let applied = ws.apply_ok();
    assert!(
        applied.stdout.contains("4 created")
            && applied.stdout.contains(r#"web_state    = "running""#)
            && applied
                .stdout
                .contains(&format!(r#"web_networks = ["{prefix}-net"]"#))
            && applied.stdout.contains("volume_scope = true"),
        "{}",
        applied.both()
    );

    // The web container answers on 127.0.0.1 with the page its environment wrote into
    // the volume; both containers are on the network, running.
    assert_eq!(http_body(port).trim(), "hello from mcpo");
    let web = podman.container(&format!("{prefix}-web")).expect("web");
    let bindings = &web["HostConfig"]["PortBindings"]["8080/tcp"][0];
    assert_eq!(bindings["HostIp"], "127.0.0.1", "{bindings}");
    assert_eq!(bindings["HostPort"], port.to_string(), "{bindings}");
    let worker = podman
        .container(&format!("{prefix}-worker"))
        .expect("worker");
    assert_eq!(worker["State"]["Status"], "running");
    let env: Vec<&str> = worker["Config"]["Env"]
        .as_array()
        .map(|e| e.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        env.contains(&format!("UPSTREAM={prefix}-web").as_str()),
        "{env:?}"
    );
    assert!(
        worker["NetworkSettings"]["Networks"]
            .get(format!("{prefix}-net"))
            .is_some(),
        "{}",
        worker["NetworkSettings"]
    );
    let ids: Vec<String> = ws.state_addresses();
    assert_eq!(
        ids,
        vec![
            "docker.container.web",
            "docker.container.worker",
            "docker.network.app",
            "docker.volume.site"
        ]
    );

    // Planned again: nothing to do.
    let again = ws.run(&["plan", "--detailed-exitcode"]);
    again.expect_code(0);
    assert!(again.stdout.contains("No changes."), "{}", again.both());

    // A container removed outside mcpo is seen and planned back.
    podman.ok(&["rm", "-f", "-t", "0", &format!("{prefix}-worker")]);
    let drift = ws.run(&["plan", "--detailed-exitcode"]);
    drift.expect_code(2);
    assert!(
        drift.stdout.contains("+ docker.container.worker  (create)")
            && drift
                .stderr
                .contains("docker.container.worker: deleted outside mcpo"),
        "{}",
        drift.both()
    );
    ws.apply_ok();
    assert_eq!(
        podman
            .container(&format!("{prefix}-worker"))
            .expect("worker")["State"]["Status"],
        "running"
    );
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);

    // Destroy: nothing of ours is left on the engine, nor in the state.
    let destroyed = ws.run(&["destroy", "--auto-approve"]);
    destroyed.expect_code(0);
    assert!(
        destroyed.stdout.contains("4 deleted"),
        "{}",
        destroyed.both()
    );
    assert_eq!(podman.ours(&prefix, None), Vec::<String>::new());
    assert_eq!(ws.state_addresses(), Vec::<String>::new());
}

/// A real server that dies mid-apply: `mcp-server-docker` behind `tests/real/die_after.py`,
/// killed when its answer to the seventh call (the worker's `run_container`; before it:
/// two creates and two reads in the first wave, the web container's create and read) comes
/// back. The step fails with a clear error; the state holds what was recorded and an
/// intent for the worker, which exists on the engine. The next plan finds it through the
/// adapter's `list` (the container carries its inputs in a label) and adopts it instead of
/// creating it twice.
#[test]
fn mcp_server_docker_dying_mid_apply_leaves_a_true_state() {
    let Some(podman) = Podman::find() else { return };
    let mut sweep = Sweep::new(&podman, "dies");
    let prefix = sweep.prefix.clone();
    let port = free_port();
    let ws = Ws::empty();
    ws.write(
        "adapters.mcpo",
        "use \"docker\" { source = \"stdlib/adapters/mcp-server-docker\" }\n",
    );
    let socket = ws.path().join("podman.sock");
    sweep.service = Some(podman.service(&socket));
    let proxy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/real/die_after.py");
    let proxy = proxy.canonicalize().expect("the proxy script");
    ws.write(
        "main.mcpo",
        &format!(
            "server \"docker\" {{\n  command         = \"python3\"\n  args            = [\"{}\", \"{}\"]\n  max_concurrency = 1\n  env             = {{ DOCKER_HOST = \"unix://{}\" }}\n}}\n{}",
            proxy.display(),
            podman.docker_server.display(),
            socket.display(),
            app(&prefix, port)
        ),
    );
    ws.pull();
    let died = ws.run_env(
        &["apply", "--auto-approve"],
        &[("DIE_AFTER", "7"), ("DIE_WHEN", "answered")],
    );
    died.expect_code(1);
    assert!(
        died.stderr
            .contains("error[E0602]: docker.container.worker")
            && died.stderr.contains("the server crashed during the call"),
        "{}",
        died.both()
    );
    let worker = podman
        .container(&format!("{prefix}-worker"))
        .expect("the create happened");
    assert_eq!(worker["State"]["Status"], "running");
    assert_eq!(
        ws.state_addresses(),
        vec![
            "docker.container.web",
            "docker.network.app",
            "docker.volume.site"
        ]
    );
    let state: Value =
        serde_json::from_str(&ws.read(".mcpo/state/state.json")).expect("the state is JSON");
    assert_eq!(
        state["intents"][0]["address"], "docker.container.worker",
        "{state}"
    );

    // The next plan adopts the worker: nothing to create.
    let plan = ws.run(&["plan"]);
    plan.expect_code(0);
    let id = worker["Id"].as_str().unwrap_or_default();
    assert!(
        plan.stderr.contains(&format!(
            "docker.container.worker: found the resource an interrupted create made (id {id})"
        )) && plan
            .stdout
            .contains("Plan: 0 to create, 0 to update, 0 to replace, 0 to delete."),
        "{}",
        plan.both()
    );
    ws.apply_ok();
    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);
    assert_eq!(http_body(port).trim(), "hello from mcpo");
    ws.run(&["destroy", "--auto-approve"]).expect_code(0);
    assert_eq!(podman.ours(&prefix, None), Vec::<String>::new());
}

/// `podman-mcp-server`: an image built from a Containerfile (`docker.image_build`) and a
/// container of it publishing a port (`docker.container`), through the `podman` command.
#[test]
fn podman_mcp_server_builds_runs_replans_sees_removal_and_destroys() {
    let Some(podman) = Podman::find() else { return };
    let mut sweep = Sweep::new(&podman, "podman");
    let tag = format!("localhost/{}-web:1", sweep.prefix);
    sweep.image = Some(tag.clone());
    let port = free_port();
    let ws = Ws::empty();
    ws.write(
        "adapters.mcpo",
        "use \"podman\" { source = \"stdlib/adapters/podman-mcp-server\" }\n",
    );
    // The server runs every container with `--rm` and deletes by stopping: the image
    // stops at once (busybox's shell as PID 1 would ignore SIGTERM for ten seconds).
    ws.write(
        "web/Containerfile",
        &format!(
            "FROM {BUSYBOX}\nSTOPSIGNAL SIGKILL\nCMD [\"/bin/sh\", \"-c\", \"mkdir -p /www && echo \\\"$GREETING\\\" > /www/index.html && exec httpd -f -p 8080 -h /www\"]\n"
        ),
    );
    let context = ws.path().join("web");
    ws.write(
        "main.mcpo",
        &format!(
            r#"server "docker" {{
  command = "{server}"
  args    = ["--podman-impl", "cli", "--output-format", "json"]
  env     = {{ CONTAINERS_CONF = "{conf}" }}
}}

resource "docker.image_build" "web" {{
  context    = "{context}"
  dockerfile = "Containerfile"
  tag        = "{tag}"
}}

resource "docker.container" "web" {{
  image = docker.image_build.web.tag
  env   = {{ GREETING = "hello from podman" }}
  ports = [{{ host_port = {port}, container_port = 8080 }}]
}}

output "image_id" {{
  value = docker.image_build.web.image_id
}}

output "state" {{
  value = docker.container.web.state
}}
"#,
            server = podman.podman_server.display(),
            conf = podman.conf.display(),
            context = context.display(),
        ),
    );
    ws.pull();
    ws.run(&["check"]).expect_code(0);
    let applied = ws.apply_ok();
    assert!(
        applied.stdout.contains("2 created") && applied.stdout.contains(r#"state    = "running""#),
        "{}",
        applied.both()
    );
    let image: Vec<Value> = podman.json(&["images", "--filter", &format!("reference={tag}")]);
    assert_eq!(image.len(), 1, "{image:?}");
    let image_id = image[0]["Id"].as_str().unwrap_or_default().to_string();
    assert!(
        applied
            .stdout
            .contains(&format!(r#"image_id = "{image_id}""#)),
        "{}",
        applied.both()
    );
    assert_eq!(http_body(port).trim(), "hello from podman");
    let container_id = |ws: &Ws| -> String {
        let state: Value =
            serde_json::from_str(&ws.read(".mcpo/state/state.json")).expect("the state is JSON");
        state["resources"]["docker.container.web"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let first = container_id(&ws);
    let running = podman.container(&first).expect("the container");
    assert_eq!(running["ImageName"], tag.as_str(), "{running}");

    ws.run(&["plan", "--detailed-exitcode"]).expect_code(0);

    // Removed outside mcpo: planned back.
    podman.ok(&["rm", "-f", "-t", "0", &first]);
    let drift = ws.run(&["plan", "--detailed-exitcode"]);
    drift.expect_code(2);
    assert!(
        drift.stdout.contains("+ docker.container.web  (create)")
            && drift
                .stderr
                .contains("docker.container.web: deleted outside mcpo"),
        "{}",
        drift.both()
    );
    ws.apply_ok();
    let second = container_id(&ws);
    assert_ne!(first, second);
    assert!(podman.container(&second).is_some());
    assert_eq!(http_body(port).trim(), "hello from podman");

    // A container of an image that does not exist: the server's tool error fails the
    // step, and nothing is recorded for it.
    ws.write(
        "broken.mcpo",
        &format!(
            "resource \"docker.container\" \"broken\" {{\n  image = \"localhost/{}-missing:1\"\n}}\n",
            sweep.prefix
        ),
    );
    let failed = ws.run(&["apply", "--auto-approve"]);
    failed.expect_code(1);
    assert!(
        failed.stderr.contains("docker.container.broken")
            && failed.stderr.contains("exit status 125"),
        "{}",
        failed.both()
    );
    assert!(
        !ws.state_addresses()
            .contains(&"docker.container.broken".to_string())
    );
    std::fs::remove_file(ws.path().join("broken.mcpo")).expect("rm");

    // Destroy: the container (stopped, so removed) and the image are gone.
    let destroyed = ws.run(&["destroy", "--auto-approve"]);
    destroyed.expect_code(0);
    assert!(
        destroyed.stdout.contains("2 deleted"),
        "{}",
        destroyed.both()
    );
    assert_eq!(podman.ours(&sweep.prefix, Some(&tag)), Vec::<String>::new());
    assert!(
        podman
            .json(&["images", "--filter", &format!("reference={tag}")])
            .is_empty()
    );
    assert_eq!(ws.state_addresses(), Vec::<String>::new());
}
