//! Fault plans: which faults the simulator injects, where and how often.
//!
//! A plan is an ordered list of [`FaultRule`]s. It has a text form, one rule
//! per line or `;`-separated, that [`FaultPlan::parse`] reads and
//! [`FaultPlan`]'s `Display` prints back in canonical form (the two round
//! trip). The syntax is documented in `docs/faults.md`; in short:
//!
//! ```text
//! alloc nth=3                      # fail the 3rd allocation
//! alloc site=tmpfs.* p=0.05 after=10ms
//! thread nth=2                     # the 2nd thread_create fails
//! bio.error op=write dev=md0 p=0.1
//! bio.latency min=50us max=2ms
//! bio.reorder p=0.5
//! bio.torn p=0.2
//! bio.lost                         # unflushed writes die at a power cut
//! clock.jitter max=1ms
//! clock.jump at=5s by=-2s
//! ```
//!
//! Each rule draws its random numbers from a stream of its own, keyed by the
//! run's seed and the rule's canonical text, so removing one rule (as a
//! shrinker does) leaves the decisions of every other rule unchanged.

use core::fmt;
use core::str::FromStr;

use rumpkit_hypercall::BioOp;

/// A parse error in a fault plan's text, with the byte offset where it was
/// found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultPlanError {
    /// Byte offset into the parsed text.
    pub offset: usize,
    /// What is wrong there.
    pub message: String,
}

impl fmt::Display for FaultPlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fault plan, byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for FaultPlanError {}

/// A name filter: a pattern with `*` (any run of characters) and `?` (any one
/// character) must match the whole name; a pattern without wildcards matches
/// every name it is a prefix of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(pub String);

impl Pattern {
    /// Whether `name` matches this pattern.
    pub fn matches(&self, name: &str) -> bool {
        let pattern = self.0.as_bytes();
        if !pattern.iter().any(|&c| c == b'*' || c == b'?') {
            return name.as_bytes().starts_with(pattern);
        }
        glob_match(pattern, name.as_bytes())
    }
}

/// Iterative glob matching with backtracking on the last `*`.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

/// When a rule fires, common to every rule kind except `clock.jump`.
///
/// A rule *matches* an event when its filters (site, name, device, op) and its
/// time window (`after`, `until`) admit it. A matching event makes the rule
/// fire when it is the `nth` match (if `nth` is set), and with probability
/// `probability` (if set), as long as fewer than `limit` faults were injected
/// by this rule. A rule with neither `nth` nor `p` fires on every match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trigger {
    /// Fire only on the nth matching event (1-based).
    pub nth: Option<u64>,
    /// Fire with this probability (0 to 1) per matching event.
    pub probability: Option<f64>,
    /// Match only at or after this virtual time.
    pub after_ns: Option<u64>,
    /// Match only before this virtual time.
    pub until_ns: Option<u64>,
    /// Inject at most this many faults.
    pub limit: Option<u64>,
}

impl Trigger {
    fn is_empty(&self) -> bool {
        *self == Trigger::default()
    }
}

/// What a rule does to the platform.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// `mem_alloc` returns `None`.
    Alloc {
        /// Only allocations whose site matches.
        site: Option<Pattern>,
    },
    /// `thread_create` fails with `HyperError::Again`.
    ThreadCreate {
        /// Only threads whose name matches.
        name: Option<Pattern>,
    },
    /// A block request completes with `HyperError::Io` and does nothing.
    BioError {
        /// Only this operation (any when `None`).
        op: Option<BioOp>,
        /// Only this device.
        dev: Option<String>,
    },
    /// Requests take a latency drawn uniformly from `min_ns..=max_ns` instead
    /// of the configured default.
    BioLatency {
        /// Only this device.
        dev: Option<String>,
        /// Shortest latency.
        min_ns: u64,
        /// Longest latency.
        max_ns: u64,
    },
    /// A request may complete before requests submitted earlier (by default a
    /// device completes in submission order).
    BioReorder {
        /// Only this device.
        dev: Option<String>,
    },
    /// A write is torn: only a prefix of its blocks reaches the device, and it
    /// completes with `HyperError::Io`.
    BioTorn {
        /// Only this device.
        dev: Option<String>,
    },
    /// A write lands in the device's volatile cache instead of on the durable
    /// image: it is readable, but lost at a power cut unless a flush
    /// completes after it.
    BioLost {
        /// Only this device.
        dev: Option<String>,
    },
    /// Wake-ups from `sleep_until` and `cv_wait_until` come late by up to
    /// `max_ns`.
    ClockJitter {
        /// Largest delay.
        max_ns: u64,
    },
    /// The wall clock jumps by `by_ns` (may be negative) when virtual time
    /// reaches `at_ns`. The monotonic clock is not affected.
    ClockJump {
        /// When.
        at_ns: u64,
        /// By how much.
        by_ns: i64,
    },
}

