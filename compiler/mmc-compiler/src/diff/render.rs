//! Renderers of a [`Diff`]: human text (Terraform-like), a markdown pull-request comment, and
//! versioned JSON. Human and markdown share one line model, laid out two ways.

use std::fmt::Write as _;

use super::impact::{MachinesImpact, Reach};
use super::value::show;
use super::{Action, BundleDiff, Counts, Diff, Field, FieldChange, Resource, ResourceKind};

/// The hidden marker that lets a workflow find its own pull-request comment and update it.
pub const MARKDOWN_MARKER: &str = "<!-- mmc-diff -->";

/// GitHub refuses comments over 65,536 characters; stay well below.
const MARKDOWN_BUDGET: usize = 60_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sym {
    None,
    Create,
    Update,
    Replace,
    Delete,
    Comment,
}

impl Sym {
    fn of(action: Action) -> Sym {
        match action {
            Action::Create => Sym::Create,
            Action::Update => Sym::Update,
            Action::Replace => Sym::Replace,
            Action::Delete => Sym::Delete,
        }
    }

    /// The symbol, right-aligned in three columns (human layout).
    fn wide(self) -> &'static str {
        match self {
            Sym::None => "   ",
            Sym::Create => "  +",
            Sym::Update => "  ~",
            Sym::Replace => "-/+",
            Sym::Delete => "  -",
            Sym::Comment => "  #",
        }
    }

    /// One character in column 0 (markdown's `diff` blocks colour `+` and `-` lines).
    fn narrow(self) -> char {
        match self {
            Sym::None | Sym::Comment => ' ',
            Sym::Create => '+',
            Sym::Update => '~',
            Sym::Replace => '!',
            Sym::Delete => '-',
        }
    }

    fn style(self) -> anstyle::Style {
        use anstyle::AnsiColor::*;
        let color = match self {
            Sym::Create => Some(Green),
            Sym::Update => Some(Yellow),
            Sym::Replace => Some(Magenta),
            Sym::Delete => Some(Red),
            Sym::None | Sym::Comment => None,
        };
        anstyle::Style::new().fg_color(color.map(Into::into))
    }
}

struct Line {
    depth: usize,
    sym: Sym,
    text: String,
}

fn line(depth: usize, sym: Sym, text: impl Into<String>) -> Line {
    Line {
        depth,
        sym,
        text: text.into(),
    }
}

fn human_line(l: &Line, styled: bool) -> String {
    let sym = l.sym.wide();
    let sym = if styled && l.sym != Sym::None {
        let st = l.sym.style();
        format!("{st}{sym}{st:#}")
    } else {
        sym.to_owned()
    };
    // A comment's `#` stands in the symbol column.
    let s = format!("{}{sym} {}", "    ".repeat(l.depth), l.text);
    if l.text.is_empty() {
        s.trim_end().to_owned()
    } else {
        s
    }
}

fn markdown_line(l: &Line) -> String {
    let text = if l.sym == Sym::Comment {
        format!("# {}", l.text)
    } else {
        l.text.clone()
    };
    let s = format!("{}{}{text}", l.sym.narrow(), " ".repeat(3 + 4 * l.depth));
    if l.text.is_empty() {
        s.trim_end().to_owned()
    } else {
        s
    }
}

fn verb(action: Action, kind: ResourceKind) -> &'static str {
    match (action, kind) {
        (Action::Create, _) => "will be created",
        (Action::Update, ResourceKind::Profile) => "will be updated in place",
        (Action::Update, _) => "will be updated",
        (Action::Replace, ResourceKind::Profile) => {
            "must be replaced (macOS removes it and installs it again)"
        }
        (Action::Replace, _) => "will be replaced",
        (Action::Delete, _) => "will be removed",
    }
}

fn resource_lines(r: &Resource, out: &mut Vec<Line>) {
    let source = r
        .source
        .as_deref()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    let mut comment = format!(
        "{} {}{source} {}",
        r.kind.as_str(),
        r.name,
        verb(r.action, r.kind)
    );
    if let Some(reason) = &r.reason {
        comment.push_str(": ");
        comment.push_str(reason);
    }
    out.push(line(0, Sym::Comment, comment));
    out.push(line(
        0,
        Sym::of(r.action),
        format!(
            "{} {} {{",
            r.kind.as_str(),
            serde_json::Value::from(r.name.as_str())
        ),
    ));
    for f in &r.fields {
        field_lines(f, out);
    }
    if r.unchanged > 0 {
        let plural = if r.unchanged == 1 { "" } else { "s" };
        out.push(line(
            1,
            Sym::Comment,
            format!("({} unchanged key{plural} hidden)", r.unchanged),
        ));
    }
    if let Some(reach) = &r.reach {
        reach_lines(reach, out);
    }
    out.push(line(0, Sym::None, "}"));
}

