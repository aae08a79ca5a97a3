//! Unit tests of the cluster lock: parsing a holder, telling a dead one.

use super::holder::user_at_host;
use super::*;

#[test]
fn a_holder_of_this_host_is_gone_only_when_its_pid_is() {
    let host = user_at_host();
    // This process is alive.
    assert_eq!(dead_local_pid(&owner()), None);
    // A pid above the kernel's maximum is never running.
    assert_eq!(
        dead_local_pid(&format!("{host} pid 99999999")),
        Some(99999999)
    );
    // Another host, or an owner of an older version without a pid: nothing is proved.
    assert_eq!(dead_local_pid("ops@elsewhere.example pid 99999999"), None);
    assert_eq!(dead_local_pid(&host), None);
}

#[test]
fn a_held_answer_names_the_holder_and_its_age() {
    let h = parse_held(
        "10.0.0.11",
        "HELD\nNOW 1000\nMTIME 900\nrun-1\nops@laptop\n990\n",
    )
    .unwrap();
    assert_eq!(h.run, "run-1");
    assert_eq!(h.owner, "ops@laptop");
    assert_eq!(h.age_secs, 10);
}

#[test]
fn a_lock_without_info_is_dated_by_its_directory() {
    let h = parse_held("m", "HELD\nNOW 1000\nMTIME 100\n").unwrap();
    assert_eq!(h.run, "<unknown>");
    assert_eq!(h.age_secs, 900);
    assert!(parse_held("m", "garbage").is_none());
}