impl FaultKind {
    /// The rule's keyword in the text form (`alloc`, `bio.error`, ...).
    pub fn keyword(&self) -> &'static str {
        match self {
            FaultKind::Alloc { .. } => "alloc",
            FaultKind::ThreadCreate { .. } => "thread",
            FaultKind::BioError { .. } => "bio.error",
            FaultKind::BioLatency { .. } => "bio.latency",
            FaultKind::BioReorder { .. } => "bio.reorder",
            FaultKind::BioTorn { .. } => "bio.torn",
            FaultKind::BioLost { .. } => "bio.lost",
            FaultKind::ClockJitter { .. } => "clock.jitter",
            FaultKind::ClockJump { .. } => "clock.jump",
        }
    }

    /// The fault class (`alloc`, `thread`, `bio`, `clock`) used in reports.
    pub fn class(&self) -> &'static str {
        match self {
            FaultKind::Alloc { .. } => "alloc",
            FaultKind::ThreadCreate { .. } => "thread",
            FaultKind::BioError { .. }
            | FaultKind::BioLatency { .. }
            | FaultKind::BioReorder { .. }
            | FaultKind::BioTorn { .. }
            | FaultKind::BioLost { .. } => "bio",
            FaultKind::ClockJitter { .. } | FaultKind::ClockJump { .. } => "clock",
        }
    }
}

/// One rule of a fault plan.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// What the rule does.
    pub kind: FaultKind,
    /// When it does it.
    pub trigger: Trigger,
}

impl FaultRule {
    /// A rule that fires on every matching event.
    pub fn new(kind: FaultKind) -> FaultRule {
        FaultRule {
            kind,
            trigger: Trigger::default(),
        }
    }

    /// The same rule, firing only on the nth match.
    pub fn nth(mut self, nth: u64) -> FaultRule {
        self.trigger.nth = Some(nth);
        self
    }

    /// The same rule, firing with probability `p` per match.
    pub fn probability(mut self, p: f64) -> FaultRule {
        self.trigger.probability = Some(p);
        self
    }
}

/// An ordered list of fault rules. The empty plan injects nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultPlan {
    /// The rules, in the order they were written.
    pub rules: Vec<FaultRule>,
}

impl FaultPlan {
    /// The empty plan.
    pub fn new() -> FaultPlan {
        FaultPlan::default()
    }

    /// Parses the text form (see `docs/faults.md`).
    pub fn parse(text: &str) -> Result<FaultPlan, FaultPlanError> {
        Parser { text }.plan()
    }

    /// Adds a rule at the end.
    pub fn with(mut self, rule: FaultRule) -> FaultPlan {
        self.rules.push(rule);
        self
    }

    /// The plan without rule `index` (for shrinkers).
    pub fn without(&self, index: usize) -> FaultPlan {
        let mut rules = self.rules.clone();
        rules.remove(index);
        FaultPlan { rules }
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when the plan has no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

impl FromStr for FaultPlan {
    type Err = FaultPlanError;
    fn from_str(text: &str) -> Result<FaultPlan, FaultPlanError> {
        FaultPlan::parse(text)
    }
}

/// Formats nanoseconds in the largest unit that divides them exactly.
pub(crate) fn format_duration(ns: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1_000_000_000, "s"), (1_000_000, "ms"), (1_000, "us")];
    if ns == 0 {
        return "0".to_string();
    }
    for (scale, unit) in UNITS {
        if ns % scale == 0 {
            return format!("{}{unit}", ns / scale);
        }
    }
    format!("{ns}ns")
}

