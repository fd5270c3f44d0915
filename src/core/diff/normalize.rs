//! Expression texts that PostgreSQL renders differently once its own rendering is parsed
//! again. `status IN ('a', 'b')` on a varchar column is stored and shown as
//! `(ARRAY['a'::character varying, 'b'::character varying])::text[]`; executing that text
//! yields `ARRAY[('a'::character varying)::text, ('b'::character varying)::text]`. Both
//! mean the same: comparisons use the second (the fixpoint) form, so a constraint recreated
//! from the server's text is not seen as changed.

/// The fixpoint form of an expression text (see the module header).
pub fn canonical_expression(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("(ARRAY[") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "(ARRAY[".len()..];
        if let Some((rewritten, used)) = rewrite_array_cast(after) {
            out.push_str(&rewritten);
            rest = &after[used..];
        } else {
            out.push_str("(ARRAY[");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// `e1, e2])::T[]...` -> (`ARRAY[(e1)::T, (e2)::T]`, bytes consumed), when every element
/// is itself a cast (`'x'::character varying`).
fn rewrite_array_cast(s: &str) -> Option<(String, usize)> {
    let (elements, close) = split_top_level(s)?;
    let tail = s[close..].strip_prefix("])::")?;
    let type_len = tail.find("[]")?;
    let ty = &tail[..type_len];
    if ty.is_empty() || ty.contains([',', '(', ')', '[', ' ']) && !ty.starts_with("character") {
        return None;
    }
    if elements.is_empty() || !elements.iter().all(|e| e.contains("::")) {
        return None;
    }
    let items: Vec<String> = elements
        .iter()
        .map(|e| format!("({})::{ty}", canonical_expression(e)))
        .collect();
    let used = close + "])::".len() + type_len + "[]".len();
    Some((format!("ARRAY[{}]", items.join(", ")), used))
}

/// Elements of an array literal body up to its closing `]` (quotes and nesting respected),
/// and the index of that `]`.
fn split_top_level(s: &str) -> Option<(Vec<&str>, usize)> {
    let mut depth = 0i32;
    let mut quoted = false;
    let mut start = 0;
    let mut elements = Vec::new();
    for (i, c) in s.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            _ if quoted => {}
            '(' | '[' => depth += 1,
            ')' | ']' if depth > 0 => depth -= 1,
            ']' => {
                elements.push(s[start..i].trim());
                return Some((elements, i));
            }
            ')' => return None,
            ',' if depth == 0 => {
                elements.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_expression_pushes_array_cast_into_elements() {
        assert_eq!(
            canonical_expression(
                "CHECK (((status)::text = ANY ((ARRAY['new'::character varying, 'paid'::character varying])::text[])))"
            ),
            "CHECK (((status)::text = ANY (ARRAY[('new'::character varying)::text, ('paid'::character varying)::text])))"
        );
    }

    #[test]
    fn canonical_expression_keeps_fixpoint_and_other_text() {
        let fixpoint = "CHECK (((status)::text = ANY (ARRAY[('new'::character varying)::text])))";
        assert_eq!(canonical_expression(fixpoint), fixpoint);
        assert_eq!(canonical_expression("CHECK ((a > 0))"), "CHECK ((a > 0))");
        assert_eq!(
            canonical_expression("CHECK ((x = ANY (ARRAY['a'::text, 'b'::text])))"),
            "CHECK ((x = ANY (ARRAY['a'::text, 'b'::text])))"
        );
    }

    #[test]
    fn canonical_expression_respects_quotes() {
        let text = "CHECK ((s)::text = ANY ((ARRAY['a, ])'::character varying])::text[]))";
        assert_eq!(
            canonical_expression(text),
            "CHECK ((s)::text = ANY (ARRAY[('a, ])'::character varying)::text]))"
        );
    }
}
