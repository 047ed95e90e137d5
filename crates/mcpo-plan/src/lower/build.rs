//! Lowering: every declaration of the workspace (patterns expanded under `module.<use>.`)
//! becomes a config node with the references of its expressions.

use super::*;

/// Collects the declarations of a workspace.
pub(super) struct Builder<'a> {
    pub(super) db: &'a dyn salsa::Database,
    pub(super) index: &'a mcpo_sema::Index,
    /// The variables' values: a `use` block's `count`/`for_each` may read them.
    pub(super) vars: BTreeMap<String, Val>,
    pub(super) io: &'a dyn Io,
    pub(super) servers: BTreeSet<String>,
    pub(super) patterns: BTreeMap<String, (FileId, &'a Block)>,
    pub(super) functions: BTreeMap<String, UserFn>,
    pub(super) nodes: BTreeMap<String, Node>,
    pub(super) diags: Vec<Diagnostic>,
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
                    n.server = server.to_string();
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
        let literal = |name: &str| match attr(block, name).map(|e| &e.kind) {
            Some(ExprKind::Template(t)) => t.as_literal(),
            _ => None,
        };
        // A local `source` directory (a module) names its one pattern.
        let from_source = literal("source")
            .filter(|s| mcpo_sema::local_source_dir(s).is_some())
            .and_then(|s| self.index.use_pattern(self.db, &format!("source:{s}")));
        let Some(pname) = literal("pattern").or(from_source) else {
            if attr(block, "source").is_some() {
                self.diags.push(
                    not_expanded(
                        file,
                        block.ty.span,
                        "`plan` and `apply` expand patterns of this workspace and of local module directories (`source = \"./dir\"`) only",
                    )
                    .with_help(
                        "copy the pattern into the workspace and name it with `pattern = \"...\"`",
                    ),
                );
            }
            return;
        };
        let Some((pfile, pattern)) = self.patterns.get(&pname).copied() else {
            return;
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
            self.repeated_use(file, block, name, prefix, depth, pfile, pattern);
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
                file, block, prefix, &inner, &addr, depth, pfile, pattern, &key,
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
    ) {
        let inner = inner.to_string();
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
        self.body(pfile, &pattern.body.items, &inner, depth + 1);
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
