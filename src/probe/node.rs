//! Node-local reads: everything about one node (its Mesos metrics, leader redirect and flags, its
//! Exhibitor view, ZooKeeper's four-letter words and top-level znodes) is read on the node itself,
//! through its SSH connection, in one script per round, as DC/OS checks itself and as
//! dcos-ansible gates (facts §8.1).
//!
//! The script finds the node's own address with `/opt/mesosphere/bin/detect_ip` and its security
//! mode in `/opt/mesosphere/etc/bootstrap-config.json`, and reaches the node's own ports as a
//! production firewall allows: plain HTTP where the mode is not `strict` (an HTTP/1.0 `GET` over
//! bash's `/dev/tcp` in a background subshell of the round's own shell, the round's plain reads
//! at once, all bounded by one watchdog of the round at 5 s: no `curl`, `timeout` or second
//! `bash` process per read; the answer is read in `raw_http`); HTTPS with `curl`, the cluster
//! CA (`/run/dcos/pki/CA/ca-bundle.crt`) and the ACS token in strict mode; Exhibitor with its
//! client certificate (`/var/lib/dcos/exhibitor-tls-artifacts/`) when the node has one (facts
//! §1.4). The token comes on the script's standard input (from the observe door) and goes into a
//! private header file: never on a command line, never in plain HTTP, never in the audit log.

use crate::cluster::Cluster;
use crate::door::{Answer, ProbeError, RemoteError};
use crate::model::Security;
use crate::playbook::NodeSpec;
use crate::shell::quote;
use std::collections::HashMap;
use std::time::Duration;

/// One thing read on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Read {
    /// The Mesos master's `/metrics/snapshot`.
    MasterMetrics,
    /// The Mesos agent's `/metrics/snapshot`.
    AgentMetrics,
    /// The Mesos master's `/master/redirect` (status and `Location`).
    Redirect,
    /// The Mesos master's `/flags`.
    Flags,
    /// Exhibitor's `/exhibitor/v1/cluster/status`.
    Exhibitor,
    /// A ZooKeeper four-letter word on the client port.
    Zk(Word),
    /// ZooKeeper `getChildren /` (the top-level znodes), as hex bytes.
    ZkRoot,
    /// This master's Marathon `/v2/info` (`:8080`, or `:8443` with the token in strict mode).
    MarathonInfo,
    /// This master's Marathon `/v2/leader` (same ports as [`Read::MarathonInfo`]).
    MarathonLeader,
    /// The node's version file (the playbook's `paths.version_file`, `dcos-version.json`), read
    /// in the same round as a gate's health reads so that a version gate costs no command of
    /// its own.
    Version,
}

/// The ZooKeeper four-letter words read (all read-only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Word {
    /// `ruok`: answers `imok`.
    Ruok,
    /// `srvr`: mode, zxid, counts.
    Srvr,
    /// `mntr`: the monitoring keys.
    Mntr,
}

impl Word {
    fn as_str(self) -> &'static str {
        match self {
            Word::Ruok => "ruok",
            Word::Srvr => "srvr",
            Word::Mntr => "mntr",
        }
    }
}

impl Read {
    fn key(self) -> String {
        match self {
            Read::MasterMetrics => "master-metrics".into(),
            Read::AgentMetrics => "agent-metrics".into(),
            Read::Redirect => "redirect".into(),
            Read::Flags => "flags".into(),
            Read::Exhibitor => "exhibitor".into(),
            Read::Zk(w) => format!("zk-{}", w.as_str()),
            Read::ZkRoot => "zk-root".into(),
            Read::MarathonInfo => "marathon-info".into(),
            Read::MarathonLeader => "marathon-leader".into(),
            Read::Version => "version".into(),
        }
    }
}

/// One reply read on a node: the HTTP status (0 when nothing answered), the `Location` header
/// and the body (for ZooKeeper: the answer, status 200 when it came).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The status.
    pub status: u16,
    /// The `Location` header, if any.
    pub location: Option<String>,
    /// The body.
    pub body: String,
}

