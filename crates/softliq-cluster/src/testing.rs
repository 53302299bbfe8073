//! A JetStream cluster of real `nats-server` processes on loopback ports, for tests and
//! benchmarks: each server has its own data directory, and each can be killed (`SIGKILL`)
//! and started again on the same ports and data. `nats-server` comes from Debian's package;
//! when it is missing, [`nats_server`] installs it (as root) or says how to.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::LogConfig;
use crate::link::Link;

/// The `nats-server` binary, installed from Debian's package when missing.
///
/// # Panics
/// When it is missing and cannot be installed.
#[must_use]
pub fn nats_server() -> PathBuf {
    let known = ["/usr/sbin/nats-server", "/usr/bin/nats-server"];
    if let Some(p) = known.iter().map(PathBuf::from).find(|p| p.exists()) {
        return p;
    }
    let installed = Command::new("sh")
        .args([
            "-c",
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server",
        ])
        .status()
        .is_ok_and(|s| s.success());
    known
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "nats-server is missing and could not be installed (installed: {installed}); \
                 run: apt-get install nats-server"
            )
        })
}

/// A loopback port free now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One server of the cluster.
struct Server {
    name: String,
    client_port: u16,
    cluster_port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

/// A running JetStream cluster.
pub struct NatsCluster {
    servers: Vec<Server>,
    _root: tempfile::TempDir,
    binary: PathBuf,
}

impl std::fmt::Debug for NatsCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsCluster")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl NatsCluster {
    /// Starts `n` servers (1 gives a single server with JetStream, no cluster) and waits until
    /// JetStream answers on every one.
    ///
    /// # Panics
    /// When a server cannot be started or JetStream is not ready in 30 s.
    #[must_use]
    pub fn start(n: usize) -> Self {
        let root = tempfile::tempdir().expect("a temporary directory");
        let servers = (0..n)
            .map(|i| Server {
                name: format!("n{i}"),
                client_port: free_port(),
                cluster_port: free_port(),
                dir: root.path().join(format!("n{i}")),
                child: None,
            })
            .collect();
        let mut cluster = Self {
            servers,
            _root: root,
            binary: nats_server(),
        };
        for i in 0..n {
            cluster.start_server(i);
        }
        cluster.wait_ready(Duration::from_secs(30));
        cluster
    }

    fn start_server(&mut self, i: usize) {
        let routes: Vec<String> = self
            .servers
            .iter()
            .map(|s| format!("nats-route://127.0.0.1:{}", s.cluster_port))
            .collect();
        let clustered = self.servers.len() > 1;
        let s = &mut self.servers[i];
        std::fs::create_dir_all(&s.dir).expect("server directory");
        let mut cmd = Command::new(&self.binary);
        cmd.args(["-a", "127.0.0.1", "-p", &s.client_port.to_string()])
            .args(["-js", "-sd", &s.dir.display().to_string(), "-n", &s.name])
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(s.dir.join("server.log"))
                    .map_or_else(|_| Stdio::null(), Stdio::from),
            );
        if clustered {
            cmd.args(["--cluster_name", "softliq-test"])
                .args(["--cluster", &format!("nats://127.0.0.1:{}", s.cluster_port)])
                .args(["--routes", &routes.join(",")]);
        }
        s.child = Some(cmd.spawn().expect("start nats-server"));
    }

    /// Waits until a JetStream request succeeds through every running server.
    ///
    /// # Panics
    /// When that takes longer than `deadline`.
    pub fn wait_ready(&self, deadline: Duration) {
        let started = Instant::now();
        for s in self.servers.iter().filter(|s| s.child.is_some()) {
            let config = LogConfig::new(
                &format!("nats://127.0.0.1:{}", s.client_port),
                "READY",
                "probe",
            );
            loop {
                // The raw account-info request: JetStream answers it without an error once the
                // cluster has elected its meta leader.
                let ready = Link::connect(&config).and_then(|link| {
                    let reply = link.wait(
                        "account info",
                        link.client.request("$JS.API.INFO", bytes::Bytes::new()),
                    )?;
                    let text = String::from_utf8_lossy(&reply.payload).into_owned();
                    if text.contains("\"error\"") {
                        Err(softliq_node::StoreError::Remote(text))
                    } else {
                        Ok(())
                    }
                });
                if ready.is_ok() {
                    break;
                }
                assert!(
                    started.elapsed() < deadline,
                    "JetStream not ready on {} after {deadline:?}: {ready:?}",
                    s.name
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// Every server's URL, comma-separated (what a node is given).
    #[must_use]
    pub fn url(&self) -> String {
        self.servers
            .iter()
            .map(|s| format!("nats://127.0.0.1:{}", s.client_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Kills server `i` with `SIGKILL`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.servers[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts server `i` again on its ports and data.
    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        self.start_server(i);
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for i in 0..self.servers.len() {
            self.kill(i);
        }
    }
}
