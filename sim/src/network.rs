//! Message rules on top of madsim's network: hold or drop messages of a given kind between given
//! nodes, for a while or until removed. This is how a test forces a race precisely ("hold B's join
//! ready until the leader has been killed").
//!
//! Rules act where a message arrives: a held message waits in the receiving node's buffer (lost if
//! that node is killed, as a message in flight would be) and is delivered at the receiver's first
//! tick after no hold rule matches it any more. Partitions and latency are madsim's own.

use std::fmt;

use joinsim::{MessageKind, NodeName};
use serde::{Deserialize, Serialize};

/// What a rule does to the messages it matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// Keep them until the rule ends, then deliver.
    Hold,
    /// Lose them.
    Drop,
}

/// Which messages a rule matches. `None` matches anything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageFilter {
    /// Message kind.
    pub kind: Option<MessageKind>,
    /// Sender (node label).
    pub from: Option<NodeName>,
    /// Receiver (node label).
    pub to: Option<NodeName>,
}

impl MessageFilter {
    /// Matches every message of `kind`.
    pub fn kind(kind: MessageKind) -> MessageFilter {
        MessageFilter {
            kind: Some(kind),
            ..Default::default()
        }
    }

    /// Restricts to messages sent by `from`.
    pub fn from(mut self, from: &str) -> MessageFilter {
        self.from = Some(from.to_string());
        self
    }

    /// Restricts to messages received by `to`.
    pub fn to(mut self, to: &str) -> MessageFilter {
        self.to = Some(to.to_string());
        self
    }

    fn matches(&self, from: &str, to: &str, kind: MessageKind) -> bool {
        self.kind.is_none_or(|k| k == kind)
            && self.from.as_deref().is_none_or(|f| f == from)
            && self.to.as_deref().is_none_or(|t| t == to)
    }
}

impl fmt::Display for MessageFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let any = |o: &Option<String>| o.clone().unwrap_or_else(|| "*".into());
        let kind = self
            .kind
            .map(|k| k.name().to_string())
            .unwrap_or_else(|| "*".into());
        write!(f, "{kind} {} -> {}", any(&self.from), any(&self.to))
    }
}

/// Identifies a rule, to remove it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RuleId(pub u64);

#[derive(Clone, Debug)]
struct Rule {
    id: RuleId,
    filter: MessageFilter,
    action: RuleAction,
    until_ms: Option<u64>,
}

/// The active rules.
#[derive(Debug, Default)]
pub struct MessageRules {
    rules: Vec<Rule>,
    next_id: u64,
}

/// The most rules that may be active at once.
pub const MAX_RULES: usize = 256;

impl MessageRules {
    /// Adds a rule; it ends at `until_ms` if given, or when removed.
    pub fn add(
        &mut self,
        filter: MessageFilter,
        action: RuleAction,
        until_ms: Option<u64>,
    ) -> RuleId {
        assert!(
            self.rules.len() < MAX_RULES,
            "more than {MAX_RULES} message rules"
        );
        self.next_id += 1;
        let id = RuleId(self.next_id);
        self.rules.push(Rule {
            id,
            filter,
            action,
            until_ms,
        });
        id
    }

    /// Removes a rule. False when there was none.
    pub fn remove(&mut self, id: RuleId) -> bool {
        let before = self.rules.len();
        self.rules.retain(|r| r.id != id);
        self.rules.len() != before
    }

    /// Removes every rule and returns the ids that were in force, oldest first.
    pub fn take_all(&mut self) -> Vec<RuleId> {
        self.rules.drain(..).map(|r| r.id).collect()
    }

    /// What to do with a message at time `now_ms`: the first active matching rule decides;
    /// `None` means deliver.
    pub fn action(
        &self,
        from: &str,
        to: &str,
        kind: MessageKind,
        now_ms: u64,
    ) -> Option<RuleAction> {
        self.rules
            .iter()
            .filter(|r| r.until_ms.is_none_or(|u| now_ms < u))
            .find(|r| r.filter.matches(from, to, kind))
            .map(|r| r.action)
    }

    /// Number of rules (expired ones included until removed).
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when there is no rule.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_by_kind_and_nodes_and_expire() {
        let mut rules = MessageRules::default();
        let hold = rules.add(
            MessageFilter::kind(MessageKind::JoinReady).from("b"),
            RuleAction::Hold,
            None,
        );
        rules.add(
            MessageFilter::default().to("c"),
            RuleAction::Drop,
            Some(100),
        );
        assert_eq!(
            rules.action("b", "a", MessageKind::JoinReady, 0),
            Some(RuleAction::Hold)
        );
        assert_eq!(rules.action("x", "a", MessageKind::JoinReady, 0), None);
        assert_eq!(rules.action("b", "a", MessageKind::JoinRequest, 0), None);
        assert_eq!(
            rules.action("x", "c", MessageKind::Probe, 99),
            Some(RuleAction::Drop)
        );
        assert_eq!(rules.action("x", "c", MessageKind::Probe, 100), None);
        assert!(rules.remove(hold));
        assert!(!rules.remove(hold));
        assert_eq!(rules.action("b", "a", MessageKind::JoinReady, 0), None);
    }
}