fn format_signed_duration(ns: i64) -> String {
    if ns < 0 {
        format!("-{}", format_duration(ns.unsigned_abs()))
    } else {
        format_duration(ns as u64)
    }
}

fn op_name(op: BioOp) -> &'static str {
    match op {
        BioOp::Read => "read",
        BioOp::Write => "write",
        BioOp::Flush => "flush",
    }
}

impl fmt::Display for FaultRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.keyword())?;
        match &self.kind {
            FaultKind::Alloc { site } => {
                if let Some(site) = site {
                    write!(f, " site={}", site.0)?;
                }
            }
            FaultKind::ThreadCreate { name } => {
                if let Some(name) = name {
                    write!(f, " name={}", name.0)?;
                }
            }
            FaultKind::BioError { op, dev } => {
                if let Some(op) = op {
                    write!(f, " op={}", op_name(*op))?;
                }
                if let Some(dev) = dev {
                    write!(f, " dev={dev}")?;
                }
            }
            FaultKind::BioLatency {
                dev,
                min_ns,
                max_ns,
            } => {
                if let Some(dev) = dev {
                    write!(f, " dev={dev}")?;
                }
                write!(
                    f,
                    " min={} max={}",
                    format_duration(*min_ns),
                    format_duration(*max_ns)
                )?;
            }
            FaultKind::BioReorder { dev }
            | FaultKind::BioTorn { dev }
            | FaultKind::BioLost { dev } => {
                if let Some(dev) = dev {
                    write!(f, " dev={dev}")?;
                }
            }
            FaultKind::ClockJitter { max_ns } => write!(f, " max={}", format_duration(*max_ns))?,
            FaultKind::ClockJump { at_ns, by_ns } => write!(
                f,
                " at={} by={}",
                format_duration(*at_ns),
                format_signed_duration(*by_ns)
            )?,
        }
        let t = &self.trigger;
        if let Some(nth) = t.nth {
            write!(f, " nth={nth}")?;
        }
        if let Some(p) = t.probability {
            write!(f, " p={p}")?;
        }
        if let Some(after) = t.after_ns {
            write!(f, " after={}", format_duration(after))?;
        }
        if let Some(until) = t.until_ns {
            write!(f, " until={}", format_duration(until))?;
        }
        if let Some(limit) = t.limit {
            write!(f, " limit={limit}")?;
        }
        Ok(())
    }
}

impl fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, rule) in self.rules.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{rule}")?;
        }
        Ok(())
    }
}

struct Parser<'a> {
    text: &'a str,
}

/// A word of a rule and where it starts.
struct Word<'a> {
    offset: usize,
    text: &'a str,
}

fn error(offset: usize, message: impl Into<String>) -> FaultPlanError {
    FaultPlanError {
        offset,
        message: message.into(),
    }
}

impl<'a> Parser<'a> {
    fn plan(&self) -> Result<FaultPlan, FaultPlanError> {
        let mut rules = Vec::new();
        let bytes = self.text.as_bytes();
        let mut start = 0;
        let mut index = 0;
        // Split into rules at `;` and newlines; `#` comments run to the end
        // of the line.
        while index <= bytes.len() {
            let at_end = index == bytes.len();
            let byte = if at_end { b'\n' } else { bytes[index] };
            if byte == b'#' {
                let segment_end = index;
                if let Some(rule) = self.rule(start, segment_end)? {
                    rules.push(rule);
                }
                while index < bytes.len() && bytes[index] != b'\n' {
                    index += 1;
                }
                start = index;
                continue;
            }
            if byte == b';' || byte == b'\n' {
                if let Some(rule) = self.rule(start, index)? {
                    rules.push(rule);
                }
                start = index + 1;
            }
            index += 1;
        }
        Ok(FaultPlan { rules })
    }

