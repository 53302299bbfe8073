//! Slow and idle clients cannot starve the server: idle connections and half-sent requests are
//! closed after the header timeout, a body that stops arriving ends in 408 after the request
//! timeout, and a connection over the limit is refused at once with a 503 naming the limit —
//! after which, once the idle ones are gone, `/healthz` answers again. (Before, `axum::serve`
//! kept idle and half-sent connections forever: 0 of 60 were closed after 65 s.)

mod common;

use std::time::{Duration, Instant};

use common::*;
use softliq_server::connections::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CONNECTIONS_MAX: usize = 6;

/// Reads until the server closes the connection (or 5 s pass); what it sent, and when it closed.
async fn until_closed(stream: &mut TcpStream) -> (String, Option<Duration>) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => {
                return (String::from_utf8_lossy(&got).into(), Some(start.elapsed()));
            }
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into(), None),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_cannot_starve_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_with(dir.path(), |c| {
        c.limits = Limits {
            connections_max: CONNECTIONS_MAX,
            // Two seconds: long enough that every held connection below is accepted before the
            // first of them times out, even on a loaded machine.
            header_read_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(1),
            ..Limits::default()
        };
    })
    .await;
    let addr = s.url.trim_start_matches("http://").to_owned();

    // An idle connection (nothing sent) is closed after the header timeout.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    let (_, closed) = until_closed(&mut idle).await;
    let closed = closed.expect("the idle connection was closed");
    assert!(closed >= Duration::from_millis(1800), "{closed:?}");

    // Half-sent headers: closed too.
    let mut half = TcpStream::connect(&addr).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (_, closed) = until_closed(&mut half).await;
    assert!(closed.is_some(), "half-sent headers were kept open");

    // A body that stops arriving: 408 naming the body, then closed.
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(
        format!(
            "POST /v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {ALICE}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"a\":"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let (answer, _) = until_closed(&mut slow).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"field\":\"body\""), "{answer}");

    // The connection limit: with every slot held by an idle client, one more is refused at
    // once with a 503 that names the limit.
    let mut held = Vec::new();
    for _ in 0..CONNECTIONS_MAX {
        held.push(TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut over = TcpStream::connect(&addr).await.unwrap();
    let (answer, closed) = until_closed(&mut over).await;
    assert!(
        closed.is_some_and(|d| d < Duration::from_millis(800)),
        "{closed:?}"
    );
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.contains("connection limit reached (6 open)"),
        "{answer}"
    );
    // The held connections time out, and the server answers again.
    for mut h in held {
        let (_, closed) = until_closed(&mut h).await;
        assert!(closed.is_some(), "an idle connection was kept");
    }
    let (status, body) = s.get("/healthz").await;
    assert_eq!(
        (status, body),
        (200, serde_json::Value::String("ok".into()))
    );
    s.stop().await;
}

/// A second server on the same data directory does not start: its bind fails, naming the
/// first one's process id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_one_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start(dir.path()).await;
    let listen = "127.0.0.1:0".parse().unwrap();
    let config = softliq_server::ServerConfig::new(dir.path().to_path_buf(), listen, tokens());
    let Err(e) = softliq_server::Server::bind(&config).await else {
        panic!("a second server started on the same data directory");
    };
    assert!(
        e.contains("in use by another softliq process")
            && e.contains(&format!("pid {}", std::process::id())),
        "{e}"
    );
    s.stop().await;
}