/// Everything one round read on a node.
#[derive(Debug, Clone)]
pub struct NodeReads {
    /// The node's address (as the inventory names it).
    pub node: String,
    /// The address the node's services were reached at (`detect_ip`).
    pub ip: String,
    /// The node's security mode.
    pub security: Security,
    /// Whether `ip` is what the node's `detect_ip` printed in this round (not an address the
    /// round was given, nor the inventory's for want of one).
    pub detected: bool,
    /// How long the round took on the node, by its own clock (seconds from the script's start
    /// to its end), when it said: what this machine's time around the round includes besides.
    pub round_secs: Option<f64>,
    replies: HashMap<String, Reply>,
}

impl NodeReads {
    /// The reply to a read, as an HTTP answer named by `what` (for messages).
    pub fn answer(&self, read: Read) -> Result<(String, Answer), ProbeError> {
        let what = format!("{} {}", self.node, describe(read));
        let r = self
            .replies
            .get(&read.key())
            .ok_or_else(|| ProbeError::Unreachable {
                url: what.clone(),
                reason: "not read".into(),
            })?;
        if r.status == 0 {
            return Err(ProbeError::Unreachable {
                url: what,
                reason: crate::door::tail(r.body.trim(), 300),
            });
        }
        Ok((
            what,
            Answer {
                status: r.status,
                location: r.location.clone(),
                body: r.body.clone(),
            },
        ))
    }

    /// The DC/OS version the round's [`Read::Version`] found in the node's version file.
    pub fn version(&self) -> Result<String, String> {
        let (_, a) = self.answer(Read::Version).map_err(|e| e.to_string())?;
        // 404: the file is not there or not readable (the body says which); never status 0,
        // which would say the node's address reached nothing.
        if a.status != 200 {
            return Err(format!("{}: {}", self.node, a.body.trim()));
        }
        crate::cluster::parse_version(&a.body).map_err(|e| format!("{}: {e}", self.node))
    }

    /// The standard output of one of the round's [`Script`]s (by its key) when it exited 0, or
    /// why not (its exit status and the tail of what it printed).
    pub fn output(&self, key: &str) -> Result<&str, String> {
        match self.replies.get(&script_key(key)) {
            Some(r) if r.status == 200 => Ok(&r.body),
            Some(r) => Err(format!(
                "{}: {}",
                self.node,
                crate::door::tail(r.body.trim(), 300)
            )),
            None => Err(format!("{}: {key} was not run", self.node)),
        }
    }

    /// Whether any reply was a 401 (the token is missing, expired or refused).
    pub fn unauthorized(&self) -> bool {
        self.replies.values().any(|r| r.status == 401)
    }

    /// Whether the reply to one of `reads` was a 401: what a gate judging only those reads
    /// asks of a round that read more for another gate.
    pub fn unauthorized_in(&self, reads: &[Read]) -> bool {
        (reads.iter()).any(|r| self.replies.get(&r.key()).is_some_and(|r| r.status == 401))
    }

    /// The body of a ZooKeeper read, or why there is none.
    pub fn zk(&self, read: Read) -> Result<String, String> {
        match self.replies.get(&read.key()) {
            Some(r) if r.status == 200 => Ok(r.body.clone()),
            Some(r) => Err(format!(
                "ZooKeeper on {}: {}",
                self.node,
                r.body.trim().chars().take(200).collect::<String>()
            )),
            None => Err(format!("ZooKeeper on {}: not read", self.node)),
        }
    }
}

