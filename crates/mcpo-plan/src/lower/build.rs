//! Lowering: every declaration of the workspace (patterns expanded under `module.<use>.`)
//! becomes a config node with the references of its expressions.

use super::*;

/// Collects the declarations of a workspace.
pub(super) struct Builder<'a> {
    pub(super) db: &'a dyn salsa::Database,
    /// The variables' values: a `use` block's `count`/`for_each` may read them.
    pub(super) vars: BTreeMap<String, Val>,
    pub(super) io: &'a dyn Io,
    pub(super) servers: BTreeSet<String>,
    /// Whose names the body being lowered sees: the workspace, or a module's files while
    /// one of its patterns is expanded, with the map from the pattern's server names to
    /// the workspace's.
    pub(super) within: Within,
    pub(super) functions: BTreeMap<String, UserFn>,
    pub(super) nodes: BTreeMap<String, Node>,
    pub(super) diags: Vec<Diagnostic>,
    /// The rules (param `validation` blocks) of every pattern instance, checked once every
    /// value is planned.
    pub(super) rules: Vec<Rule>,
}

/// One `validation` block of a pattern's param, for one instance of the pattern.
pub(super) struct Rule {
    /// The instance's prefix (`module.shop.`): `param.x` in the condition reads its params.
    pub(super) prefix: String,
    /// The `use` block's file and its label's span.
    pub(super) file: FileId,
    pub(super) at: Span,
    /// The param and the pattern, for the label.
    pub(super) param: String,
    pub(super) pattern: String,
    /// The params the use gives, with their values' spans.
    pub(super) given: BTreeMap<String, Span>,
    pub(super) condition: Expr,
    pub(super) message: Option<Expr>,
}

/// The names a body sees and the servers its resources really live on.
#[derive(Clone)]
pub(super) struct Within {
    /// The workspace declaring the body (the user's, or a module's).
    pub(super) ws: Workspace,
    /// A pattern's server name -> the workspace's (identity where absent).
    pub(super) servers: BTreeMap<String, String>,
}

impl Within {
    fn server<'s>(&'s self, name: &'s str) -> &'s str {
        self.servers.get(name).map_or(name, String::as_str)
    }
}

impl<'a> Builder<'a> {
    pub(super) fn node(
        &self,
        key: String,
        kind: Kind,
        prefix: &str,
        file: FileId,
        span: Span,
    ) -> Node {
        Node {
            key,
            kind,
            prefix: prefix.to_string(),
            file,
            span,
            expr: None,
            block: None,
            server: String::new(),
            type_name: String::new(),
            refs: BTreeSet::new(),
            repeat: Repeat::One,
            instances: Vec::new(),
            sensitive: false,
            inst: InstanceKey::One,
        }
    }

    fn refs_of(&self, expr: &Expr, prefix: &str) -> BTreeSet<String> {
        references(expr, &self.servers)
            .into_iter()
            .map(|k| format!("{prefix}{k}"))
            .collect()
    }

    fn block_refs(&self, block: &Block, prefix: &str, out: &mut BTreeSet<String>) {
        for item in &block.body.items {
            match item {
                BodyItem::Attribute(a) => out.extend(self.refs_of(&a.value, prefix)),
                // `self` inside wait_for refers to the block itself, not a dependency.
                BodyItem::Block(b) if b.ty.name == "wait_for" => {}
                BodyItem::Block(b) => self.block_refs(b, prefix, out),
                BodyItem::Error(_) => {}
            }
        }
    }

    pub(super) fn add(&mut self, node: Node) {
        if self.nodes.contains_key(&node.key) {
            // Duplicates are the checker's E0105; keep the first.
            return;
        }
        self.nodes.insert(node.key.clone(), node);
    }

