//! Shrinking: reduces a failing case to a minimal script that still fails
//! the same way with the same seed.
//!
//! The shrinker works on the parsed script. It tries, greedily and until
//! nothing more can go: dropping the preemption points (`preempt none`),
//! dropping each fault-plan rule, dropping whole `threads` blocks, whole
//! threads and single statements (at the top level and inside threads).
//! A candidate is kept when it still passes the checker (dropping the call
//! that binds a name used later does not) and its run, with the same seed,
//! fails with the same failure: the same failed statement and result, or
//! the same kind of platform finding (panic, deadlock, leak...). The
//! `boot`, `seeds`, `strategy` and `expect-fail` lines stay.

use rumpkit_scenario::{Stmt, StmtKind};

use crate::exec::{run_case, CaseOptions, CaseResult, Scenario};

/// What shrinking did.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The minimal script, in canonical form with a header comment.
    pub text: String,
    /// The scenario it parses to.
    pub scenario: Scenario,
    /// Statements before (threads and their statements counted).
    pub before: usize,
    /// Statements after.
    pub after: usize,
    /// Cases run while shrinking.
    pub runs: usize,
    /// The failure the minimal script still has.
    pub failure: String,
}

/// The failure of a case without its position: what must stay the same
/// while shrinking.
fn signature(case: &CaseResult) -> Option<String> {
    let failure = case.failure.as_ref()?;
    if case.outcome != "ok" {
        // A platform finding: its kind and the first line of its message
        // (a panic message, a leak site) without the file prefix.
        let message = failure.message.lines().next().unwrap_or_default();
        let message = message.split_once(": ").map_or(message, |(_, rest)| rest);
        let message = strip_numbers(message);
        return Some(format!("{}: {message}", case.outcome));
    }
    // A failed expectation: the message after `file:line:col: `.
    let message = &failure.message;
    let rest = message
        .splitn(4, ':')
        .nth(3)
        .unwrap_or(message)
        .trim_start();
    Some(rest.to_string())
}

/// Thread and step numbers change as lines go; the kind of finding stays.
fn strip_numbers(text: &str) -> String {
    text.chars().filter(|c| !c.is_ascii_digit()).collect()
}

fn count(stmts: &[Stmt]) -> usize {
    stmts
        .iter()
        .map(|s| match &s.kind {
            StmtKind::Threads(threads) => {
                1 + threads.iter().map(|t| 1 + count(&t.body)).sum::<usize>()
            }
            _ => 1,
        })
        .sum()
}

/// Every script one step smaller than `stmts`.
fn candidates(stmts: &[Stmt]) -> Vec<Vec<Stmt>> {
    let mut out = Vec::new();
    // Fewer preemption points.
    for (i, stmt) in stmts.iter().enumerate() {
        if let StmtKind::Preempt(p) = &stmt.kind {
            if p.node != rumpkit_scenario::Preempt::None {
                let mut next = stmts.to_vec();
                let mut none = p.clone();
                none.node = rumpkit_scenario::Preempt::None;
                next[i].kind = StmtKind::Preempt(none);
                out.push(next);
            }
        }
    }
    // Fewer fault-plan rules.
    for (i, stmt) in stmts.iter().enumerate() {
        if let StmtKind::Faults(plan) = &stmt.kind {
            let rules: Vec<&str> = plan
                .node
                .split(';')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .collect();
            for skip in 0..rules.len() {
                let mut next = stmts.to_vec();
                let kept: Vec<&str> = rules
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != skip)
                    .map(|(_, r)| *r)
                    .collect();
                if kept.is_empty() {
                    next.remove(i);
                } else {
                    let mut plan = plan.clone();
                    plan.node = kept.join("; ");
                    next[i].kind = StmtKind::Faults(plan);
                }
                out.push(next);
            }
        }
    }
    // Fewer statements, later ones first (they depend on earlier ones).
    for i in (0..stmts.len()).rev() {
        match &stmts[i].kind {
            StmtKind::Boot { .. }
            | StmtKind::Seeds(_)
            | StmtKind::Strategy(_)
            | StmtKind::ExpectFail
            | StmtKind::Preempt(_)
            | StmtKind::Faults(_) => {}
            StmtKind::Threads(threads) => {
                let mut next = stmts.to_vec();
                next.remove(i);
                out.push(next);
                for t in (0..threads.len()).rev() {
                    if threads.len() > 1 {
                        let mut next = stmts.to_vec();
                        let mut fewer = threads.clone();
                        fewer.remove(t);
                        next[i].kind = StmtKind::Threads(fewer);
                        out.push(next);
                    }
                    for s in (0..threads[t].body.len()).rev() {
                        let mut next = stmts.to_vec();
                        let mut fewer = threads.clone();
                        fewer[t].body.remove(s);
                        next[i].kind = StmtKind::Threads(fewer);
                        out.push(next);
                    }
                }
            }
            _ => {
                let mut next = stmts.to_vec();
                next.remove(i);
                out.push(next);
            }
        }
    }
    out
}

/// Shrinks `scenario`, which must fail with `seed`.
pub fn shrink(scenario: &Scenario, seed: u64) -> Result<Shrunk, String> {
    let options = CaseOptions::default();
    let first = run_case(scenario, seed, &options);
    let target = signature(&first).ok_or_else(|| {
        format!(
            "{} does not fail with seed {seed}: nothing to shrink",
            scenario.file_name
        )
    })?;
    let mut best = scenario.clone();
    let mut runs = 1;
    let before = count(&scenario.script.stmts);
    loop {
        let mut improved = false;
        for stmts in candidates(&best.script.stmts) {
            let text = rumpkit_scenario::print_stmts(&stmts);
            let Ok(candidate) =
                Scenario::from_source(best.name.clone(), &scenario.file_name, &text)
            else {
                continue;
            };
            runs += 1;
            let case = run_case(&candidate, seed, &options);
            if signature(&case).as_deref() == Some(target.as_str()) {
                best = candidate;
                improved = true;
                break;
            }
        }
        if !improved {
            break;
        }
    }
    let after = count(&best.script.stmts);
    let body = rumpkit_scenario::print(&best.script);
    let text = format!(
        "# Shrunk by `rumpkit shrink` from {} (seed {seed}, {before} -> {after} statements).\n# Fails with: {target}\n# replay: cargo run -p rumpkit -- replay FILE --seed {seed}\n{body}",
        scenario.file_name
    );
    let scenario = Scenario::from_source(best.name.clone(), &scenario.file_name, &text)
        .map_err(|e| format!("the shrunk script does not check (a shrinker bug): {e}"))?;
    Ok(Shrunk {
        text,
        scenario,
        before,
        after,
        runs,
        failure: target,
    })
}