fn describe(read: Read) -> &'static str {
    match read {
        Read::MasterMetrics => ":5050/metrics/snapshot",
        Read::AgentMetrics => ":5051/metrics/snapshot",
        Read::Redirect => ":5050/master/redirect",
        Read::Flags => ":5050/flags",
        Read::Exhibitor => ":8181/exhibitor/v1/cluster/status",
        Read::Zk(Word::Ruok) => "ZooKeeper ruok",
        Read::Zk(Word::Srvr) => "ZooKeeper srvr",
        Read::Zk(Word::Mntr) => "ZooKeeper mntr",
        Read::ZkRoot => "ZooKeeper getChildren /",
        Read::MarathonInfo => "Marathon /v2/info",
        Read::MarathonLeader => "Marathon /v2/leader",
        Read::Version => "dcos-version.json",
    }
}

/// The request bytes of `getChildren /`, pipelined with the connect before it and the
/// closeSession after it (so the server closes the connection when it has answered).
fn zk_root_request() -> Vec<u8> {
    let frame = |body: Vec<u8>| {
        let mut f = (body.len() as i32).to_be_bytes().to_vec();
        f.extend(body);
        f
    };
    let mut connect = Vec::new();
    connect.extend_from_slice(&0i32.to_be_bytes());
    connect.extend_from_slice(&0i64.to_be_bytes());
    connect.extend_from_slice(&10_000i32.to_be_bytes());
    connect.extend_from_slice(&0i64.to_be_bytes());
    connect.extend_from_slice(&16i32.to_be_bytes());
    connect.extend_from_slice(&[0u8; 16]);
    connect.push(0);
    let mut get = Vec::new();
    get.extend_from_slice(&1i32.to_be_bytes());
    get.extend_from_slice(&8i32.to_be_bytes());
    get.extend_from_slice(&1i32.to_be_bytes());
    get.extend_from_slice(b"/");
    get.push(0);
    let mut close = Vec::new();
    close.extend_from_slice(&2i32.to_be_bytes());
    close.extend_from_slice(&(-11i32).to_be_bytes());
    [frame(connect), frame(get), frame(close)].concat()
}

/// The top-level znodes from the hex dump of a `ZkRoot` read.
pub fn parse_zk_root(hex: &str) -> Result<Vec<String>, String> {
    let bytes: Vec<u8> = hex
        .split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).map_err(|e| format!("bad byte {b:?}: {e}")))
        .collect::<Result<_, _>>()?;
    let mut frames = Vec::new();
    let mut pos = 0usize;
    while pos + 4 <= bytes.len() {
        let n = i32::from_be_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]]);
        let n = usize::try_from(n).map_err(|_| "negative frame length".to_string())?;
        let end = pos + 4 + n;
        if end > bytes.len() {
            break;
        }
        frames.push(&bytes[pos + 4..end]);
        pos = end;
    }
    let reply = frames
        .get(1)
        .ok_or_else(|| format!("no getChildren reply in {} bytes", bytes.len()))?;
    super::zk::parse_children(reply)
}

const MARK: &str = "@@dcu-reply";

/// A read-only shell script run in the same round as the reads (issue 14: one SSH command a
/// node instead of one per script): its standard output comes back by `key`
/// ([`NodeReads::output`]). It runs in a `bash` of its own, with no standard input (the token
/// never reaches it), before the round's reads.
#[derive(Debug, Clone, Copy)]
pub struct Script<'a> {
    /// Its name in the round (letters, digits and `-`).
    pub key: &'a str,
    /// The shell text.
    pub body: &'a str,
}

fn script_key(key: &str) -> String {
    format!("x-{key}")
}

/// The script of one round on `node`: every read in `reads`, framed by `MARK` lines. Each read
/// leaves its answer in a file of its own; at the end one `wc -c` measures them all and one
/// `cat` prints every reply's `MARK` line, its body and a newline, in the order the reads ran
/// (the bodies as bytes, so a NUL or anything that looks like a frame stays body).
pub fn script(c: &Cluster, node: &NodeSpec, reads: &[Read]) -> String {
    script_with(c, node, reads, &[])
}

