//! Each request: from LSP positions to `mcpo-ide` offsets, and its answer back.

use crate::convert::Lines;
use crate::host::{Entry, Snapshot};
use mcpo_diagnostics::{FileId, Span};
use mcpo_ide::{CompletionKind, TokenKind};
use mcpo_sema::DeclKind;
use std::collections::HashMap;
use tower_lsp_server::ls_types as lsp;

/// The file of a document, its text's line index and the offset of a position.
fn locate<'a>(snap: &'a Snapshot, uri: &lsp::Uri) -> Option<(&'a Entry, Lines<'a>)> {
    let entry = snap.table.get(uri)?;
    Some((entry, Lines::new(entry.source.text(&snap.db))))
}

fn at_position<'a>(
    snap: &'a Snapshot,
    at: &lsp::TextDocumentPositionParams,
) -> Option<(&'a Entry, Lines<'a>, u32)> {
    let (entry, lines) = locate(snap, &at.text_document.uri)?;
    let offset = u32::try_from(lines.offset(at.position)).ok()?;
    Some((entry, lines, offset))
}

/// A location in LSP terms.
fn location(snap: &Snapshot, file: FileId, span: Span) -> Option<lsp::Location> {
    let entry = snap.table.by_id(file)?;
    let lines = Lines::new(entry.source.text(&snap.db));
    Some(lsp::Location::new(entry.uri.clone(), lines.range(span)))
}

pub(crate) fn hover(snap: &Snapshot, at: &lsp::TextDocumentPositionParams) -> Option<lsp::Hover> {
    let (entry, lines, offset) = at_position(snap, at)?;
    let h = mcpo_ide::hover(&snap.db, entry.ws, entry.source, offset)?;
    Some(lsp::Hover {
        contents: lsp::HoverContents::Markup(lsp::MarkupContent {
            kind: lsp::MarkupKind::Markdown,
            value: h.markdown,
        }),
        range: Some(lines.range(h.span)),
    })
}

pub(crate) fn completion(
    snap: &Snapshot,
    at: &lsp::TextDocumentPositionParams,
) -> Option<lsp::CompletionResponse> {
    let (entry, lines, offset) = at_position(snap, at)?;
    let c = mcpo_ide::completions(&snap.db, entry.ws, entry.source, offset);
    let range = lines.range(c.replace);
    let items = c
        .items
        .into_iter()
        .map(|item| lsp::CompletionItem {
            kind: Some(match item.kind {
                CompletionKind::Keyword => lsp::CompletionItemKind::KEYWORD,
                CompletionKind::Server => lsp::CompletionItemKind::MODULE,
                CompletionKind::Type => lsp::CompletionItemKind::CLASS,
                CompletionKind::Attribute => lsp::CompletionItemKind::FIELD,
                CompletionKind::Reference => lsp::CompletionItemKind::VARIABLE,
                CompletionKind::Resource => lsp::CompletionItemKind::STRUCT,
                CompletionKind::Function => lsp::CompletionItemKind::FUNCTION,
                CompletionKind::Value => lsp::CompletionItemKind::ENUM_MEMBER,
            }),
            detail: item.detail,
            documentation: item.documentation.map(|d| {
                lsp::Documentation::MarkupContent(lsp::MarkupContent {
                    kind: lsp::MarkupKind::Markdown,
                    value: d,
                })
            }),
            // Clients order by sortText, then by label: the order of the items.
            sort_text: Some(item.sort),
            text_edit: Some(lsp::CompletionTextEdit::Edit(lsp::TextEdit::new(
                range,
                item.label.clone(),
            ))),
            label: item.label,
            ..lsp::CompletionItem::default()
        })
        .collect();
    Some(lsp::CompletionResponse::Array(items))
}

pub(crate) fn definition(
    snap: &Snapshot,
    at: &lsp::TextDocumentPositionParams,
) -> Option<lsp::GotoDefinitionResponse> {
    let (entry, _, offset) = at_position(snap, at)?;
    let loc = mcpo_ide::definition(&snap.db, entry.ws, entry.source, offset)?;
    Some(lsp::GotoDefinitionResponse::Scalar(location(
        snap, loc.file, loc.span,
    )?))
}

pub(crate) fn references(
    snap: &Snapshot,
    at: &lsp::TextDocumentPositionParams,
    include_declaration: bool,
) -> Option<Vec<lsp::Location>> {
    let (entry, _, offset) = at_position(snap, at)?;
    let refs = mcpo_ide::references(
        &snap.db,
        entry.ws,
        entry.source,
        offset,
        include_declaration,
    );
    Some(
        refs.into_iter()
            .filter_map(|l| location(snap, l.file, l.span))
            .collect(),
    )
}

