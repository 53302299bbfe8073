//! Running `softliq serve` (and friends) as child processes in tests.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Kills the child when dropped, so a failing assertion leaves nothing running.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `softliq` binary under test.
pub fn softliq() -> Command {
    Command::new(env!("CARGO_BIN_EXE_softliq"))
}

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A started server: its process, its base URL, and its first lines of output.
pub struct Served {
    pub guard: Guard,
    pub url: String,
    pub lines: Vec<String>,
}

/// Starts `softliq serve` on a free loopback port with `args` and `envs`, reads its first
/// `lines` lines of stdout (the first names the URL), and drains the rest.
pub fn serve<I, S>(args: I, envs: &[(&str, &str)], lines: usize) -> Served
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut child = softliq()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "warn")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut read = Vec::new();
    for _ in 0..lines.max(1) {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        read.push(line.trim_end().to_owned());
    }
    // Keep draining the server's stdout so that it never writes into a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
    let url = read[0]
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {:?}", read[0]))
        .trim_end_matches('/')
        .to_owned();
    Served {
        guard: Guard(child),
        url,
        lines: read,
    }
}
