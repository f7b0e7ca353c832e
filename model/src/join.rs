//! Step 4 on the joiner's side: the join request, the acceptance, the Meta Storage catch-up,
//! recovery, join ready and the news that it joined.

use crate::ids::{Stored, Tag};
use crate::rule::{require, Refusal, Rule};
use crate::state::State;

impl State {
    pub(crate) fn join_request(
        &mut self,
        name: &str,
        stored: Option<&(Tag, u64)>,
    ) -> Result<(), Refusal> {
        let n = self.node(name);
        if n.vault_known {
            let carries = match (&n.vault, stored) {
                (None, None) => true,
                (Some(v), Some((tag, ms))) => {
                    v.tag == *tag && v.ms_version.is_none_or(|x| x == *ms)
                }
                _ => false,
            };
            require(carries, Rule::JoinRequestCarriesTheVault, || {
                format!(
                    "{name} asked to join presenting {stored:?}, its vault holding {}",
                    crate::step::show(&n.vault)
                )
            })?;
        }
        let launch = n.launch.unwrap_or_default();
        n.requests.insert((launch, stored.cloned()));
        Ok(())
    }

    pub(crate) fn join_accepted(
        &mut self,
        name: &str,
        tag: &Tag,
        stored_ms: Option<u64>,
        cluster_ms: u64,
    ) -> Result<(), Refusal> {
        let n = self.node(name).clone();
        let launch = n.launch.unwrap_or_default();
        // Read in place: a cluster holds its whole log, too big to copy at every step.
        let cluster = self.cluster_of_tag(tag).map(|(_, c)| c);
        let validated = cluster.is_some_and(|c| c.ever_validated.iter().any(|(_, l)| *l == launch));
        require(validated, Rule::AcceptanceFollowsValidation, || {
            format!("{name} (launch {launch:016x}) accepted into {tag}, which never validated it")
        })?;
        if n.vault_known {
            let keeps = match &n.vault {
                None => stored_ms.is_none(),
                Some(v) => v.tag == *tag && v.ms_version == stored_ms,
            };
            require(keeps, Rule::AcceptanceFollowsValidation, || {
                format!(
                    "{name} accepted into {tag} with MS version {stored_ms:?}, its vault holding {}",
                    crate::step::show(&n.vault)
                )
            })?;
        }
        let committed = cluster.map(|c| c.ms_version).unwrap_or_default();
        // The validation judged what a request presented: a stale answer (held, say) can reach a
        // node whose MS version rose since, as a learner applying a newer configuration (fuzz
        // seed 3383). It is within the rule when some request of this launch presented no
        // vault or a version the answer's covers.
        let presented_within = stored_ms.is_none_or(|x| x <= cluster_ms)
            || n.requests.iter().any(|(l, presented)| {
                *l == launch
                    && presented
                        .as_ref()
                        .is_none_or(|(t, x)| t == tag && *x <= cluster_ms)
            });
        require(
            presented_within && cluster_ms <= committed,
            Rule::AcceptanceFollowsValidation,
            || {
                format!(
                "{name} accepted into {tag} from MS version {stored_ms:?} to catch up to {cluster_ms}; the CMG committed version {committed}"
            )
            },
        )?;
        let n = self.node(name);
        n.vault = Some(Stored {
            tag: tag.clone(),
            ms_version: stored_ms,
        });
        n.held.insert(n.vault.clone());
        n.accepted = Some((launch, tag.clone(), cluster_ms));
        n.recovered = None;
        Ok(())
    }

    pub(crate) fn ms_version_stored(
        &mut self,
        name: &str,
        from: Option<u64>,
        to: u64,
    ) -> Result<(), Refusal> {
        let n = self.node(name).clone();
        let held = n.vault.as_ref().and_then(|v| v.ms_version);
        if n.vault_known {
            require(held == from, Rule::MsVersionMonotonicAndCommitted, || {
                format!("{name} stored MS version {to} over {from:?}, its vault holding {held:?}")
            })?;
        }
        require(
            from.is_none_or(|f| f <= to),
            Rule::MsVersionMonotonicAndCommitted,
            || format!("{name}'s MS version went down from {from:?} to {to}"),
        )?;
        let Some(stored) = n.vault.clone() else {
            return Err(Refusal {
                rule: Rule::MsVersionMonotonicAndCommitted,
                detail: format!("{name} stored MS version {to} while empty"),
            });
        };
        if let Some((_, c)) = self.cluster_of_tag(&stored.tag) {
            require(
                to <= c.ms_version,
                Rule::MsVersionMonotonicAndCommitted,
                || {
                    format!(
                        "{name} stored MS version {to} of {}, whose CMG committed version {}",
                        stored.tag, c.ms_version
                    )
                },
            )?;
        }
        let n = self.node(name);
        n.vault = Some(Stored {
            tag: stored.tag,
            ms_version: Some(to),
        });
        n.held.insert(n.vault.clone());
        Ok(())
    }

    pub(crate) fn recovery_finished(&mut self, name: &str, ms_version: u64) -> Result<(), Refusal> {
        let n = self.node(name);
        let launch = n.launch.unwrap_or_default();
        let target = n
            .accepted
            .as_ref()
            .filter(|(l, _, _)| *l == launch)
            .map(|(_, _, y)| *y);
        require(
            target.is_some_and(|y| ms_version >= y),
            Rule::JoinReadyAfterRecovery,
            || {
                format!("{name} finished recovery at MS version {ms_version}; its acceptance asked for {target:?}")
            },
        )?;
        n.recovered = Some(launch);
        Ok(())
    }

    pub(crate) fn join_ready(&mut self, name: &str) -> Result<(), Refusal> {
        let n = self.node(name);
        let launch = n.launch.unwrap_or_default();
        require(
            n.recovered == Some(launch),
            Rule::JoinReadyAfterRecovery,
            || format!("{name} sent join ready before its recovery finished"),
        )?;
        // Recovery finished only after an acceptance of this launch, which names the cluster.
        if let Some((_, tag, _)) = n.accepted.as_ref().filter(|(l, _, _)| *l == launch) {
            let tag = tag.clone();
            n.ready.insert((launch, tag));
        }
        Ok(())
    }

    pub(crate) fn joined(&mut self, name: &str, lt_version: u64) -> Result<(), Refusal> {
        let n = self.node(name).clone();
        let launch = n.launch.unwrap_or_default();
        let holds = self.clusters.values().any(|c| {
            c.lt_history
                .get(&lt_version)
                .is_some_and(|m| m.iter().any(|(_, l)| *l == launch))
        });
        require(holds, Rule::JoinedOnlyInTheLt, || {
            format!("{name} (launch {launch:016x}) was told it joined at LT version {lt_version}, which does not hold it")
        })
    }
}
