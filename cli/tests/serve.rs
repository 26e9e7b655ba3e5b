//! `leasehold serve`: the dashboard answers on the address bound, read-only refuses
//! changes, and Ctrl-C (SIGINT) stops it cleanly.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use support::seeded_file;

/// The status code of a bodiless `method` request to `path` on `address`.
fn status(address: &str, method: &str, path: &str) -> u16 {
    let mut stream = TcpStream::connect(address).expect("the dashboard listens");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("sends");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reads");
    let code = answer.split_whitespace().nth(1).expect("a status line");
    code.parse().expect("a status code")
}

#[cfg(unix)]
#[test]
fn serve_answers_read_only_and_stops_on_ctrl_c() {
    let (_dir, url, _) = seeded_file();
    let mut child = Command::new(env!("CARGO_BIN_EXE_leasehold"))
        .args([
            "--db",
            &url,
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--read-only",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut stderr = BufReader::new(child.stderr.take().expect("piped"));
    let mut first = String::new();
    stderr.read_line(&mut first).expect("a first line");
    let address = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("the address in {first:?}"))
        .to_owned();

    let home = status(&address, "GET", "/");
    let jobs = status(&address, "GET", "/jobs");
    let pause = status(&address, "POST", "/queues/pause");
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    let exit = child.wait().expect("exits");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).expect("reads");

    assert!(first.contains("(read-only)"), "{first}");
    assert_eq!(home, 200);
    assert_eq!(jobs, 200);
    assert_eq!(pause, 403, "read-only refuses changes");
    assert!(interrupted.success());
    assert_eq!(exit.code(), Some(0), "{rest}");
    assert!(rest.contains("stopped"), "{rest}");
}