pub(crate) fn prepare_rename(
    snap: &Snapshot,
    at: &lsp::TextDocumentPositionParams,
) -> Option<lsp::PrepareRenameResponse> {
    let (entry, lines, offset) = at_position(snap, at)?;
    let (span, name) = mcpo_ide::prepare_rename(&snap.db, entry.source, offset)?;
    Some(lsp::PrepareRenameResponse::RangeWithPlaceholder {
        range: lines.range(span),
        placeholder: name,
    })
}

pub(crate) fn rename(
    snap: &Snapshot,
    at: &lsp::TextDocumentPositionParams,
    new_name: &str,
) -> Result<Option<lsp::WorkspaceEdit>, String> {
    let Some((entry, _, offset)) = at_position(snap, at) else {
        return Ok(None);
    };
    let edits =
        mcpo_ide::rename(&snap.db, entry.ws, entry.source, offset, new_name).map_err(|e| e.0)?;
    let mut changes: HashMap<lsp::Uri, Vec<lsp::TextEdit>> = HashMap::new();
    for e in edits {
        if let Some(loc) = location(snap, e.file, e.span) {
            changes
                .entry(loc.uri)
                .or_default()
                .push(lsp::TextEdit::new(loc.range, e.text));
        }
    }
    Ok(Some(lsp::WorkspaceEdit::new(changes)))
}

fn symbol_kind(k: DeclKind) -> lsp::SymbolKind {
    match k {
        DeclKind::Server => lsp::SymbolKind::MODULE,
        DeclKind::Variable => lsp::SymbolKind::VARIABLE,
        DeclKind::Local => lsp::SymbolKind::CONSTANT,
        DeclKind::Resource | DeclKind::Data => lsp::SymbolKind::OBJECT,
        DeclKind::Task | DeclKind::Runbook => lsp::SymbolKind::EVENT,
        DeclKind::Output => lsp::SymbolKind::PROPERTY,
        DeclKind::Pattern | DeclKind::Use => lsp::SymbolKind::PACKAGE,
        DeclKind::Function => lsp::SymbolKind::FUNCTION,
        DeclKind::Adapter => lsp::SymbolKind::INTERFACE,
    }
}

pub(crate) fn document_symbols(
    snap: &Snapshot,
    uri: &lsp::Uri,
) -> Option<lsp::DocumentSymbolResponse> {
    let (entry, lines) = locate(snap, uri)?;
    let symbols = mcpo_ide::document_symbols(&snap.db, entry.source)
        .into_iter()
        .map(|s| {
            #[expect(deprecated, reason = "the field is deprecated but must be written")]
            lsp::DocumentSymbol {
                name: s.name,
                detail: Some(s.kind.block_name().to_string()),
                kind: symbol_kind(s.kind),
                tags: None,
                deprecated: None,
                range: lines.range(s.span),
                selection_range: lines.range(s.name_span),
                children: None,
            }
        })
        .collect();
    Some(lsp::DocumentSymbolResponse::Nested(symbols))
}

pub(crate) fn workspace_symbols(
    snap: &Snapshot,
    query: &str,
) -> Option<lsp::WorkspaceSymbolResponse> {
    // The workspace's, then its modules' (each file's symbols in the workspace it lives
    // in: the instance the editor works on).
    let mut workspaces = vec![snap.ws];
    workspaces.extend(
        mcpo_sema::module_workspaces(&snap.db, snap.ws)
            .into_iter()
            .map(|(_, w)| w),
    );
    let symbols = workspaces
        .into_iter()
        .flat_map(|w| {
            mcpo_ide::workspace_symbols(&snap.db, w, query, 500)
                .into_iter()
                .filter(move |s| snap.table.by_id(s.location.file).is_some_and(|e| e.ws == w))
        })
        .take(500)
        .filter_map(|s| {
            let location = location(snap, s.location.file, s.location.span)?;
            #[expect(deprecated, reason = "the field is deprecated but must be written")]
            Some(lsp::SymbolInformation {
                name: s.name,
                kind: symbol_kind(s.kind),
                tags: None,
                deprecated: None,
                location,
                container_name: None,
            })
        })
        .collect();
    Some(lsp::WorkspaceSymbolResponse::Flat(symbols))
}

