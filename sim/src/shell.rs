//! Commands the tool prints for a person to paste (replay and picture commands): each argument
//! quoted for a POSIX shell when it needs it, so that a path with a space or a `;` still works.

/// `word` as one POSIX shell word: unchanged when it holds only characters no shell treats
/// specially (`A-Z a-z 0-9 _ . / : = @ % + , -`), else in single quotes (a `'` inside written
/// `'\''`). The empty word is `''`.
pub fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./:=@%+,-".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// A file name made from `name` (a scenario's name, which is free text): every character other
/// than `A-Z a-z 0-9 _ . -` becomes `-`, so the name is one path component.
pub fn file_name_of(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    if safe.is_empty() || safe.chars().all(|c| c == '.') {
        "run".into()
    } else {
        safe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_a_shell_would_split_or_read_them() {
        assert_eq!(shell_word("scenarios/a-b_c.toml"), "scenarios/a-b_c.toml");
        assert_eq!(shell_word("my dir/x.toml"), "'my dir/x.toml'");
        assert_eq!(shell_word("it's;x"), r"'it'\''s;x'");
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("$HOME"), "'$HOME'");
    }

    #[test]
    fn file_names_are_one_safe_component() {
        assert_eq!(file_name_of("cut off/a;b"), "cut-off-a-b");
        assert_eq!(file_name_of("race-1.x"), "race-1.x");
        assert_eq!(file_name_of(".."), "run");
        assert_eq!(file_name_of(""), "run");
    }
}
