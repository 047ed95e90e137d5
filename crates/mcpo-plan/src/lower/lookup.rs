//! Evaluation against the planned values and, at apply time, the values of finished
//! nodes: how a reference to a node resolves.

use super::*;

/// Evaluation against planned values and, at apply time, finished nodes' values.
pub(super) struct ProgramLookup<'p> {
    pub(super) program: &'p Program,
    pub(super) values: Option<&'p Values>,
    pub(super) io: &'p dyn Io,
    pub(super) depth: Cell<usize>,
}

impl Lookup for ProgramLookup<'_> {
    fn get(&self, key: &str) -> Option<Val> {
        let p = self.program;
        let node = p.nodes.get(key)?;
        match &node.kind {
            Kind::Var => p.vars.get(key).cloned(),
            Kind::Resource | Kind::Data | Kind::Task => {
                let Some(values) = self.values else {
                    return p.planned.get(key).cloned();
                };
                let value_of = |addr: &str| {
                    values
                        .get(addr)
                        .or_else(|| p.planned_instances.get(addr))
                        .cloned()
                        .unwrap_or(Val::Unknown)
                };
                Some(match node.repeat {
                    Repeat::One => node
                        .instances
                        .first()
                        .map_or(Val::Unknown, |(a, _)| value_of(a)),
                    Repeat::Count => {
                        Val::List(node.instances.iter().map(|(a, _)| value_of(a)).collect())
                    }
                    Repeat::ForEach => Val::Map(
                        node.instances
                            .iter()
                            .filter_map(|(a, k)| match k {
                                InstanceKey::Key(k, _) => Some((k.clone(), value_of(a))),
                                _ => None,
                            })
                            .collect(),
                    ),
                })
            }
            Kind::Local | Kind::Param | Kind::Output => {
                if self.values.is_none() || self.depth.get() > 200 {
                    return p.planned.get(key).cloned();
                }
                let planned = p.planned.get(key);
                if planned.is_some_and(Val::is_known) {
                    return planned.cloned();
                }
                let expr = node.expr.as_ref()?;
                self.depth.set(self.depth.get() + 1);
                let mut scope = Scope::new(self, &p.servers, &p.functions, self.io);
                scope.prefix = node.prefix.clone();
                set_instance(&mut scope, &node.inst);
                let v = eval::eval(expr, &scope).ok();
                self.depth.set(self.depth.get() - 1);
                let v = v.unwrap_or(Val::Unknown);
                Some(if node.sensitive {
                    v.mark_sensitive()
                } else {
                    v
                })
            }
            Kind::Module { outputs } => {
                let inner = format!("{key}.");
                Some(Val::Map(
                    outputs
                        .iter()
                        .map(|o| {
                            (
                                o.clone(),
                                self.get(&format!("{inner}output.{o}"))
                                    .unwrap_or(Val::Unknown),
                            )
                        })
                        .collect(),
                ))
            }
            Kind::ModuleSet { members } => Some(aggregate(
                node.repeat,
                members
                    .iter()
                    .map(|(k, m)| (k.clone(), self.get(m).unwrap_or(Val::Unknown)))
                    .collect(),
            )),
        }
    }
}
