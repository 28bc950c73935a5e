//! A small Rust lexer that blanks out comments and string / character
//! literals, so that the tidy checks look only at code.
//!
//! The masked text has exactly the same lines and columns as the input: every
//! masked character becomes a space and newlines are kept. That way a match in
//! the masked text can be reported with the line number of the real file, and
//! text inside a string (say, a test fixture that contains `#[ignore]`) never
//! counts as code.

/// Returns `source` with comments and string, byte-string, raw-string and
/// character literals replaced by spaces (newlines kept).
pub fn mask(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = chars.clone();
    let blank = |out: &mut Vec<char>, from: usize, to: usize| {
        for c in &mut out[from..to.min(chars.len())] {
            if *c != '\n' {
                *c = ' ';
            }
        }
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        // Line comment (also `//!` and `///`).
        if c == '/' && next == Some('/') {
            let start = i;
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            blank(&mut out, start, i);
            continue;
        }
        // Block comment, nested as Rust nests them.
        if c == '/' && next == Some('*') {
            let start = i;
            let mut depth = 0usize;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            blank(&mut out, start, i);
            continue;
        }
        let prev_is_ident = i > 0 && is_ident_char(chars[i - 1]);
        // Raw strings: r"..", r#".."#, br#".."#, cr#".."#.
        if !prev_is_ident && (c == 'r' || ((c == 'b' || c == 'c') && next == Some('r'))) {
            let hashes_start = if c == 'r' { i + 1 } else { i + 2 };
            let mut j = hashes_start;
            while chars.get(j) == Some(&'#') {
                j += 1;
            }
            if chars.get(j) == Some(&'"') {
                let hashes = j - hashes_start;
                let body = j + 1;
                let mut k = body;
                while k < chars.len() {
                    if chars[k] == '"' && (0..hashes).all(|h| chars.get(k + 1 + h) == Some(&'#')) {
                        break;
                    }
                    k += 1;
                }
                blank(&mut out, body, k);
                i = k + 1 + hashes;
                continue;
            }
        }
        // Ordinary strings (for b".." and c"..", the prefix stays as code).
        if c == '"' {
            let body = i + 1;
            let mut k = body;
            while k < chars.len() && chars[k] != '"' {
                k += if chars[k] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, body, k);
            i = k + 1;
            continue;
        }
        // Character literals, told apart from lifetimes and labels.
        if c == '\'' && !prev_is_ident {
            if next == Some('\\') {
                let body = i + 1;
                let mut k = body;
                while k < chars.len() && chars[k] != '\'' {
                    k += if chars[k] == '\\' { 2 } else { 1 };
                }
                blank(&mut out, body, k);
                i = k + 1;
                continue;
            }
            if next.is_some() && chars.get(i + 2) == Some(&'\'') {
                blank(&mut out, i + 1, i + 2);
                i += 3;
                continue;
            }
        }
        i += 1;
    }
    out.into_iter().collect()
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn keeps_lines_and_columns() {
        let src = "let a = \"x\ny\"; // c\n/* b\n */ let z = 'q';\n";
        let masked = mask(src);
        assert_eq!(masked.lines().count(), src.lines().count());
        assert_eq!(masked.chars().count(), src.chars().count());
    }

    #[test]
    fn blanks_comments_and_strings_but_not_code() {
        let src = concat!(
            "unsafe { x } // unsafe {\n",
            "let s = \"#[ignore]\"; let r = r#\"unsafe { \"# ;\n",
            "/* outer /* unsafe impl */ still comment */ fn f<'a>(c: char) -> bool { c == '\\'' || c == '\"' }\n",
            "let b = br\"#[should_panic]\";\n",
        );
        let masked = mask(src);
        let lines: Vec<&str> = masked.lines().collect();
        assert!(lines[0].starts_with("unsafe { x }"));
        assert!(!lines[0][12..].contains("unsafe"));
        assert!(!lines[1].contains("ignore"));
        assert!(!lines[1].contains("unsafe"));
        assert!(!lines[2].contains("unsafe"));
        assert!(lines[2].contains("fn f<'a>(c: char) -> bool"));
        assert!(!lines[3].contains("should_panic"));
    }
}