    /// Adds the declarations in one body (a file, or a pattern's body under `prefix`).
    pub(super) fn body(&mut self, file: FileId, items: &'a [BodyItem], prefix: &str, depth: usize) {
        for item in items {
            let BodyItem::Block(block) = item else {
                continue;
            };
            let labels = labels(block);
            match (block.ty.name.as_str(), labels.as_slice()) {
                ("locals", _) => {
                    for i in &block.body.items {
                        if let BodyItem::Attribute(a) = i {
                            let mut n = self.node(
                                format!("{prefix}local.{}", a.name.name),
                                Kind::Local,
                                prefix,
                                file,
                                a.name.span,
                            );
                            n.refs = self.refs_of(&a.value, prefix);
                            n.expr = Some(a.value.clone());
                            self.add(n);
                        }
                    }
                }
                ("param", [name]) if !prefix.is_empty() => {
                    // Params are added by `use_block` with the value given at the use.
                    let _ = name;
                }
                ("resource" | "data" | "task", [ty, name]) => {
                    let Some((server, type_name)) = ty.split_once('.') else {
                        continue;
                    };
                    let (kind, key) = match block.ty.name.as_str() {
                        "resource" => (
                            Kind::Resource,
                            format!("{prefix}{server}.{type_name}.{name}"),
                        ),
                        "data" => (
                            Kind::Data,
                            format!("{prefix}data.{server}.{type_name}.{name}"),
                        ),
                        _ => (
                            Kind::Task,
                            format!("{prefix}task.{server}.{type_name}.{name}"),
                        ),
                    };
                    let mut n = self.node(
                        key,
                        kind,
                        prefix,
                        file,
                        block
                            .ty
                            .span
                            .cover(block.labels.last().map_or(block.ty.span, |l| l.span())),
                    );
                    n.server = self.within.server(server).to_string();
                    n.type_name = type_name.to_string();
                    self.block_refs(block, prefix, &mut n.refs);
                    n.repeat = if attr(block, "count").is_some() {
                        Repeat::Count
                    } else if attr(block, "for_each").is_some() {
                        Repeat::ForEach
                    } else {
                        Repeat::One
                    };
                    n.block = Some(block.clone());
                    self.add(n);
                }
                ("output", [name]) => {
                    let mut n = self.node(
                        format!("{prefix}output.{name}"),
                        Kind::Output,
                        prefix,
                        file,
                        block.ty.span,
                    );
                    if let Some(v) = attr(block, "value") {
                        n.refs = self.refs_of(v, prefix);
                        n.expr = Some(v.clone());
                    }
                    n.sensitive = is_true(attr(block, "sensitive"));
                    n.block = Some(block.clone());
                    self.add(n);
                }
                ("use", [name]) => self.use_block(file, block, name, prefix, depth),
                _ => {}
            }
        }
    }

    fn use_block(
        &mut self,
        file: FileId,
        block: &'a Block,
        name: &str,
        prefix: &str,
        depth: usize,
    ) {
        let inner = format!("{prefix}module.{name}.");
        let module_key = format!("{prefix}module.{name}");
        let pattern = match attr(block, "pattern").map(|e| &e.kind) {
            Some(ExprKind::Template(t)) => t.as_literal().unwrap_or_default(),
            _ => String::new(),
        };
        let link = mcpo_sema::use_link(block).unwrap_or_default();
        if pattern.is_empty() && link.is_empty() {
            return;
        }
        let db = self.db;
        // A package makes nothing: its adapters are drivers (`driver::workspace_drivers`),
        // its runbooks are run by `mcpoc run` (`runbook::runbooks`).
        if pattern.is_empty() && mcpo_sema::package_module(db, self.within.ws, &link).is_some() {
            return;
        }
        let Ok((tws, pname, module)) = mcpo_sema::resolve_use(db, self.within.ws, &pattern, &link)
        else {
            // The checker reports why (E0113, E0116); a workspace with errors is not planned.
            self.diags.push(
                not_expanded(
                    file,
                    block.ty.span,
                    "the pattern this `use` names is not available",
                )
                .with_help("`mcpoc check` says why"),
            );
            return;
        };
        let Some((psource, pattern)) = mcpo_sema::pattern_block(db, tws, &pname) else {
            return;
        };
        let pfile = psource.id(db);
        // The pattern's servers, as this workspace names them.
        let mapped = mcpo_sema::use_servers(block).unwrap_or_default();
        let mut servers = BTreeMap::new();
        for s in mcpo_sema::pattern_servers(pattern) {
            let outer = mapped.get(&s).unwrap_or(&s);
            servers.insert(s.clone(), self.within.server(outer).to_string());
            // Inside the pattern, `s.type.name` is a resource reference.
            self.servers.insert(s);
        }
        let inner_within = Within {
            ws: tws,
            servers: if module.is_some() || !mapped.is_empty() {
                servers
            } else {
                self.within.servers.clone()
            },
        };
        if depth >= 16 {
            self.diags.push(not_expanded(
                file,
                block.ty.span,
                "patterns nest more than 16 levels deep here (a pattern that uses itself?)",
            ));
            return;
        }
        if attr(block, "count").is_some() || attr(block, "for_each").is_some() {
            self.repeated_use(
                file,
                block,
                name,
                prefix,
                depth,
                pfile,
                pattern,
                &inner_within,
            );
            return;
        }
        self.instantiate(
            file,
            block,
            prefix,
            &inner,
            &module_key,
            depth,
            pfile,
            pattern,
            &InstanceKey::One,
            &inner_within,
        );
    }

