//! The journal's copy on the cluster, as data: append-only JSON lines, each carrying the run id,
//! its sequence number, the hash of the line before and its own hash (a hash chain). Line 0 is
//! the run record (plan and inputs); the others are the journal's records in order. Pure:
//! building, verifying and choosing chains does no I/O.

use super::Record;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One line of a mirror.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// The run id.
    pub run: String,
    /// 0 for the run record, then 1, 2, ... for the journal's records.
    pub seq: u64,
    /// The previous line's hash ("" for line 0).
    pub prev: String,
    /// SHA-256 (hex) of run, seq, prev and body.
    pub hash: String,
    /// The record as JSON text.
    pub body: String,
}

/// Why a mirror cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MirrorError {
    /// A line is not what the chain says it must be.
    #[error("line {line} does not verify: {why}")]
    Broken {
        /// 1-based line in the file.
        line: usize,
        /// What is wrong.
        why: String,
    },
    /// No chain is held by a majority of the masters.
    #[error("no majority of the {masters} masters holds the same journal ({detail}); refusing to rebuild from the cluster")]
    NoMajority {
        /// How many masters the inventory lists.
        masters: usize,
        /// What each master holds.
        detail: String,
    },
}

fn hash(run: &str, seq: u64, prev: &str, body: &str) -> String {
    let mut h = Sha256::new();
    h.update(format!("{run}\n{seq}\n{prev}\n{body}").as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The chain of a run: its run record (as JSON) then every journal record.
pub fn chain(run: &str, header: &serde_json::Value, journal: &[Record]) -> Vec<Line> {
    let mut c = Chain::new(run, header);
    c.extend(journal);
    c.lines
}

/// A run's chain built as its journal grows: each record is serialized and hashed once, when it
/// is added, so that copying a journal of 10,000 agents' steps costs each flush only its new
/// records (the same lines as [`chain`] of the whole journal).
#[derive(Debug, Clone)]
pub struct Chain {
    run: String,
    lines: Vec<Line>,
}

impl Chain {
    /// A chain holding the run record (line 0) alone.
    pub fn new(run: &str, header: &serde_json::Value) -> Chain {
        let mut c = Chain {
            run: run.to_string(),
            lines: Vec::new(),
        };
        c.push(header.to_string());
        c
    }

    /// Adds the journal's next records, in order.
    pub fn extend(&mut self, records: &[Record]) {
        for r in records {
            self.push(serde_json::to_string(r).unwrap_or_default());
        }
    }

    fn push(&mut self, body: String) {
        let seq = self.lines.len() as u64;
        let prev = self
            .lines
            .last()
            .map(|l| l.hash.clone())
            .unwrap_or_default();
        let hash = hash(&self.run, seq, &prev, &body);
        self.lines.push(Line {
            run: self.run.clone(),
            seq,
            prev,
            hash,
            body,
        });
    }

    /// How many journal records the chain holds (its lines but the run record).
    pub fn records(&self) -> u64 {
        self.lines.len() as u64 - 1
    }

    /// Every line, the run record first.
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }
}

/// A line as the file holds it (one JSON object, a newline).
pub fn to_text(lines: &[Line]) -> String {
    lines
        .iter()
        .map(|l| serde_json::to_string(l).unwrap_or_default() + "\n")
        .collect()
}

/// Parses and verifies a mirror of `run`: every line in order, each hash right and linked to
/// the one before. An exact repeat of the last line (a write sent twice) is ignored; a torn last
/// line (a write cut off) ends the chain there.
pub fn verify(run: &str, text: &str) -> Result<Vec<Line>, MirrorError> {
    let mut out: Vec<Line> = Vec::new();
    let raw: Vec<&str> = text.lines().collect();
    for (i, l) in raw.iter().enumerate() {
        let broken = |why: String| MirrorError::Broken { line: i + 1, why };
        let line: Line = match serde_json::from_str(l) {
            Ok(x) => x,
            Err(_) if i + 1 == raw.len() && !text.ends_with('\n') => break,
            Err(e) => return Err(broken(format!("not a journal line ({e})"))),
        };
        if out.last() == Some(&line) {
            continue;
        }
        let want_seq = out.len() as u64;
        let want_prev = out.last().map(|p| p.hash.clone()).unwrap_or_default();
        if line.run != run {
            return Err(broken(format!("run {} in a mirror of run {run}", line.run)));
        }
        if line.seq != want_seq || line.prev != want_prev {
            return Err(broken(format!(
                "sequence {} after {}, or not linked to the line before",
                line.seq,
                want_seq as i64 - 1
            )));
        }
        if hash(&line.run, line.seq, &line.prev, &line.body) != line.hash {
            return Err(broken("its hash does not match its content".into()));
        }
        out.push(line);
    }
    Ok(out)
}

/// The longest chain a majority of `masters` agree on, from each master's verified chain (a
/// master whose mirror is missing or does not verify counts against every chain). Agreement on
/// a line's hash is agreement on everything before it.
pub fn choose(
    masters: usize,
    chains: &[(String, Result<Vec<Line>, String>)],
) -> Result<Vec<Line>, MirrorError> {
    let need = masters / 2 + 1;
    let valid: Vec<&Vec<Line>> = chains.iter().filter_map(|(_, c)| c.as_ref().ok()).collect();
    let longest = valid.iter().map(|c| c.len()).max().unwrap_or(0);
    for len in (1..=longest).rev() {
        for c in valid.iter().filter(|c| c.len() >= len) {
            let h = &c[len - 1].hash;
            let agree = valid
                .iter()
                .filter(|o| o.len() >= len && &o[len - 1].hash == h)
                .count();
            if agree >= need {
                return Ok(c[..len].to_vec());
            }
        }
    }
    let detail = chains
        .iter()
        .map(|(n, c)| match c {
            Ok(c) => format!("{n}: {} verified line(s)", c.len()),
            Err(e) => format!("{n}: {e}"),
        })
        .collect::<Vec<_>>()
        .join("; ");
    Err(MirrorError::NoMajority { masters, detail })
}

/// The run record (JSON) and the journal's records of a verified chain.
pub fn decode(lines: &[Line]) -> Result<(serde_json::Value, Vec<Record>), MirrorError> {
    let bad = |i: usize, e: serde_json::Error| MirrorError::Broken {
        line: i + 1,
        why: format!("not a journal record ({e})"),
    };
    let Some(first) = lines.first() else {
        return Err(MirrorError::Broken {
            line: 1,
            why: "the mirror is empty".into(),
        });
    };
    let header = serde_json::from_str(&first.body).map_err(|e| bad(0, e))?;
    let records = lines[1..]
        .iter()
        .enumerate()
        .map(|(i, l)| serde_json::from_str(&l.body).map_err(|e| bad(i + 1, e)))
        .collect::<Result<Vec<Record>, _>>()?;
    Ok((header, records))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Line> {
        let journal = vec![
            Record::StepStarted { step: "a".into() },
            Record::StepStarted { step: "b".into() },
        ];
        chain("r1", &serde_json::json!({"id": "r1"}), &journal)
    }

    #[test]
    fn a_chain_verifies_and_decodes_back() {
        let c = sample();
        let text = to_text(&c);
        assert_eq!(verify("r1", &text).unwrap(), c);
        let doubled = text.clone() + &to_text(&c[2..]);
        assert_eq!(
            verify("r1", &doubled).unwrap(),
            c,
            "a repeated write is ignored"
        );
        let (h, r) = decode(&c).unwrap();
        assert_eq!(h["id"], "r1");
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn a_chain_extended_as_the_journal_grows_is_the_chain_of_the_whole_journal() {
        let header = serde_json::json!({"id": "r1"});
        let journal: Vec<Record> = (0..5)
            .map(|i| Record::StepStarted {
                step: format!("s{i}"),
            })
            .collect();
        let mut c = Chain::new("r1", &header);
        assert_eq!(c.records(), 0);
        c.extend(&journal[..1]);
        c.extend(&[]);
        c.extend(&journal[1..4]);
        c.extend(&journal[4..]);
        assert_eq!(c.records(), 5);
        let whole = chain("r1", &header, &journal);
        assert_eq!(c.lines(), &whole[..]);
        assert_eq!(verify("r1", &to_text(c.lines())).unwrap(), whole);
    }

    #[test]
    fn a_changed_record_is_detected() {
        let text = to_text(&sample()).replace("\\\"a\\\"", "\\\"x\\\"");
        let e = verify("r1", &text).unwrap_err();
        assert!(matches!(e, MirrorError::Broken { line: 2, .. }), "{e}");
    }

    #[test]
    fn the_majority_chain_wins_and_none_is_refused() {
        let c = sample();
        let ok = |n: usize| Ok(c[..n].to_vec());
        let bad = || Err("tampered".to_string());
        let got = choose(
            3,
            &[
                ("m1".into(), bad()),
                ("m2".into(), ok(3)),
                ("m3".into(), ok(3)),
            ],
        );
        assert_eq!(got.unwrap().len(), 3);
        let got = choose(
            3,
            &[
                ("m1".into(), ok(3)),
                ("m2".into(), ok(2)),
                ("m3".into(), ok(1)),
            ],
        );
        assert_eq!(
            got.unwrap().len(),
            2,
            "the longest prefix two masters share"
        );
        let got = choose(
            3,
            &[
                ("m1".into(), bad()),
                ("m2".into(), bad()),
                ("m3".into(), ok(3)),
            ],
        );
        assert!(matches!(got, Err(MirrorError::NoMajority { .. })));
    }
}
