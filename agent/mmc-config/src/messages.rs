//! The placeholder notation of update messages (see [`crate::UpdateMessages`]), shared by the
//! agent, which renders prompts, and the compiler, which renders Nudge's texts.

/// Replaces each placeholder of `pairs` (e.g. `("%HOURS%", "12")`) in one left-to-right pass:
/// a replaced value is never read again for placeholders.
pub fn substitute(text: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while let Some(at) = rest.find('%') {
        for (name, value) in pairs {
            if rest[at..].starts_with(name) {
                out.push_str(&rest[..at]);
                out.push_str(value);
                rest = &rest[at + name.len()..];
                continue 'scan;
            }
        }
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out
}

/// Keeps (`keep`) or drops every `[name]…[/name]` section of `text`, removing the markers.
pub fn section(text: &str, name: &str, keep: bool) -> String {
    let open = format!("[{name}]");
    let close = format!("[/{name}]");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else {
            break;
        };
        out.push_str(&rest[..start]);
        if keep {
            out.push_str(&after[..end]);
        }
        rest = &after[end + close.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_once() {
        let pairs = [("%HOURS%", "%HOURS%"), ("%SUPPORT%", "help")];
        assert_eq!(
            substitute("%HOURS%h, %SUPPORT% 100%", &pairs),
            "%HOURS%h, help 100%"
        );
    }

    #[test]
    fn sections_are_kept_or_dropped() {
        let text = "a[restart] b[/restart] c[restart]d";
        assert_eq!(section(text, "restart", true), "a b c[restart]d");
        assert_eq!(section(text, "restart", false), "a c[restart]d");
    }
}