fn field_lines(f: &Field, out: &mut Vec<Line>) {
    match &f.change {
        FieldChange::Added { after } => out.push(line(
            1,
            Sym::Create,
            format!("{} = {}", f.path, show(after)),
        )),
        FieldChange::Removed { before } => out.push(line(
            1,
            Sym::Delete,
            format!("{} = {}", f.path, show(before)),
        )),
        FieldChange::Changed { before, after } => out.push(line(
            1,
            Sym::Update,
            format!("{} = {} -> {}", f.path, show(before), show(after)),
        )),
        FieldChange::Text {
            before,
            after,
            diff,
        } => {
            let sym = match (before, after) {
                (None, _) => Sym::Create,
                (_, None) => Sym::Delete,
                _ => Sym::Update,
            };
            out.push(line(1, sym, format!("{}:", f.path)));
            for l in diff.lines() {
                let (sym, rest) = match l.as_bytes().first() {
                    Some(b'+') => (Sym::Create, &l[1..]),
                    Some(b'-') => (Sym::Delete, &l[1..]),
                    Some(b' ') => (Sym::None, &l[1..]),
                    _ => (Sym::None, l),
                };
                out.push(line(2, sym, rest));
            }
        }
        FieldChange::Members { added, removed } => {
            let sym = match (added.is_empty(), removed.is_empty()) {
                (false, true) => Sym::Create,
                (true, false) => Sym::Delete,
                _ => Sym::Update,
            };
            out.push(line(1, sym, f.path.clone()));
            for a in added {
                out.push(line(2, Sym::Create, a.clone()));
            }
            for r in removed {
                out.push(line(2, Sym::Delete, r.clone()));
            }
        }
    }
}

fn reach_lines(reach: &Reach, out: &mut Vec<Line>) {
    for r in &reach.references {
        out.push(line(1, Sym::Comment, format!("named in {}", r.path())));
    }
    if !reach.included_by.is_empty() {
        out.push(line(
            1,
            Sym::Comment,
            format!(
                "and so in {} (included manifests)",
                reach.included_by.join(", ")
            ),
        ));
    }
    if !reach.required_by.is_empty() {
        out.push(line(
            1,
            Sym::Comment,
            format!("required by {}", reach.required_by.join(", ")),
        ));
    }
    if !reach.update_for.is_empty() {
        out.push(line(
            1,
            Sym::Comment,
            format!(
                "installed along with {} (update_for)",
                reach.update_for.join(", ")
            ),
        ));
    }
}

fn machine_lines(m: &MachinesImpact, out: &mut Vec<Line>) {
    out.push(line(
        0,
        Sym::Comment,
        format!(
            "machines (facts files, manifest {}): {} of {} change",
            m.manifest,
            m.changed.len(),
            m.total
        ),
    ));
    for c in &m.changed {
        let mut parts = Vec::new();
        for l in &c.lists {
            let mut names: Vec<String> = l.added.iter().map(|n| format!("+{n}")).collect();
            names.extend(l.removed.iter().map(|n| format!("-{n}")));
            parts.push(format!("{} {}", l.key, names.join(" ")));
        }
        if !c.updated.is_empty() {
            parts.push(format!("updated {}", c.updated.join(" ")));
        }
        out.push(line(
            1,
            Sym::Update,
            format!("{}: {}", c.machine, parts.join("; ")),
        ));
    }
}

fn counts(c: &Counts) -> String {
    format!(
        "{} to add, {} to change, {} to replace, {} to remove",
        c.create, c.update, c.replace, c.delete
    )
}

fn short(sha: &Option<String>) -> String {
    sha.as_deref().map_or_else(
        || "none".to_owned(),
        |s| format!("{}…", &s[..s.len().min(12)]),
    )
}

fn version(v: Option<u64>) -> String {
    v.map_or_else(|| "(next commit)".to_owned(), |v| v.to_string())
}

