//! Unit tests of one node's upgrade: the error line, the status and the script text.

use super::*;
use crate::shell::quote;

#[test]
fn the_error_line_is_the_script_s_own_not_the_whole_trace() {
    let out = "Checking node\n+ systemctl stop dcos-mesos-master\nERROR: Expecting to upgrade DC/OS from 2.1.3 to 2.2.1. Version found on node: 2.0.0\n\n";
    assert_eq!(
        error_line(out),
        "ERROR: Expecting to upgrade DC/OS from 2.1.3 to 2.2.1. Version found on node: 2.0.0"
    );
    assert_eq!(error_line("one\ntwo\n"), "two");
    assert_eq!(error_line(""), "(no output)");
}

#[test]
fn status_output_is_parsed() {
    assert_eq!(parse_status("none\n--tail--\n"), Detached::NotStarted);
    assert_eq!(parse_status("running\n--tail--\nx"), Detached::Running);
    assert_eq!(
        parse_status("rc=1\n--tail--\nERROR: boom\n"),
        Detached::Exited {
            rc: 1,
            tail: "ERROR: boom".into()
        }
    );
    assert!(matches!(
        parse_status("died\n--tail--\n"),
        Detached::Died { .. }
    ));
    assert!(matches!(
        parse_status("rc=\n--tail--\n"),
        Detached::Died { .. }
    ));
}

#[test]
fn the_status_script_runs_in_a_real_shell() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("a b");
    let run = |d: &std::path::Path| {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(status_script(d.to_str().unwrap()))
            .output()
            .unwrap();
        parse_status(&String::from_utf8_lossy(&out.stdout))
    };
    assert_eq!(run(&d), Detached::NotStarted);
    std::fs::create_dir(&d).unwrap();
    assert_eq!(run(&d), Detached::Starting);
    std::fs::write(d.join("pid"), "999999999").unwrap();
    assert!(matches!(run(&d), Detached::Died { .. }));
    std::fs::write(d.join("rc"), "0\n").unwrap();
    std::fs::write(d.join("out.log"), "done\n").unwrap();
    assert_eq!(
        run(&d),
        Detached::Exited {
            rc: 0,
            tail: "done".into()
        }
    );
}

#[test]
fn the_wait_script_returns_as_soon_as_the_script_ends_and_after_its_bound_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("attempt-1");
    let d = d.to_str().unwrap().to_string();
    let sh = |script: String| {
        let t = std::time::Instant::now();
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap();
        (
            parse_status(&String::from_utf8_lossy(&out.stdout)),
            t.elapsed(),
        )
    };
    // A detached run that ends 300 ms after it starts.
    std::fs::create_dir(&d).unwrap();
    let start = format!(
        "cd {q}; nohup setsid bash -c 'sleep 0.3; echo ok; echo 0 > rc.tmp; mv rc.tmp rc' > out.log 2>&1 < /dev/null & echo $! > pid",
        q = quote(&d)
    );
    assert!(std::process::Command::new("bash")
        .arg("-c")
        .arg(start)
        .status()
        .unwrap()
        .success());
    let (s, took) = sh(wait_script(&d, 10));
    assert_eq!(
        s,
        Detached::Exited {
            rc: 0,
            tail: "ok".into()
        }
    );
    assert!(took < Duration::from_secs(2), "noticed after {took:?}");
    // Still running at the bound: it says so after about the bound.
    std::fs::remove_file(format!("{d}/rc")).unwrap();
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    std::fs::write(format!("{d}/pid"), child.id().to_string()).unwrap();
    let (s, took) = sh(wait_script(&d, 1));
    assert_eq!(s, Detached::Running);
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "{took:?}"
    );
    // Its process dies without an exit status: noticed at once.
    child.kill().unwrap();
    child.wait().unwrap();
    let (s, took) = sh(wait_script(&d, 10));
    assert!(matches!(s, Detached::Died { .. }), "{s:?}");
    assert!(took < Duration::from_secs(2), "{took:?}");
}

/// With `flock`, the wait blocks on the attempt's lock, which the launcher holds while the
/// script runs: it returns when the lock is released, not at its bound, even while the process
/// the pid file names is alive and no `rc` was written yet (the 50 ms loop would wait out its
/// bound here).
#[test]
fn the_wait_returns_when_the_launcher_s_lock_is_released() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("attempt-1");
    std::fs::create_dir(&d).unwrap();
    let d = d.to_str().unwrap().to_string();
    let mut alive = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    std::fs::write(format!("{d}/pid"), alive.id().to_string()).unwrap();
    // The lock held for half a second, as the launcher's `flock -o -x lock` holds it.
    let mut holder = std::process::Command::new("flock")
        .args(["-o", "-x", &format!("{d}/lock"), "sleep", "0.5"])
        .spawn()
        .unwrap();
    while !std::path::Path::new(&format!("{d}/lock")).exists() {
        std::thread::sleep(Duration::from_millis(5));
    }
    let t = std::time::Instant::now();
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(wait_script(&d, 20))
        .output()
        .unwrap();
    let took = t.elapsed();
    holder.wait().unwrap();
    alive.kill().unwrap();
    alive.wait().unwrap();
    assert_eq!(
        parse_status(&String::from_utf8_lossy(&out.stdout)),
        Detached::Running
    );
    assert!(
        took < Duration::from_secs(10),
        "waited out the bound: {took:?}"
    );
}