/// A round repeated on the node until one of its reads' answers matches (issue 14: a health
/// gate polled on the node, one SSH command for many polls): the round's reads run again every
/// `every` until the answer of `read` matches `pattern` (an extended regular expression,
/// `grep -E`, over the whole answer as read: a plain-HTTP answer with its headers), or for
/// `within` at most; the last round's answers come back. The pattern only says when to stop:
/// what came back is judged as any round is, so a pattern that never matches costs `within`, not
/// a wrong verdict.
#[derive(Debug, Clone, Copy)]
pub struct Until<'a> {
    /// The read whose answer is matched; one of the round's reads.
    pub read: Read,
    /// What its answer shows when polling can stop.
    pub pattern: &'a str,
    /// The pause between two rounds on the node.
    pub every: Duration,
    /// How long the node polls at most before it answers: `within / every` rounds (at least
    /// one), so a little longer than `within`, by the rounds' own time.
    pub within: Duration,
}

/// As [`script`], with `scripts` run first in the same round.
pub fn script_with(c: &Cluster, node: &NodeSpec, reads: &[Read], scripts: &[Script<'_>]) -> String {
    script_polled(c, node, reads, scripts, None)
}

/// As [`script_with`], the round repeated on the node as `until` says ([`Until`]).
pub fn script_polled(
    c: &Cluster,
    node: &NodeSpec,
    reads: &[Read],
    scripts: &[Script<'_>],
    until: Option<&Until<'_>>,
) -> String {
    let p = &c.playbook.ports;
    let root = quote(&node.root);
    // Plain HTTP (`raw`) is an HTTP/1.0 request with `Connection: close`: the Mesos master and
    // agent close the connection after their answer (apache/mesos libprocess `src/decoder.hpp`:
    // a request's keepAlive is `http_should_keep_alive`, false for HTTP/1.0 without keep-alive),
    // so `cat` ends with the answer. That Marathon and Exhibitor (Jetty) do the same was not
    // checked from their sources here; the testbed's servers (axum) do.
    // The node's address: the one its `detect_ip` printed to an earlier read (`known`), else
    // `detect_ip` now (`detect`), else the inventory's (`inventory`).
    let ip = match c.detected_ips.of(&node.address) {
        Some(ip) => format!("ip={}\nsrc=known", quote(&ip)),
        None => format!(
            "ip=$(\"$R/opt/mesosphere/bin/detect_ip\" 2>/dev/null)\nip=${{ip%%$'\\n'*}}\nsrc=detect\n[ -n \"$ip\" ] || {{ ip={}; src=inventory; }}",
            quote(&node.address)
        ),
    };
    let mut s = format!(
        r#"set -u
t0=${{EPOCHREALTIME:-$(date +%s.%N)}}
IFS= read -r T || true
R={root}
{ip}
sec=
if [ -r "$R/opt/mesosphere/etc/bootstrap-config.json" ]; then
  while IFS= read -r l || [ -n "$l" ]; do
    if [[ $l =~ \"security\"[[:space:]]*:[[:space:]]*\"([a-z]*)\" ]]; then sec=${{BASH_REMATCH[1]}}; break; fi
  done < "$R/opt/mesosphere/etc/bootstrap-config.json"
fi
[ -n "$sec" ] || sec=disabled
ca="$R/run/dcos/pki/CA/ca-bundle.crt"
tls="$R/var/lib/dcos/exhibitor-tls-artifacts"
d=$(mktemp -d) || exit 3
trap 'rm -rf "$d"' EXIT
umask 077
printf 'Authorization: token=%s\n' "$T" > "$d/auth"
unset T
printf '@@dcu-node %s %s %s\n' "$ip" "$sec" "$src"
KN=() KC=() KL=() F=() i=0 RP=() RI=() RK=() RH=() late=
trap 'late=1' USR1
nf() {{ i=$((i+1)); o=o$i; }}
put() {{ KN+=("$1"); KC+=("$2"); KL+=("$3"); F+=("$4"); }}
fin() {{ local j n L=() A=()
  [ "${{#F[@]}}" -gt 0 ] || return 0
  cd "$d" || return 3
  printf '\n' > nl
  wc -c -- "${{F[@]}}" > lens || return 3
  while read -r n _; do L+=("$n"); done < lens
  for j in "${{!F[@]}}"; do
    printf '{MARK} %s %s %s %s\n' "${{KN[j]}}" "${{KC[j]}}" "${{L[j]:-0}}" "${{KL[j]}}" > "h$j"
    A+=("h$j" "${{F[j]}}" nl)
  done
  cat -- "${{A[@]}}"; }}
get() {{ local n=$1 url=$2 out loc l; shift 2; nf
  : > "$d/$o.h"
  if out=$(curl -sS -m 5 --connect-timeout 3 -o "$d/$o" -D "$d/$o.h" -w '%{{http_code}}' "$@" "$url" 2>"$d/$o.e"); then
    loc=
    while IFS= read -r l; do
      case $l in [Ll]ocation:*) l=${{l#*:}}; l=${{l//$'\r'/}}; loc=${{l#"${{l%%[![:space:]]*}}"}}; break;; esac
    done < "$d/$o.h"
    : >> "$d/$o"; put "$n" "$out" "${{loc:--}}" "$o"
  else put "$n" 000 - "$o.e"; fi; }}
# A plain-HTTP read in the background (`settle` waits for them all): its answer, whole, as
# the service sent it; a reset after it is still an answer (`cat`'s status is not judged).
raw() {{ nf
  ( exec 3<>"/dev/tcp/$2/$3" || exit 7; printf "GET %s HTTP/1.0\r\nHost: %s:%s\r\nAccept: */*\r\nConnection: close\r\n\r\n" "$4" "$2" "$3" >&3; exec cat <&3 ) > "$d/$o" 2> "$d/$o.e" &
  bg raw "$2:$3"; put "$1" raw - "$o"; }}
# bg KIND WHERE: the subshell just started is the next reply's read, of KIND (raw or zk).
bg() {{ RP+=("$!") RI+=("${{#KN[@]}}") RK+=("$1") RH+=("$2"); }}
# The round's plain-HTTP and ZooKeeper reads waited for, under one watchdog (a process
# substitution running builtins only, no program): after 5 s it signals this shell (USR1, every
# 100 ms until answered), which stops its own reads not yet waited for; each of those is no
# answer, and says so. (One of those that had just ended could have given its pid away within
# the 5 s; `timeout` had no such window.)
settle() {{ local j k rc wd
  [ "${{#RP[@]}}" -gt 0 ] || return 0
  late=
  exec {{wd}}> >(read -r -t 5 || [ "$?" -le 128 ] || while kill -USR1 "$$" 2>/dev/null; read -r -t 0.1; [ "$?" -gt 128 ]; do :; done)
  for j in "${{!RP[@]}}"; do
    [ -z "$late" ] || kill -TERM "${{RP[@]:j}}" 2>/dev/null
    wait "${{RP[j]}}"; rc=$?
    if [ -n "$late" ] && [ "$rc" -gt 128 ]; then kill -TERM "${{RP[@]:j}}" 2>/dev/null; wait "${{RP[j]}}"; rc=$?; fi
    k=${{RI[j]}}
    if [ "${{RK[j]}}" = zk ]; then
      [ "$rc" -le 128 ] || printf 'no answer from %s within 5 s\n' "${{RH[j]}}" >> "$d/${{F[k]}}"
      [ "$rc" = 0 ] || KC[k]=000
    elif [ "$rc" = 7 ]; then KC[k]=000 F[k]=${{F[k]}}.e
    elif [ "$rc" -gt 128 ]; then printf 'no answer from %s within 5 s\n' "${{RH[j]}}" >> "$d/${{F[k]}}.e"; KC[k]=000 F[k]=${{F[k]}}.e
    fi
  done
  exec {{wd}}>&-
  RP=() RI=() RK=() RH=(); }}
mesos() {{ n=$1; port=$2; path=$3
  if [ "$sec" = strict ]; then get "$n" "https://$ip:$port$path" --cacert "$ca" -H @"$d/auth"
  else raw "$n" "$ip" "$port" "$path"; fi; }}
run() {{ local n=$1 rc; shift; nf
  if "$@" > "$d/$o" 2> "$d/$o.e" < /dev/null; then put "$n" 200 - "$o"
  else rc=$?; {{ cat "$d/$o" "$d/$o.e"; printf '(exit %s)\n' "$rc"; }} > "$d/$o.f"; put "$n" 500 - "$o.f"; fi; }}
# A ZooKeeper four-letter word in the background, as `raw`: its reply (200), or what went wrong
# in the same file (000).
zk() {{ nf
  ( exec 3<>"/dev/tcp/$ip/{zk_port}" && printf %s "$2" >&3 && exec cat <&3 ) > "$d/$o" 2>&1 &
  bg zk "$ip:{zk_port}"; put "$1" 200 - "$o"; }}
"#,
        zk_port = p.zookeeper,
    );
    // Each round's answers in files `o1`, `o2`, ... of `$d`, in the order of the scripts and
    // then the reads: a polled round starts with none (an earlier round's answer is no answer).
    let until = until.and_then(|u| Some((u, reads.iter().position(|r| *r == u.read)?)));
    let mut round = String::new();
    if until.is_some() {
        round.push_str("poll() {\nKN=() KC=() KL=() F=() i=0\nrm -f \"$d\"/o*\n");
    }
    for x in scripts {
        round.push_str(&format!(
            "run {} bash -c {}\n",
            quote(&script_key(x.key)),
            quote(x.body)
        ));
    }
    for r in reads {
        let line = match r {
            Read::MasterMetrics => {
                format!("mesos {} {} /metrics/snapshot\n", r.key(), p.mesos_master)
            }
            Read::AgentMetrics => {
                format!("mesos {} {} /metrics/snapshot\n", r.key(), p.mesos_agent)
            }
            Read::Redirect => format!("mesos {} {} /master/redirect\n", r.key(), p.mesos_master),
            Read::Flags => format!("mesos {} {} /flags\n", r.key(), p.mesos_master),
            Read::Exhibitor => format!(
                r#"if [ -f "$tls/client-key.pem" ]; then get {k} "https://localhost:{e}/exhibitor/v1/cluster/status" --resolve "localhost:{e}:$ip" --cacert "$tls/root-cert.pem" --cert "$tls/client-cert.pem" --key "$tls/client-key.pem"; else raw {k} "$ip" {e} /exhibitor/v1/cluster/status; fi
"#,
                k = r.key(),
                e = p.exhibitor
            ),
            Read::Zk(w) => format!("zk {} {}\n", r.key(), w.as_str()),
            // Marathon serves TLS on 8443 in strict mode (facts §8.1), plain 8080 otherwise.
            Read::MarathonInfo | Read::MarathonLeader => format!(
                r#"if [ "$sec" = strict ]; then get {k} "https://$ip:8443{path}" --cacert "$ca" -H @"$d/auth"; else raw {k} "$ip" {p} {path}; fi
"#,
                k = r.key(),
                p = p.marathon,
                path = if *r == Read::MarathonInfo {
                    "/v2/info"
                } else {
                    "/v2/leader"
                },
            ),
            Read::Version => format!(
                r#"nf; if [ -r "$R"{vf} ] && cat -- "$R"{vf} > "$d/$o"; then put {k} 200 - "$o"; else printf 'cannot read %s\n' {vf} > "$d/$o"; put {k} 404 - "$o"; fi
"#,
                vf = quote(&c.playbook.paths.version_file),
                k = r.key()
            ),
            Read::ZkRoot => {
                let fmt: String = zk_root_request()
                    .iter()
                    .map(|b| format!("\\x{b:02x}"))
                    .collect();
                format!(
                    r#"nf; ( exec 3<>"/dev/tcp/$ip/{zk}" && printf {fmt} >&3 && exec od -An -v -tx1 <&3 ) > "$d/$o" 2>&1 & bg zk "$ip:{zk}"; put {k} 200 - "$o"
"#,
                    zk = p.zookeeper,
                    fmt = quote(&fmt),
                    k = r.key()
                )
            }
        };
        round.push_str(&line);
    }
    // The plain-HTTP and ZooKeeper reads ran in the background: their answers, or why there is
    // none.
    round.push_str("settle\n");
    match until {
        Some((u, at)) => {
            let every = u.every.max(Duration::from_millis(10));
            let rounds = (u.within.as_millis() / every.as_millis()).max(1);
            round.push_str("}\n");
            s.push_str(&round);
            // Polling goes on while the read gets no answer (the service is restarting) or a
            // 200 that does not match; any other answer (a 401, a 503) ends it, for the judge.
            s.push_str(&format!(
                r#"more() {{ local c=${{KC[{idx}]:-000}} f="$d/o{file}" st=
  grep -Eq -- {pattern} "$f" 2>/dev/null && return 1
  case $c in 000|200) return 0;; raw) IFS=' ' read -r _ st _ < "$f"; [ "$st" = 200 ];; *) return 1;; esac; }}
poll; k=1
while [ "$k" -lt {rounds} ] && more; do sleep {secs}; poll; k=$((k+1)); done
"#,
                pattern = quote(u.pattern),
                idx = scripts.len() + at,
                file = scripts.len() + at + 1,
                secs = format_args!("{:.3}", every.as_secs_f64()),
            ));
        }
        None => s.push_str(&round),
    }
    // Every reply is framed at the end, in one `wc` and one `cat` for the whole round (two
    // processes per reply before), in the order the reads ran.
    s.push_str("fin\nprintf '@@dcu-round %s %s\\n' \"$t0\" \"${EPOCHREALTIME:-$(date +%s.%N)}\"\n");
    s
}