fn bundle_headline(b: &BundleDiff) -> String {
    match b.action {
        None => format!("bundle {}: no changes", b.name),
        Some(Action::Create) => {
            format!("bundle {} will be created: {}", b.name, counts(&b.summary))
        }
        Some(Action::Delete) => {
            format!("bundle {} will be removed: {}", b.name, counts(&b.summary))
        }
        Some(_) => format!("bundle {}: {}", b.name, counts(&b.summary)),
    }
}

/// Version and hash of a changed bundle: `version 1793534400 -> 1793538000, sha256 …`.
fn bundle_detail(b: &BundleDiff) -> String {
    let mut s = String::new();
    if let Some(v) = &b.version {
        let show = |side_has: bool, v: Option<u64>| {
            if side_has {
                version(v)
            } else {
                "none".to_owned()
            }
        };
        let _ = write!(
            s,
            "version {} -> {}, ",
            show(b.sha256.before.is_some(), v.before),
            show(b.sha256.after.is_some(), v.after)
        );
    }
    let _ = write!(
        s,
        "sha256 {} -> {}",
        short(&b.sha256.before),
        short(&b.sha256.after)
    );
    s
}

fn bundle_lines(b: &BundleDiff) -> Vec<Line> {
    let mut out = Vec::new();
    for r in &b.changes {
        resource_lines(r, &mut out);
        out.push(line(0, Sym::None, ""));
    }
    if let Some(m) = &b.machines {
        machine_lines(m, &mut out);
        out.push(line(0, Sym::None, ""));
    }
    while out.last().is_some_and(|l| l.text.is_empty()) {
        out.pop();
    }
    out
}

/// An earlier changed bundle with exactly the same changes (bundles of several tracks often
/// change alike): its name, so the change is shown once.
fn same_as_earlier(d: &Diff, i: usize) -> Option<&str> {
    let b = &d.bundles[i];
    d.bundles[..i]
        .iter()
        .find(|e| e.action == b.action && e.action.is_some() && e.changes == b.changes)
        .map(|e| e.name.as_str())
}

fn no_changes(d: &Diff) -> String {
    let names: Vec<&str> = d.bundles.iter().map(|b| b.name.as_str()).collect();
    format!(
        "No changes. {} and {} compile to identical bundles ({}).",
        d.base.label(),
        d.head.label(),
        names.join(", ")
    )
}

/// Terraform-like text: `+` create, `~` update, `-/+` replace, `-` remove; unchanged keys
/// folded; a summary line. `styled` colours the symbols with ANSI escapes.
pub fn human(d: &Diff, styled: bool) -> String {
    let mut s = format!("mmc diff: {} -> {}\n\n", d.base.label(), d.head.label());
    if !d.changed {
        s.push_str(&no_changes(d));
        s.push('\n');
        return s;
    }
    s.push_str("Symbols:  + create   ~ update   -/+ replace   - remove\n");
    for (i, b) in d.bundles.iter().enumerate() {
        let _ = writeln!(s, "\n{}", bundle_headline(b));
        if b.action.is_none() {
            continue;
        }
        let _ = writeln!(s, "  {}", bundle_detail(b));
        if let Some(same) = same_as_earlier(d, i) {
            let _ = writeln!(s, "  (the same changes as bundle {same})");
            if let Some(m) = &b.machines {
                let mut lines = Vec::new();
                machine_lines(m, &mut lines);
                s.push('\n');
                for l in lines {
                    let _ = writeln!(s, "{}", human_line(&l, styled));
                }
            }
            continue;
        }
        s.push('\n');
        for l in bundle_lines(b) {
            let _ = writeln!(s, "{}", human_line(&l, styled));
        }
    }
    let _ = writeln!(s, "\nPlan: {}.", counts(&d.summary));
    s
}

/// A fence longer than any run of backticks in `body`.
fn fence(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    "`".repeat((longest + 1).max(3))
}

fn md_side(side: &super::Side) -> String {
    match &side.commit {
        Some(c) if *c != side.revision && side.revision != side.role => {
            format!("{} `{}` (`{c}`)", side.role, side.revision)
        }
        Some(c) => format!("{} (`{c}`)", side.role),
        None => format!("{} ({})", side.role, side.revision),
    }
}

