//! Loading carrier and plan policies from a folder into the store, and reading the current ones back.

use super::{ServiceError, ServiceResult};
use crate::store::{DocumentOutcome, Policies, PolicyDocument, PolicySet};
use jiff::Timestamp;
use simdesk_domain::ids::CarrierCode;
use simdesk_domain::line::Line;
use simdesk_domain::policy::{CarrierPolicy, EffectivePolicy, PlanPolicy, PolicyError};
use std::collections::BTreeMap;
use std::path::Path;

/// A carrier's folder, read and validated.
pub struct CarrierFolder {
    pub set: PolicySet,
    pub carrier: CarrierPolicy,
    pub plans: Vec<PlanPolicy>,
}

fn io_error(path: &Path, e: std::io::Error) -> PolicyError {
    PolicyError {
        file: path.display().to_string(),
        key: "(file)".into(),
        problem: e.to_string(),
    }
}

/// Reads `DIR/<carrier>/carrier.toml` and `DIR/<carrier>/plans/*.toml`, validating everything and
/// reporting every problem found, not just the first.
pub fn read_policy_dir(dir: &Path) -> ServiceResult<Vec<CarrierFolder>> {
    let mut errors = Vec::new();
    let mut folders = Vec::new();
    let entries =
        std::fs::read_dir(dir).map_err(|e| ServiceError::Policy(vec![io_error(dir, e)]))?;
    let mut carrier_dirs: Vec<_> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("carrier.toml").is_file())
        .collect();
    carrier_dirs.sort();
    if carrier_dirs.is_empty() {
        return Err(ServiceError::Policy(vec![PolicyError {
            file: dir.display().to_string(),
            key: "(folder)".into(),
            problem: "no carrier found: expected one folder per carrier holding carrier.toml and plans/*.toml".into(),
        }]));
    }
    for carrier_dir in carrier_dirs {
        let path = carrier_dir.join("carrier.toml");
        let name = path.display().to_string();
        let body = match std::fs::read_to_string(&path) {
            Ok(b) => b,
            Err(e) => {
                errors.push(io_error(&path, e));
                continue;
            }
        };
        let carrier = match CarrierPolicy::from_toml(&name, &body) {
            Ok(c) => c,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let mut plan_docs = Vec::new();
        let mut plans: Vec<PlanPolicy> = Vec::new();
        let mut plan_files: Vec<_> = std::fs::read_dir(carrier_dir.join("plans"))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "toml"))
                    .collect()
            })
            .unwrap_or_default();
        plan_files.sort();
        for plan_path in plan_files {
            let plan_name = plan_path.display().to_string();
            let plan_body = match std::fs::read_to_string(&plan_path) {
                Ok(b) => b,
                Err(e) => {
                    errors.push(io_error(&plan_path, e));
                    continue;
                }
            };
            match PlanPolicy::from_toml(&plan_name, &plan_body, &carrier) {
                Ok(plan) if plans.iter().any(|p| p.code == plan.code) => errors.push(PolicyError {
                    file: plan_name,
                    key: "code".into(),
                    problem: format!(
                        "plan {} is defined twice for carrier {}",
                        plan.code, carrier.code
                    ),
                }),
                Ok(plan) => {
                    plan_docs.push(PolicyDocument {
                        carrier_code: carrier.code.clone(),
                        plan_code: Some(plan.code.clone()),
                        name: plan.name.clone(),
                        source_name: plan_name,
                        body: plan_body,
                    });
                    plans.push(plan);
                }
                Err(e) => errors.push(e),
            }
        }
        if plans.is_empty() {
            errors.push(PolicyError {
                file: name.clone(),
                key: "(plans)".into(),
                problem: "the carrier has no plans: add plans/<code>.toml".into(),
            });
        }
        if folders
            .iter()
            .any(|f: &CarrierFolder| f.carrier.code == carrier.code)
        {
            errors.push(PolicyError {
                file: name.clone(),
                key: "code".into(),
                problem: format!("carrier {} is defined twice", carrier.code),
            });
            continue;
        }
        let set = PolicySet {
            carrier: PolicyDocument {
                carrier_code: carrier.code.clone(),
                plan_code: None,
                name: carrier.name.clone(),
                source_name: name,
                body,
            },
            plans: plan_docs,
        };
        folders.push(CarrierFolder {
            set,
            carrier,
            plans,
        });
    }
    if errors.is_empty() {
        Ok(folders)
    } else {
        Err(ServiceError::Policy(errors))
    }
}