/// Parses a round's output.
pub fn parse(node: &str, out: &str) -> Result<NodeReads, String> {
    let head = out
        .lines()
        .find_map(|l| l.strip_prefix("@@dcu-node "))
        .ok_or_else(|| format!("{node}: the node-read script printed no header"))?;
    let mut parts = head.split_whitespace();
    let ip = parts.next().unwrap_or(node).to_string();
    let security = Security::from_mode(parts.next().unwrap_or("disabled"));
    let detected = parts.next() == Some("detect");
    let mut replies = HashMap::new();
    let mut round_secs = None;
    let mut rest = out;
    while let Some(i) = rest.find(MARK) {
        let after = &rest[i + MARK.len()..];
        let (line, body_start) = after.split_once('\n').unwrap_or((after, ""));
        let mut f = line.split_whitespace();
        let (Some(key), Some(code), Some(len), Some(loc)) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            return Err(format!("{node}: a malformed reply line {line:?}"));
        };
        let len: usize = len
            .parse()
            .map_err(|_| format!("{node}: bad length {len:?}"))?;
        let mut end = len.min(body_start.len());
        while !body_start.is_char_boundary(end) {
            end -= 1;
        }
        let body = &body_start[..end];
        let reply = if code == "raw" {
            // A whole plain-HTTP answer read over `/dev/tcp`; one that is not HTTP is an answer
            // that says nothing (status 0, what came as the reason).
            raw_http::parse(body).unwrap_or_else(|e| Reply {
                status: 0,
                location: None,
                body: e,
            })
        } else {
            Reply {
                status: code.parse().unwrap_or(0),
                location: (loc != "-").then(|| loc.to_string()),
                body: body.to_string(),
            }
        };
        replies.insert(key.to_string(), reply);
        rest = &body_start[end..];
    }
    // The round's last line: its start and end by the node's clock (`EPOCHREALTIME` uses the
    // locale's decimal mark).
    if let Some(line) = rest.lines().find_map(|l| l.strip_prefix("@@dcu-round ")) {
        let t: Vec<f64> = line
            .split_whitespace()
            .filter_map(|t| t.replace(',', ".").parse().ok())
            .collect();
        if let [a, b] = t[..] {
            round_secs = Some((b - a).max(0.0));
        }
    }
    Ok(NodeReads {
        node: node.to_string(),
        ip,
        security,
        detected,
        round_secs,
        replies,
    })
}