/// A pull-request comment: a summary table and a collapsible section per changed bundle. It
/// starts with [`MARKDOWN_MARKER`], so a workflow can find and update it.
pub fn markdown(d: &Diff) -> String {
    let mut s = format!("{MARKDOWN_MARKER}\n### mmc diff\n\n");
    let _ = writeln!(s, "{} → {}\n", md_side(&d.base), md_side(&d.head));
    if !d.changed {
        let names: Vec<String> = d.bundles.iter().map(|b| format!("`{}`", b.name)).collect();
        let _ = writeln!(
            s,
            "**No changes.** Both revisions compile to identical bundles ({}).",
            names.join(", ")
        );
        return s;
    }
    let _ = writeln!(s, "**Plan: {}.**\n", counts(&d.summary));
    let with_machines = d.bundles.iter().any(|b| b.machines.is_some());
    s.push_str("| bundle | version | sha256 | add | change | replace | remove |");
    s.push_str(if with_machines { " machines |\n" } else { "\n" });
    s.push_str("|---|---|---|--:|--:|--:|--:|");
    s.push_str(if with_machines { "--:|\n" } else { "\n" });
    for b in &d.bundles {
        let (ver, sha) = match b.action {
            None => (
                "unchanged".to_owned(),
                format!("`{}`", short(&b.sha256.after)),
            ),
            Some(_) => {
                let v = b.version.as_ref();
                let before = if b.sha256.before.is_some() {
                    version(v.and_then(|v| v.before))
                } else {
                    "none".to_owned()
                };
                let after = if b.sha256.after.is_some() {
                    version(v.and_then(|v| v.after))
                } else {
                    "none".to_owned()
                };
                (
                    format!("{before} → {after}"),
                    format!(
                        "`{}` → `{}`",
                        short(&b.sha256.before),
                        short(&b.sha256.after)
                    ),
                )
            }
        };
        let c = &b.summary;
        let _ = write!(
            s,
            "| {} | {ver} | {sha} | {} | {} | {} | {} |",
            b.name, c.create, c.update, c.replace, c.delete
        );
        if with_machines {
            match &b.machines {
                Some(m) => {
                    let _ = write!(s, " {} of {} |", m.changed.len(), m.total);
                }
                None => s.push_str(" – |"),
            }
        }
        s.push('\n');
    }
    s.push('\n');
    let mut omitted = Vec::new();
    for (i, b) in d.bundles.iter().enumerate() {
        if b.action.is_none() {
            continue;
        }
        let body: String = match same_as_earlier(d, i) {
            Some(same) => {
                let mut lines = vec![line(
                    0,
                    Sym::Comment,
                    format!("the same changes as bundle {same}"),
                )];
                if let Some(m) = &b.machines {
                    lines.push(line(0, Sym::None, ""));
                    machine_lines(m, &mut lines);
                }
                lines.iter().map(|l| markdown_line(l) + "\n").collect()
            }
            None => bundle_lines(b)
                .iter()
                .map(|l| markdown_line(l) + "\n")
                .collect(),
        };
        let f = fence(&body);
        let section = format!(
            "<details><summary><b>{}</b>: {}</summary>\n\n{f}diff\n{body}{f}\n\n</details>\n\n",
            b.name,
            counts(&b.summary)
        );
        if s.len() + section.len() > MARKDOWN_BUDGET {
            omitted.push(b.name.as_str());
        } else {
            s.push_str(&section);
        }
    }
    if !omitted.is_empty() {
        let _ = writeln!(
            s,
            "The details of {} do not fit in a comment: run `mmc diff` locally, or read the workflow's log.\n",
            omitted.join(", ")
        );
    }
    s.push_str("<sub>`+` create · `~` update in place · `!` replace · `-` remove. Computed from the compiled bundles: reordered keys, comments and quoting change nothing.</sub>\n");
    s
}

/// One JSON document (`"version": 1`), pretty-printed.
pub fn json(d: &Diff) -> String {
    serde_json::to_string_pretty(d).expect("a diff serializes") + "\n"
}

/// The pull-request comment when a revision does not compile: which one, and its problems as
/// `mmc check` prints them.
pub fn markdown_error(side: &super::Side, summary: &str, diagnostics: &str) -> String {
    let f = fence(diagnostics);
    format!(
        "{MARKDOWN_MARKER}\n### mmc diff\n\n**{} does not compile** ({summary}), so there is no plan. \
The `mmc check` annotations point at the lines.\n\n<details><summary>problems</summary>\n\n{f}text\n{}\n{f}\n\n</details>\n",
        md_side(side),
        diagnostics.trim_end()
    )
}