/// Validates a folder of policies and stores it; nothing is stored if anything is wrong.
pub async fn load_policies(
    store: &dyn Policies,
    dir: &Path,
    now: Timestamp,
) -> ServiceResult<Vec<DocumentOutcome>> {
    let folders = read_policy_dir(dir)?;
    let mut outcomes = Vec::new();
    for f in &folders {
        outcomes.extend(store.save_policy_set(&f.set, now).await?);
    }
    Ok(outcomes)
}

/// The current version of every carrier's and plan's policy, parsed.
#[derive(Debug, Clone, Default)]
pub struct PolicyBook {
    carriers: BTreeMap<CarrierCode, (CarrierPolicy, i64)>,
    plans: BTreeMap<(CarrierCode, String), (PlanPolicy, i64)>,
}

impl PolicyBook {
    pub async fn load(store: &dyn Policies) -> ServiceResult<PolicyBook> {
        let docs = store.current_policy_documents().await?;
        let mut book = PolicyBook::default();
        let mut errors = Vec::new();
        for d in docs.iter().filter(|d| d.plan_code.is_none()) {
            match CarrierPolicy::from_toml(&d.source_name, &d.body) {
                Ok(c) => {
                    book.carriers.insert(d.carrier_code.clone(), (c, d.version));
                }
                Err(e) => errors.push(e),
            }
        }
        for d in docs.iter() {
            let Some(plan_code) = &d.plan_code else {
                continue;
            };
            let Some((carrier, _)) = book.carriers.get(&d.carrier_code) else {
                continue;
            };
            match PlanPolicy::from_toml(&d.source_name, &d.body, carrier) {
                Ok(p) => {
                    book.plans
                        .insert((d.carrier_code.clone(), plan_code.clone()), (p, d.version));
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(book)
        } else {
            Err(ServiceError::Policy(errors))
        }
    }

    pub fn carrier(&self, code: &str) -> ServiceResult<&CarrierPolicy> {
        self.carriers.get(code).map(|(c, _)| c).ok_or_else(|| {
            ServiceError::NotFound(format!(
                "carrier {code} (load its policy with `simdesk policies load`)"
            ))
        })
    }

    /// The longest reminder window of any carrier, in hours.
    pub fn widest_reminder_hours(&self) -> u32 {
        self.carriers
            .values()
            .map(|(c, _)| c.reminder_hours_before)
            .max()
            .unwrap_or(0)
    }

    pub fn carrier_codes(&self) -> impl Iterator<Item = &CarrierCode> {
        self.carriers.keys()
    }

    pub fn plan(&self, carrier: &str, plan: &str) -> ServiceResult<&PlanPolicy> {
        self.plans
            .get(&(CarrierCode::new(carrier), plan.to_string()))
            .map(|(p, _)| p)
            .ok_or_else(|| ServiceError::NotFound(format!("plan {plan} of carrier {carrier}")))
    }

    pub fn plans_of<'a>(&'a self, carrier: &'a str) -> impl Iterator<Item = &'a PlanPolicy> + 'a {
        self.plans
            .iter()
            .filter(move |((c, _), _)| c == carrier)
            .map(|(_, (p, _))| p)
    }

    /// The rules for one line, and the plan document's version they come from.
    pub fn for_line(&self, line: &Line) -> ServiceResult<(EffectivePolicy<'_>, i64)> {
        let carrier = self.carrier(&line.carrier)?;
        let (plan, version) = self
            .plans
            .get(&(line.carrier.clone(), line.plan.clone()))
            .ok_or_else(|| {
                ServiceError::NotFound(format!("plan {} of carrier {}", line.plan, line.carrier))
            })?;
        Ok((EffectivePolicy { carrier, plan }, *version))
    }
}