/// One round of reads on `node`, over its SSH connection. When the node's services refuse the
/// token (401) and the inventory has `[auth]`, the door logs in once and the round is read again.
pub async fn read(c: &Cluster, node: &NodeSpec, reads: &[Read]) -> Result<NodeReads, RemoteError> {
    read_with(c, node, reads, &[]).await
}

/// As [`read`], with `scripts` run in the same round (one SSH command for all of it).
pub async fn read_with(
    c: &Cluster,
    node: &NodeSpec,
    reads: &[Read],
    scripts: &[Script<'_>],
) -> Result<NodeReads, RemoteError> {
    read_polled(c, node, reads, scripts, None).await
}

/// As [`read`], the round repeated on the node until `until` says (one SSH command for many
/// polls): the last round's answers.
pub async fn read_until(
    c: &Cluster,
    node: &NodeSpec,
    reads: &[Read],
    until: &Until<'_>,
) -> Result<NodeReads, RemoteError> {
    read_polled(c, node, reads, &[], Some(until)).await
}

async fn read_polled(
    c: &Cluster,
    node: &NodeSpec,
    reads: &[Read],
    scripts: &[Script<'_>],
    until: Option<&Until<'_>>,
) -> Result<NodeReads, RemoteError> {
    let keys: Vec<&str> = scripts.iter().map(|x| x.key).collect();
    tracing::debug!(node = %node.address, ?reads, scripts = ?keys, polled = until.is_some(), "node-local reads");
    let script = script_polled(c, node, reads, scripts, until);
    // A polled round answers within its `within`; the command's own limit is beyond that.
    let limit = Duration::from_secs(60) + until.map_or(Duration::ZERO, |u| u.within);
    let r = read_once(c, node, &script, limit).await?;
    if r.unauthorized() && c.credentials.is_some() && super::admin::login(c).await.is_ok() {
        return read_once(c, node, &script, limit).await;
    }
    Ok(r)
}

/// Runs a round's `script` on `node` (the token on its standard input) and parses its answers.
async fn read_once(
    c: &Cluster,
    node: &NodeSpec,
    script: &str,
    limit: Duration,
) -> Result<NodeReads, RemoteError> {
    let out = (c.observe)
        .query_with_token(&Cluster::target(node), script, limit)
        .await?;
    let reads = parse(&node.address, &out.stdout).map_err(|reason| RemoteError::Command {
        node: node.address.clone(),
        reason: format!("{reason} (exit {:?}): {}", out.status, out.tail(300)),
    })?;
    c.saw_security(&node.address, reads.security);
    if reads.replies.values().any(|r| r.status == 0) {
        c.detected_ips.forget(&node.address);
    } else if reads.detected {
        c.detected_ips.saw(&node.address, &reads.ip);
    }
    Ok(reads)
}

/// Turns an SSH failure into the probe error of a read that did not happen.
pub fn remote(e: RemoteError) -> ProbeError {
    ProbeError::Unreachable {
        url: "node-local read".into(),
        reason: e.to_string(),
    }
}

mod raw_http;

#[cfg(test)]
mod tests;
