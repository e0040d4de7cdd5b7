//! The authorization matrix. `docs/authorization.md` is the single source: it is
//! embedded at build time and parsed once, so the document and the server
//! cannot disagree.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::domain::organisation::Role;

const MATRIX: &str = include_str!("../../docs/authorization.md");

/// How far a role's access to one RPC reaches. Ordered from narrowest to widest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Deny,
    /// The caller's own organisation and its subsidiaries.
    OwnOrganisation,
    /// Records in the caller's own province.
    OwnProvince,
    Allow,
}

impl Scope {
    fn parse(cell: &str) -> Option<Scope> {
        match cell {
            "allow" => Some(Scope::Allow),
            "province" => Some(Scope::OwnProvince),
            "own" => Some(Scope::OwnOrganisation),
            "deny" => Some(Scope::Deny),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RpcRule {
    /// "Service.Method", as in the document.
    pub rpc: String,
    pub officer_token: bool,
    scopes: HashMap<Role, Scope>,
}

impl RpcRule {
    pub fn scope_for(&self, role: Role) -> Scope {
        self.scopes.get(&role).copied().unwrap_or(Scope::Deny)
    }

    /// The widest scope any of the caller's roles grants.
    pub fn best_scope(&self, roles: &[Role]) -> Scope {
        roles
            .iter()
            .map(|r| self.scope_for(*r))
            .max()
            .unwrap_or(Scope::Deny)
    }
}

#[derive(Debug)]
pub struct Policy {
    rules: HashMap<String, RpcRule>,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("authorization matrix: header must list the roles, found {0:?}")]
    Header(String),
    #[error("authorization matrix: row {rpc}: {problem}")]
    Row { rpc: String, problem: String },
    #[error("authorization matrix has no table")]
    NoTable,
}

impl Policy {
    /// The policy compiled into this binary.
    pub fn embedded() -> &'static Policy {
        static POLICY: OnceLock<Policy> = OnceLock::new();
        POLICY.get_or_init(|| {
            Policy::parse(MATRIX)
                .expect("docs/authorization.md is checked by the policy's unit tests")
        })
    }

    pub fn parse(doc: &str) -> Result<Policy, PolicyError> {
        let mut lines = doc
            .lines()
            .map(str::trim)
            .skip_while(|l| !l.starts_with("| RPC |"));
        let header = lines.next().ok_or(PolicyError::NoTable)?;
        let columns: Vec<&str> = split_row(header);
        let roles: Vec<Role> = columns
            .get(2..columns.len().saturating_sub(1))
            .unwrap_or_default()
            .iter()
            .map(|c| Role::parse(c).ok_or_else(|| PolicyError::Header(c.to_string())))
            .collect::<Result<_, _>>()?;
        if roles.len() != Role::ALL.len() {
            return Err(PolicyError::Header(header.to_owned()));
        }
        let mut rules = HashMap::new();
        for line in lines.skip(1).take_while(|l| l.starts_with('|')) {
            let cells = split_row(line);
            let rpc = cells[0].trim_matches('`').to_owned();
            let bad = |problem: String| PolicyError::Row {
                rpc: rpc.clone(),
                problem,
            };
            if cells.len() != roles.len() + 3 {
                return Err(bad(format!(
                    "{} cells, expected {}",
                    cells.len(),
                    roles.len() + 3
                )));
            }
            let officer_token = match cells[1] {
                "yes" => true,
                "no" => false,
                other => {
                    return Err(bad(format!(
                        "officer token must be yes or no, got {other:?}"
                    )));
                }
            };
            let mut scopes = HashMap::new();
            for (role, cell) in roles.iter().zip(&cells[2..]) {
                let scope = Scope::parse(cell)
                    .ok_or_else(|| bad(format!("unknown cell {cell:?} for {role}")))?;
                scopes.insert(*role, scope);
            }
            if rules
                .insert(
                    rpc.clone(),
                    RpcRule {
                        rpc: rpc.clone(),
                        officer_token,
                        scopes,
                    },
                )
                .is_some()
            {
                return Err(bad("listed twice".into()));
            }
        }
        Ok(Policy { rules })
    }

    /// The rule for a gRPC path such as `/fenghuo.v1.RegistryService/WhoAmI`.
    pub fn rule_for_path(&self, path: &str) -> Option<&RpcRule> {
        self.rules.get(&rpc_name(path)?)
    }

    pub fn rules(&self) -> impl Iterator<Item = &RpcRule> {
        self.rules.values()
    }
}

/// `/fenghuo.v1.RegistryService/WhoAmI` → `RegistryService.WhoAmI`.
pub fn rpc_name(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/fenghuo.v1.")?;
    let (service, method) = rest.split_once('/')?;
    Some(format!("{service}.{method}"))
}

fn split_row(line: &str) -> Vec<&str> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(str::trim).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn the_embedded_matrix_parses() {
        Policy::parse(MATRIX).unwrap();
    }

    #[test]
    fn every_rpc_of_the_contract_has_a_row_and_every_row_an_rpc() {
        let fds = prost_types::FileDescriptorSet::decode(crate::pb::FILE_DESCRIPTOR_SET).unwrap();
        let mut contract = Vec::new();
        for file in fds.file.iter().filter(|f| f.package() == "fenghuo.v1") {
            for service in &file.service {
                for method in &service.method {
                    contract.push(format!("{}.{}", service.name(), method.name()));
                }
            }
        }
        let policy = Policy::embedded();
        let missing: Vec<_> = contract
            .iter()
            .filter(|r| !policy.rules.contains_key(*r))
            .collect();
        assert!(
            missing.is_empty(),
            "RPCs with no row in docs/authorization.md: {missing:?}"
        );
        let stale: Vec<_> = policy
            .rules
            .keys()
            .filter(|r| !contract.contains(r))
            .collect();
        assert!(
            stale.is_empty(),
            "rows for RPCs the contract does not have: {stale:?}"
        );
    }

    #[test]
    fn the_widest_role_wins() {
        let rule = Policy::embedded()
            .rule_for_path("/fenghuo.v1.RegistryService/CreateOrganisation")
            .unwrap();
        assert_eq!(rule.best_scope(&[Role::BasicTelecom]), Scope::Deny);
        assert_eq!(
            rule.best_scope(&[Role::BasicTelecom, Role::ProvincialRegulator]),
            Scope::OwnProvince
        );
    }

    #[test]
    fn the_client_sends_the_officer_token_exactly_where_the_server_wants_one() {
        let mut server: Vec<String> = Policy::embedded()
            .rules()
            .filter(|r| r.officer_token)
            .map(|r| r.rpc.clone())
            .collect();
        server.sort();
        let mut client: Vec<String> = fenghuo_client::OFFICER_TOKEN_RPCS
            .iter()
            .map(|p| rpc_name(p).unwrap())
            .collect();
        client.sort();
        assert_eq!(client, server);
        assert!(fenghuo_client::takes_officer_token(
            "/fenghuo.v1.DisposalService/IssueDecision"
        ));
        assert!(!fenghuo_client::takes_officer_token(
            "/fenghuo.v1.ThreatService/SearchThreats"
        ));
    }

    #[test]
    fn unknown_paths_have_no_rule() {
        assert!(
            Policy::embedded()
                .rule_for_path("/fenghuo.v1.Nope/Nothing")
                .is_none()
        );
        assert!(
            Policy::embedded()
                .rule_for_path("/other.Service/X")
                .is_none()
        );
    }
}