    fn words(&self, start: usize, end: usize) -> Vec<Word<'a>> {
        let segment = &self.text[start..end];
        let mut words = Vec::new();
        let mut word_start = None;
        for (i, c) in segment.char_indices() {
            if c.is_whitespace() {
                if let Some(s) = word_start.take() {
                    words.push(Word {
                        offset: start + s,
                        text: &segment[s..i],
                    });
                }
            } else if word_start.is_none() {
                word_start = Some(i);
            }
        }
        if let Some(s) = word_start {
            words.push(Word {
                offset: start + s,
                text: &segment[s..],
            });
        }
        words
    }

    fn rule(&self, start: usize, end: usize) -> Result<Option<FaultRule>, FaultPlanError> {
        let words = self.words(start, end);
        let Some((head, args)) = words.split_first() else {
            return Ok(None);
        };
        let mut site = None;
        let mut name = None;
        let mut op = None;
        let mut dev = None;
        let mut min = None;
        let mut max = None;
        let mut at = None;
        let mut by = None;
        let mut trigger = Trigger::default();
        let allowed: &[&str] = match head.text {
            "alloc" => &["site"],
            "thread" => &["name"],
            "bio.error" => &["op", "dev"],
            "bio.latency" => &["dev", "min", "max"],
            "bio.reorder" | "bio.torn" | "bio.lost" => &["dev"],
            "clock.jitter" => &["max"],
            "clock.jump" => &["at", "by"],
            other => {
                return Err(error(
                    head.offset,
                    format!(
                        "unknown fault `{other}` (expected alloc, thread, bio.error, bio.latency, \
                         bio.reorder, bio.torn, bio.lost, clock.jitter or clock.jump)"
                    ),
                ))
            }
        };
        let takes_trigger = head.text != "clock.jump";
        let mut seen: Vec<&str> = Vec::new();
        for word in args {
            let Some((key, value)) = word.text.split_once('=') else {
                return Err(error(
                    word.offset,
                    format!("expected key=value, found `{}`", word.text),
                ));
            };
            let value_offset = word.offset + key.len() + 1;
            if value.is_empty() {
                return Err(error(value_offset, format!("`{key}` needs a value")));
            }
            let is_trigger = matches!(key, "nth" | "p" | "after" | "until" | "limit");
            if !(allowed.contains(&key) || (is_trigger && takes_trigger)) {
                return Err(error(
                    word.offset,
                    format!("`{}` does not take `{key}`", head.text),
                ));
            }
            if seen.contains(&key) {
                return Err(error(word.offset, format!("`{key}` given twice")));
            }
            seen.push(key);
            match key {
                "site" => site = Some(Pattern(value.to_string())),
                "name" => name = Some(Pattern(value.to_string())),
                "dev" => dev = Some(value.to_string()),
                "op" => {
                    op = Some(match value {
                        "read" => BioOp::Read,
                        "write" => BioOp::Write,
                        "flush" => BioOp::Flush,
                        _ => {
                            return Err(error(
                                value_offset,
                                format!("unknown op `{value}` (expected read, write or flush)"),
                            ))
                        }
                    })
                }
                "min" => min = Some(parse_duration(value, value_offset)?),
                "max" => max = Some(parse_duration(value, value_offset)?),
                "at" => at = Some(parse_duration(value, value_offset)?),
                "by" => by = Some(parse_signed_duration(value, value_offset)?),
                "nth" => {
                    let nth = parse_count(value, value_offset)?;
                    if nth == 0 {
                        return Err(error(value_offset, "`nth` counts from 1"));
                    }
                    trigger.nth = Some(nth);
                }
                "limit" => trigger.limit = Some(parse_count(value, value_offset)?),
                "p" => {
                    let p: f64 = value.parse().map_err(|_| {
                        error(value_offset, format!("`{value}` is not a probability"))
                    })?;
                    if !(0.0..=1.0).contains(&p) {
                        return Err(error(value_offset, "a probability lies between 0 and 1"));
                    }
                    trigger.probability = Some(p);
                }
                "after" => trigger.after_ns = Some(parse_duration(value, value_offset)?),
                "until" => trigger.until_ns = Some(parse_duration(value, value_offset)?),
                _ => unreachable!("key list and match arms disagree on `{key}`"),
            }
        }
        let kind = match head.text {
            "alloc" => FaultKind::Alloc { site },
            "thread" => FaultKind::ThreadCreate { name },
            "bio.error" => FaultKind::BioError { op, dev },
            "bio.latency" => {
                let Some(max_ns) = max else {
                    return Err(error(head.offset, "`bio.latency` needs `max=`"));
                };
                let min_ns = min.unwrap_or(0);
                if min_ns > max_ns {
                    return Err(error(head.offset, "`bio.latency` has min above max"));
                }
                FaultKind::BioLatency {
                    dev,
                    min_ns,
                    max_ns,
                }
            }
            "bio.reorder" => FaultKind::BioReorder { dev },
            "bio.torn" => FaultKind::BioTorn { dev },
            "bio.lost" => FaultKind::BioLost { dev },
            "clock.jitter" => {
                let Some(max_ns) = max else {
                    return Err(error(head.offset, "`clock.jitter` needs `max=`"));
                };
                FaultKind::ClockJitter { max_ns }
            }
            "clock.jump" => {
                let (Some(at_ns), Some(by_ns)) = (at, by) else {
                    return Err(error(head.offset, "`clock.jump` needs `at=` and `by=`"));
                };
                FaultKind::ClockJump { at_ns, by_ns }
            }
            _ => unreachable!("fault keyword `{}` checked above", head.text),
        };
        debug_assert!(takes_trigger || trigger.is_empty());
        Ok(Some(FaultRule { kind, trigger }))
    }
}

