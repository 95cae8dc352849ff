//! What `--partition KIND:K/N` names: one shard of a split of the tests across
//! machines. The history keeps each shard's records apart until its split is complete,
//! and the plan keeps only the shard's tests (see [`crate::plan::partition`]), so the
//! name of a shard sits below both.

/// How tests are assigned to shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionKind {
    /// Round-robin within each binary, over its selected tests in name order. As in
    /// nextest, which lists a binary's ignored tests in a pass of their own, the
    /// ignored tests (with `--ignored` or `--include-ignored`) have a round-robin of
    /// their own.
    Count,
    /// By the xxHash64 (seed 0) of the test's name, modulo the shard count.
    Hash,
    /// Round-robin across every binary's selected tests, in binary id then name order;
    /// the ignored tests again have a round-robin of their own.
    Slice,
    /// Greedy longest-first bin packing over the history's expected durations.
    Duration,
}

impl PartitionKind {
    /// The word before the colon.
    pub fn as_str(self) -> &'static str {
        match self {
            PartitionKind::Count => "count",
            PartitionKind::Hash => "hash",
            PartitionKind::Slice => "slice",
            PartitionKind::Duration => "duration",
        }
    }
}

/// `--partition KIND:K/N`: run the K-th of N shards (K counts from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// How tests are assigned.
    pub kind: PartitionKind,
    /// This shard, from 1 to `total`.
    pub shard: u64,
    /// How many shards there are.
    pub total: u64,
}

/// A `--partition` value that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to parse partition `{input}`: {reason}; expected count:K/N, hash:K/N, slice:K/N or duration:K/N")]
pub struct PartitionParseError {
    /// What was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl std::str::FromStr for Partition {
    type Err = PartitionParseError;

    fn from_str(s: &str) -> Result<Partition, PartitionParseError> {
        let fail = |reason: String| PartitionParseError { input: s.to_owned(), reason };
        let (kind, rest) = s.split_once(':').ok_or_else(|| fail("there is no `:` after the kind".into()))?;
        let kind = match kind {
            "count" => PartitionKind::Count,
            "hash" => PartitionKind::Hash,
            "slice" => PartitionKind::Slice,
            "duration" => PartitionKind::Duration,
            other => return Err(fail(format!("unknown kind `{other}`"))),
        };
        let (shard, total) = rest.split_once('/').ok_or_else(|| fail(format!("`{rest}` is not of the form K/N")))?;
        let shard: u128 = shard.parse().map_err(|_| fail(format!("the shard `{shard}` is not a whole number")))?;
        let shard = u64::try_from(shard).unwrap_or(u64::MAX);
        // Parsed wide, so that a huge count is reported out of range rather than as not a number.
        let total: u128 =
            total.parse().map_err(|_| fail(format!("the shard count `{total}` is not a whole number")))?;
        let total = u64::try_from(total).unwrap_or(u64::MAX);
        if !(1..=crate::limits::MAX_PARTITIONS).contains(&total) {
            return Err(fail(format!(
                "the shard count {total} is out of range; expected a number from 1 to {}",
                crate::limits::MAX_PARTITIONS
            )));
        }
        if !(1..=total).contains(&shard) {
            return Err(fail(format!("the shard must be between 1 and {total}, inclusive")));
        }
        Ok(Partition { kind, shard, total })
    }
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}/{}", self.kind.as_str(), self.shard, self.total)
    }
}

impl Partition {
    /// Whether one binary's tests are enough to decide which of them belong to the
    /// shard. `count` and `hash` are (nextest applies them per binary); `slice` and
    /// `duration` need the whole list, so a pipelined run collects it first.
    pub fn per_binary(&self) -> bool {
        matches!(self.kind, PartitionKind::Count | PartitionKind::Hash)
    }
}