    /// A `use` with `count`/`for_each`: one pattern instance per index or key
    /// (`module.x[0].`), and `module.x` the list or map of their outputs. How many must
    /// be known before anything is planned, so it may depend on variables only.
    #[expect(clippy::too_many_arguments, reason = "the pieces of one use block")]
    fn repeated_use(
        &mut self,
        file: FileId,
        block: &'a Block,
        name: &str,
        prefix: &str,
        depth: usize,
        pfile: FileId,
        pattern: &'a Block,
        within: &Within,
    ) {
        let module_key = format!("{prefix}module.{name}");
        let mut probe = self.node(
            module_key.clone(),
            Kind::Resource,
            prefix,
            file,
            block.ty.span,
        );
        probe.block = Some(block.clone());
        probe.repeat = if attr(block, "count").is_some() {
            Repeat::Count
        } else {
            Repeat::ForEach
        };
        let (functions, servers) = (self.functions.clone(), self.servers.clone());
        let mut scope = Scope::new(&self.vars, &servers, &functions, self.io);
        scope.prefix = prefix.to_string();
        let instances = match expand(&probe, &scope) {
            Ok(i) => i,
            Err(d) => {
                self.diags.push(d.with_help(
                    "a `use` block's `count` and `for_each` may read variables and literals only",
                ));
                return;
            }
        };
        let mut members = Vec::new();
        for (addr, key) in instances {
            let inner = format!("{addr}.");
            self.instantiate(
                file, block, prefix, &inner, &addr, depth, pfile, pattern, &key, within,
            );
            members.push((key, addr));
        }
        let mut n = self.node(
            module_key,
            Kind::ModuleSet {
                members: members.clone(),
            },
            prefix,
            file,
            block.ty.span,
        );
        n.repeat = probe.repeat;
        n.refs = members.into_iter().map(|(_, a)| a).collect();
        self.add(n);
    }

    /// One instance of a pattern under `inner` (`module.x.` or `module.x[0].`).
    #[expect(clippy::too_many_arguments, reason = "the pieces of one use block")]
    fn instantiate(
        &mut self,
        file: FileId,
        block: &'a Block,
        prefix: &str,
        inner: &str,
        module_key: &str,
        depth: usize,
        pfile: FileId,
        pattern: &'a Block,
        key: &InstanceKey,
        within: &Within,
    ) {
        let inner = inner.to_string();
        let given: BTreeMap<String, Span> = block
            .body
            .items
            .iter()
            .filter_map(|i| match i {
                BodyItem::Attribute(a) => Some((a.name.name.clone(), a.value.span)),
                _ => None,
            })
            .collect();
        // Params: the value given at the use (evaluated where the use is) or the default.
        for item in &pattern.body.items {
            let BodyItem::Block(p) = item else { continue };
            if p.ty.name != "param" {
                continue;
            }
            let Some(pn) = p.labels.first().map(|l| l.value().to_string()) else {
                continue;
            };
            let mut n = self.node(
                format!("{inner}param.{pn}"),
                Kind::Param,
                prefix,
                file,
                block.ty.span,
            );
            let pattern_name = pattern.labels.first().map(|l| l.value().to_string());
            let at = block.labels.first().map_or(block.ty.span, |l| l.span());
            for rule in &p.body.items {
                let BodyItem::Block(v) = rule else { continue };
                let Some(condition) = attr(v, "condition").filter(|_| v.ty.name == "validation")
                else {
                    continue;
                };
                self.rules.push(Rule {
                    prefix: inner.clone(),
                    file,
                    at,
                    param: pn.clone(),
                    pattern: pattern_name.clone().unwrap_or_default(),
                    given: given.clone(),
                    condition: condition.clone(),
                    message: attr(v, "message").cloned(),
                });
            }
            if let Some(v) = attr(block, &pn) {
                n.refs = self.refs_of(v, prefix);
                n.expr = Some(v.clone());
                n.inst = key.clone();
            } else if let Some(d) = attr(p, "default") {
                n.prefix = inner.clone();
                n.file = pfile;
                n.refs = self.refs_of(d, &inner);
                n.expr = Some(d.clone());
            }
            self.add(n);
        }
        let outer = std::mem::replace(&mut self.within, within.clone());
        self.body(pfile, &pattern.body.items, &inner, depth + 1);
        self.within = outer;
        let outputs: Vec<String> = pattern
            .body
            .items
            .iter()
            .filter_map(|i| match i {
                BodyItem::Block(b) if b.ty.name == "output" => {
                    b.labels.first().map(|l| l.value().to_string())
                }
                _ => None,
            })
            .collect();
        let mut n = self.node(
            module_key.to_string(),
            Kind::Module {
                outputs: outputs.clone(),
            },
            prefix,
            file,
            block.ty.span,
        );
        n.refs = outputs
            .iter()
            .map(|o| format!("{inner}output.{o}"))
            .collect();
        self.add(n);
    }
}