fn parse_count(value: &str, offset: usize) -> Result<u64, FaultPlanError> {
    value
        .parse()
        .map_err(|_| error(offset, format!("`{value}` is not a whole number")))
}

fn parse_duration(value: &str, offset: usize) -> Result<u64, FaultPlanError> {
    let digits_end = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(digits_end);
    if digits.is_empty() {
        return Err(error(
            offset,
            format!("`{value}` is not a duration (like 10ms, 5us, 2s, 100ns)"),
        ));
    }
    let number: u64 = digits
        .parse()
        .map_err(|_| error(offset, format!("`{digits}` is too large")))?;
    let scale: u64 = match unit {
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "" if number == 0 => 1,
        "" => {
            return Err(error(
                offset + digits_end,
                "a duration needs a unit (ns, us, ms or s)",
            ))
        }
        _ => {
            return Err(error(
                offset + digits_end,
                format!("unknown unit `{unit}` (expected ns, us, ms or s)"),
            ))
        }
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| error(offset, format!("`{value}` is too long")))
}

fn parse_signed_duration(value: &str, offset: usize) -> Result<i64, FaultPlanError> {
    let (negative, magnitude, magnitude_offset) = match value.strip_prefix('-') {
        Some(rest) => (true, rest, offset + 1),
        None => (
            false,
            value.strip_prefix('+').unwrap_or(value),
            offset + usize::from(value.starts_with('+')),
        ),
    };
    let ns = parse_duration(magnitude, magnitude_offset)?;
    let ns = i64::try_from(ns).map_err(|_| error(offset, format!("`{value}` is too long")))?;
    Ok(if negative { -ns } else { ns })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_and_prefix() {
        assert!(Pattern("tmpfs".into()).matches("tmpfs.data"));
        assert!(!Pattern("tmpfs".into()).matches("vfs.tmpfs"));
        assert!(Pattern("*.data".into()).matches("tmpfs.data"));
        assert!(!Pattern("*.data".into()).matches("tmpfs.node"));
        assert!(Pattern("t?pfs.*".into()).matches("tmpfs.node"));
        assert!(Pattern("*".into()).matches(""));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10ms", 0), Ok(10_000_000));
        assert_eq!(format_duration(10_000_000), "10ms");
        assert_eq!(format_duration(1_500), "1500ns");
        assert_eq!(parse_signed_duration("-2s", 0), Ok(-2_000_000_000));
        assert!(parse_duration("10", 0).is_err());
    }
}