pub(crate) fn signature_help(
    snap: &Snapshot,
    at: &lsp::TextDocumentPositionParams,
) -> Option<lsp::SignatureHelp> {
    let (entry, _, offset) = at_position(snap, at)?;
    let h = mcpo_ide::signature_help(&snap.db, entry.ws, entry.source, offset)?;
    let active = u32::try_from(h.active).ok();
    Some(lsp::SignatureHelp {
        signatures: vec![lsp::SignatureInformation {
            label: h.label,
            documentation: None,
            parameters: Some(
                h.params
                    .into_iter()
                    .map(|p| lsp::ParameterInformation {
                        label: lsp::ParameterLabel::Simple(p),
                        documentation: None,
                    })
                    .collect(),
            ),
            active_parameter: active,
        }],
        active_signature: Some(0),
        active_parameter: active,
    })
}

pub(crate) fn code_actions(
    snap: &Snapshot,
    uri: &lsp::Uri,
    range: lsp::Range,
) -> Option<lsp::CodeActionResponse> {
    let (entry, lines) = locate(snap, uri)?;
    let span = lines.span(range);
    let actions = mcpo_ide::code_actions(&snap.db, entry.ws, entry.source, span)
        .into_iter()
        .map(|a| {
            let mut changes: HashMap<lsp::Uri, Vec<lsp::TextEdit>> = HashMap::new();
            for e in a.edits {
                if let Some(loc) = location(snap, e.file, e.span) {
                    changes
                        .entry(loc.uri)
                        .or_default()
                        .push(lsp::TextEdit::new(loc.range, e.text));
                }
            }
            // The single fix of a diagnostic is the preferred one; "apply all" is not.
            let preferred = !a.fixes.is_empty();
            lsp::CodeActionOrCommand::CodeAction(lsp::CodeAction {
                title: a.title,
                kind: Some(lsp::CodeActionKind::QUICKFIX),
                edit: Some(lsp::WorkspaceEdit::new(changes)),
                is_preferred: Some(preferred),
                ..lsp::CodeAction::default()
            })
        })
        .collect();
    Some(actions)
}

/// The token types, in the order of [`token_type`]'s numbers.
const TOKEN_TYPES: [lsp::SemanticTokenType; 9] = [
    lsp::SemanticTokenType::KEYWORD,
    lsp::SemanticTokenType::TYPE,
    lsp::SemanticTokenType::VARIABLE,
    lsp::SemanticTokenType::PROPERTY,
    lsp::SemanticTokenType::FUNCTION,
    lsp::SemanticTokenType::NAMESPACE,
    lsp::SemanticTokenType::STRING,
    lsp::SemanticTokenType::NUMBER,
    lsp::SemanticTokenType::COMMENT,
];

fn token_type(k: TokenKind) -> u32 {
    match k {
        TokenKind::Keyword => 0,
        TokenKind::Type => 1,
        TokenKind::Variable => 2,
        TokenKind::Property => 3,
        TokenKind::Function => 4,
        TokenKind::Namespace => 5,
        TokenKind::String => 6,
        TokenKind::Number => 7,
        TokenKind::Comment => 8,
    }
}

/// The semantic token legend announced at initialize.
pub(crate) fn legend() -> lsp::SemanticTokensLegend {
    lsp::SemanticTokensLegend {
        token_types: TOKEN_TYPES.to_vec(),
        token_modifiers: Vec::new(),
    }
}

pub(crate) fn semantic_tokens(
    snap: &Snapshot,
    uri: &lsp::Uri,
) -> Option<lsp::SemanticTokensResult> {
    let (entry, lines) = locate(snap, uri)?;
    let text = entry.source.text(&snap.db);
    let mut data = Vec::new();
    let (mut prev_line, mut prev_col) = (0u32, 0u32);
    for t in mcpo_ide::semantic_tokens(&snap.db, entry.source) {
        // Tokens are one line each: a multi-line token (a block comment, a heredoc) is
        // split at its line breaks.
        let mut start = t.span.start as usize;
        let end = t.span.end as usize;
        while start < end {
            let piece_end = text
                .get(start..end)
                .and_then(|s| s.find('\n'))
                .map_or(end, |i| start + i);
            if piece_end > start {
                let a = lines.position(start);
                let b = lines.position(piece_end);
                let delta_line = a.line - prev_line;
                let delta_col = if delta_line == 0 {
                    a.character - prev_col
                } else {
                    a.character
                };
                data.push(lsp::SemanticToken {
                    delta_line,
                    delta_start: delta_col,
                    length: b.character.saturating_sub(a.character),
                    token_type: token_type(t.kind),
                    token_modifiers_bitset: 0,
                });
                prev_line = a.line;
                prev_col = a.character;
            }
            start = piece_end + 1;
        }
    }
    Some(lsp::SemanticTokensResult::Tokens(lsp::SemanticTokens {
        result_id: None,
        data,
    }))
}
