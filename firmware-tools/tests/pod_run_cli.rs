//! `iotile-fw pod run` as a service runs it: a session leader of its own (`setsid`), stopped
//! with SIGTERM. The virtual dongle's pty must not become its controlling terminal, or
//! closing the dongle would hang the process up before it saves its PODs.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

#[test]
fn a_session_leader_stops_on_sigterm_and_saves_its_pods() {
    let state = tempfile::tempdir().unwrap();
    let mut child = Command::new("setsid")
        .arg(env!("CARGO_BIN_EXE_iotile-fw"))
        .args([
            "pod",
            "run",
            "--bled112",
            "--device",
            "0x1234",
            "--state-dir",
        ])
        .arg(state.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("setsid (util-linux) runs iotile-fw");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    loop {
        let line = lines.next().expect("iotile-fw says it is running").unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with("running;") {
            break;
        }
    }
    assert!(
        printed.contains("virtual BLED112 on the serial port"),
        "{printed}"
    );
    // Let the dongle settle into its loop before the stop.
    std::thread::sleep(Duration::from_millis(300));
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
    kill(pid, Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    let saved = std::fs::read_dir(state.path()).unwrap().count();
    assert_eq!(saved, 1, "the POD's state file is saved");
}
