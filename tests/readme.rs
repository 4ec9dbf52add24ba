//! Keeps README.md honest against the code, a fresh build and the dated results it quotes.
//!
//! - **Options and variables.** Every option of pidone the README names exists in `pidone
//!   --help`, and every variable it names is in the help (or, for the test suite's own
//!   variables, read by `tests/` or `scripts/`). The other way round, every option and variable
//!   of the help is in the README or in the man page (`examples/man.rs`). Both sides are parsed
//!   for names (`--grace-period`, `-v`, `PIDONE_USER`), never for sentences, so rewording the help
//!   changes nothing here. In the README, an option is pidone's when it stands in a command line
//!   that runs pidone (under any of its names, also as a JSON `ENTRYPOINT`), or in a code span
//!   that starts with `-`: write other programs' options with their program
//!   (`docker run --init`).
//! - **Figures.** Every number with a unit of size, time or ratio in the README's text and tables
//!   (code left aside) is either the size of this build's binary (within [`SIZE_TOLERANCE`]) or
//!   quoted from a dated results file that its section links: `docs/bench/results.md` (the
//!   benchmark's table cells are compared cell by cell) or the "Measured times" of
//!   `docs/testing.md`.
//! - **Files.** Every relative link (and its `#anchor`) and every example the README names
//!   exists; the test command is the one `.ci/run` runs verbatim; the README stays within
//!   [`MAX_BYTES`] and has no TODO left.
//!
//! Each check is also run on the README with a planted mistake (a `--frobnicate` option, a
//! made-up figure, a missing example, a dead link), which it must report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The README is a front door, not a manual: the rest lives in docs/.
const MAX_BYTES: usize = 16 * 1024;

/// How far a size the README states may be from this build's binary: builds move by a few KB
/// between commits, and the README rounds.
const SIZE_TOLERANCE: f64 = 0.03;

/// The names pidone runs under (its own and its personas'), as the file name of a command.
const PIDONE_NAMES: [&str; 8] = [
    "pidone",
    "init",
    "tini",
    "tini-static",
    "docker-init",
    "dumb-init",
    "catatonit",
    "podman-init",
];

/// Commands that run another command after their own options.
const WRAPPERS: [&str; 6] = ["unshare", "sudo", "env", "exec", "setpriv", "nohup"];

/// The prefixes of the variables pidone reads.
const VARIABLE_PREFIXES: [&str; 4] = ["PIDONE_", "TINI_", "DUMB_INIT_", "CATATONIT_"];

/// The dated results files a README section may quote, by the path its links use.
const BENCH_RESULTS: &str = "docs/bench/results.md";
const TESTING: &str = "docs/testing.md";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn load(name: &str) -> String {
    let path = root().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Runs `program args`, bounded by a timeout, and returns its stdout.
fn output_of(program: &Path, args: &[&str]) -> String {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).map(|_| text)
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} {args:?} did not finish within 20 s", program.display());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{} {args:?}: {status}", program.display());
    reader.join().unwrap().unwrap()
}

fn pidone() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_pidone"))
}

/// `pidone --help`.
fn help() -> String {
    output_of(&pidone(), &["--help"])
}

/// The man page as text: `examples/man.rs`'s roff with the escapes and fonts taken out.
fn man_page() -> String {
    let man = pidone().parent().unwrap().join("examples").join("man");
    assert!(
        man.exists(),
        "example man not built at {}: build the examples first (`cargo build --release --target \
         x86_64-unknown-linux-musl --bin pidone --examples`, as scripts/test's cargo test does)",
        man.display()
    );
    output_of(&man, &[])
        .replace("\\-", "-")
        .replace("\\fB", "")
        .replace("\\fI", "")
        .replace("\\fR", "")
        .replace("\\fP", "")
        .replace("\\e", "\\")
}

// ---- Markdown, as far as these checks need it ----

/// The README split into code blocks, inline code spans and the text around them.
#[derive(Debug, Default)]
struct Markdown {
    /// Fenced code blocks, without the fences.
    blocks: Vec<String>,
    /// Inline code spans, with `\|` (a pipe escaped in a table) unescaped.
    spans: Vec<String>,
    /// Everything else, a code span replaced by a space.
    prose: String,
}

fn markdown(text: &str) -> Markdown {
    let mut md = Markdown::default();
    let mut block: Option<String> = None;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            match block.take() {
                Some(code) => md.blocks.push(code),
                None => block = Some(String::new()),
            }
            md.prose.push('\n');
            continue;
        }
        if let Some(code) = block.as_mut() {
            code.push_str(line);
            code.push('\n');
            md.prose.push('\n');
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find('`') {
            md.prose.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let Some(end) = after.find('`') else {
                md.prose.push_str(&rest[start..]);
                rest = "";
                break;
            };
            md.spans.push(after[..end].replace("\\|", "|"));
            md.prose.push(' ');
            rest = &after[end + 1..];
        }
        md.prose.push_str(rest);
        md.prose.push('\n');
    }
    md
}

/// The `## ` sections of a Markdown text: (title, body), the part before the first one titled "".
fn sections(text: &str) -> Vec<(String, String)> {
    let mut out = vec![(String::new(), String::new())];
    for line in text.lines() {
        if let Some(title) = line.strip_prefix("## ") {
            out.push((title.trim().to_string(), String::new()));
        } else {
            let body = &mut out.last_mut().unwrap().1;
            body.push_str(line);
            body.push('\n');
        }
    }
    out
}

/// The targets of the relative links `[text](target)` in a Markdown text.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("](") {
        rest = &rest[i + 2..];
        if let Some(end) = rest.find(')') {
            let target = &rest[..end];
            if !target.contains("://") && !target.starts_with("mailto:") {
                out.push(target.to_string());
            }
            rest = &rest[end..];
        }
    }
    out
}

/// GitHub's anchor for a heading: lower case, punctuation other than `-` and `_` dropped,
/// spaces turned into hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(markdown_text: &str) -> BTreeSet<String> {
    markdown_text
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| slug(l.trim_start_matches('#')))
        .collect()
}

/// The cells of a table row (`| a | b |`), trimmed; a `\|` stays inside its cell.
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    let mut out = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                out.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out.iter().map(|c| c.trim().to_string()).collect()
}

/// The tables of a Markdown text: each as its header and its data rows.
fn tables(text: &str) -> Vec<(Vec<String>, Vec<Vec<String>>)> {
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i + 1 < lines.len() {
        if lines[i].trim_start().starts_with('|') && lines[i + 1].trim_start().starts_with("|--")
            || lines[i].trim_start().starts_with('|')
                && lines[i + 1].trim_start().starts_with("| --")
        {
            let header = cells(lines[i]);
            let mut rows = Vec::new();
            let mut j = i + 2;
            while j < lines.len() && lines[j].trim_start().starts_with('|') {
                rows.push(cells(lines[j]));
                j += 1;
            }
            out.push((header, rows));
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

// ---- Options and variables ----

/// Whether `c` can be part of an option or variable name.
fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// `--long-name` tokens in `text`.
fn long_options(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i + 2 < bytes.len() {
        let starts = bytes[i] == '-'
            && bytes[i + 1] == '-'
            && bytes[i + 2].is_ascii_lowercase()
            && (i == 0 || !name_char(bytes[i - 1]));
        if starts {
            let end = (i + 2..bytes.len())
                .find(|&j| !name_char(bytes[j]))
                .unwrap_or(bytes.len());
            out.insert(bytes[i..end].iter().collect());
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

/// `-x` tokens in `text` that stand alone (between spaces, commas, brackets, quotes or stops).
fn short_options(text: &str) -> BTreeSet<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = BTreeSet::new();
    for i in 0..chars.len().saturating_sub(1) {
        let before_ok = i == 0 || !name_char(chars[i - 1]) && chars[i - 1] != '-';
        let after_ok = chars.get(i + 2).is_none_or(|&c| !name_char(c));
        if chars[i] == '-' && chars[i + 1].is_ascii_alphabetic() && before_ok && after_ok {
            out.insert(format!("-{}", chars[i + 1]));
        }
    }
    out
}

/// Variable names with one of [`VARIABLE_PREFIXES`] in `text`.
fn variables(text: &str) -> BTreeSet<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_uppercase() && (i == 0 || !name_char(chars[i - 1])) {
            let end = (i..chars.len())
                .find(|&j| {
                    !(chars[j].is_ascii_uppercase() || chars[j].is_ascii_digit() || chars[j] == '_')
                })
                .unwrap_or(chars.len());
            let word: String = chars[i..end].iter().collect();
            if VARIABLE_PREFIXES
                .iter()
                .any(|p| word.starts_with(p) && word.len() > p.len())
            {
                out.insert(word);
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

/// What `pidone --help` offers: its options, those that take a value, and its variables.
#[derive(Debug)]
struct Help {
    options: BTreeSet<String>,
    takes_value: BTreeSet<String>,
    variables: BTreeSet<String>,
}

fn parse_help(help: &str) -> Help {
    let mut options = long_options(help);
    options.extend(short_options(help));
    let mut takes_value = BTreeSet::new();
    for line in help.lines() {
        let words: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
            .collect();
        // `-p, --pdeath-signal <SIGNAL>` or `--grace-period DURATION`: an option followed by a
        // placeholder takes a value, and so does the short option on the same line.
        for (k, word) in words.iter().enumerate() {
            if !word.starts_with("--") {
                continue;
            }
            let next = words.get(k + 1).copied().unwrap_or("");
            let placeholder = next.starts_with('<')
                || word.contains('=')
                || !next.is_empty()
                    && next
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || matches!(c, '[' | ']' | ':' | '_'));
            if placeholder {
                takes_value.insert(word.split('=').next().unwrap().to_string());
                for short in words[..k]
                    .iter()
                    .filter(|w| w.len() == 2 && w.starts_with('-'))
                {
                    takes_value.insert((*short).to_string());
                }
            }
            break;
        }
    }
    Help {
        options,
        takes_value,
        variables: variables(help),
    }
}

/// The words of each shell command in `code`: lines split at `&&`, `||`, `|` and `;`, and JSON
/// arrays (`ENTRYPOINT ["/init", "--"]`) as one command each.
fn commands(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in code.lines() {
        let line = line.split(" #").next().unwrap_or(line);
        if let (Some(open), Some(close)) = (line.find("[\""), line.rfind("\"]")) {
            let inner = &line[open + 1..close + 1];
            out.push(
                inner
                    .split(',')
                    .map(|w| w.trim().trim_matches('"').to_string())
                    .collect(),
            );
            continue;
        }
        for part in line.split(['|', ';']).flat_map(|p| p.split("&&")) {
            let words: Vec<String> = part
                .split_whitespace()
                .map(|w| w.trim_matches(['"', '\'']).to_string())
                .collect();
            if !words.is_empty() {
                out.push(words);
            }
        }
    }
    out
}

fn is_pidone_program(word: &str) -> bool {
    let name = word.rsplit('/').next().unwrap_or(word);
    PIDONE_NAMES.contains(&name)
}

/// The options given to pidone in one command: after pidone's own word (possibly behind
/// [`WRAPPERS`] and their options), up to the first operand or `--`.
fn options_in_command(words: &[String], help: &Help) -> Vec<String> {
    let mut k = 0;
    while k < words.len() && !is_pidone_program(&words[k]) {
        let word = &words[k];
        let wrapper_part = word.starts_with('-')
            || word.contains('=')
            || word == "$"
            || WRAPPERS.contains(&word.rsplit('/').next().unwrap_or(word));
        if !wrapper_part {
            return Vec::new();
        }
        k += 1;
    }
    let mut out = Vec::new();
    let mut k = k + 1;
    while k < words.len() {
        let word = &words[k];
        if word == "--" || !word.starts_with('-') || word.len() < 2 {
            break;
        }
        let name = option_name(word);
        k += 1;
        let attached = word.contains('=') || !word.starts_with("--") && word.len() > 2;
        if help.takes_value.contains(&name) && !attached {
            k += 1;
        }
        out.push(name);
    }
    out
}

/// `--name=value` → `--name`; `-pTERM` → `-p`.
fn option_name(word: &str) -> String {
    if word.starts_with("--") {
        word.split('=').next().unwrap().to_string()
    } else {
        word.chars().take(2).collect()
    }
}

/// The options of pidone that a README names.
fn readme_options(readme: &str, help: &Help) -> BTreeSet<String> {
    let md = markdown(readme);
    let mut out = BTreeSet::new();
    for span in &md.spans {
        if span.starts_with('-') {
            out.extend(
                span.split_whitespace()
                    .filter(|w| w.starts_with('-') && *w != "--" && w.len() > 1)
                    .filter(|w| {
                        w.chars()
                            .nth(1)
                            .is_some_and(|c| c.is_ascii_alphabetic() || c == '-')
                    })
                    .map(option_name),
            );
        }
    }
    let code = md.blocks.iter().chain(&md.spans);
    for text in code {
        for words in commands(text) {
            out.extend(options_in_command(&words, help));
        }
    }
    out
}

/// Whether `name` occurs in `text` as a whole word.
fn mentions(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + name.len()..].chars().next();
        !before.is_some_and(name_char) && !after.is_some_and(name_char)
    })
}

/// Variables the test suite or the scripts read (`"NAME"` or `NAME=` in tests/, scripts/, .ci/).
fn suite_reads(name: &str) -> bool {
    let mut files = Vec::new();
    for dir in ["tests", "tests/common", "tests/docker", "scripts", ".ci"] {
        if let Ok(entries) = std::fs::read_dir(root().join(dir)) {
            files.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_file()));
        }
    }
    files
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "readme.rs"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .any(|text| text.contains(&format!("\"{name}\"")) || text.contains(&format!("{name}=")))
}

fn option_problems(readme: &str, help: &Help, man: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for option in readme_options(readme, help) {
        if !help.options.contains(&option) {
            problems.push(format!(
                "the README names {option}, which `pidone --help` does not have"
            ));
        }
    }
    for variable in variables(readme) {
        if !help.variables.contains(&variable) && !suite_reads(&variable) {
            problems.push(format!(
                "the README names {variable}, which neither `pidone --help` nor the test suite knows"
            ));
        }
    }
    for name in help.options.iter().chain(&help.variables) {
        if !mentions(readme, name) && !mentions(man, name) {
            problems.push(format!(
                "{name} is in `pidone --help` but neither in the README nor in the man page"
            ));
        }
    }
    problems
}

// ---- Figures ----

/// The units a figure may carry, and the factor to bytes for sizes.
const UNITS: [(&str, Option<f64>); 15] = [
    ("bytes", Some(1.0)),
    ("KiB", Some(1024.0)),
    ("kB", Some(1000.0)),
    ("KB", Some(1000.0)),
    ("MiB", Some(1_048_576.0)),
    ("MB", Some(1_000_000.0)),
    ("µs", None),
    ("us", None),
    ("ms", None),
    ("s", None),
    ("min", None),
    ("minutes", None),
    ("seconds", None),
    ("%", None),
    ("×", None),
];

/// A number with a unit: the number as written, its value and the unit.
#[derive(Debug, Clone, PartialEq)]
struct Figure {
    number: String,
    value: f64,
    unit: &'static str,
}

/// The figures in `text`: a number (digits, `,` thousands, `.` decimals) not glued to a word,
/// then at most one space, then a unit not followed by a letter.
fn figures(text: &str) -> Vec<Figure> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let glued = i > 0 && (name_char(chars[i - 1]) || matches!(chars[i - 1], '.' | '+'));
        if !chars[i].is_ascii_digit() || glued {
            i += 1;
            continue;
        }
        let mut end = i;
        while end < chars.len()
            && (chars[end].is_ascii_digit()
                || matches!(chars[end], ',' | '.')
                    && chars.get(end + 1).is_some_and(char::is_ascii_digit))
        {
            end += 1;
        }
        let number: String = chars[i..end].iter().collect();
        let mut u = end;
        if chars.get(u).is_some_and(|c| *c == ' ' || *c == '\u{a0}') {
            u += 1;
        }
        let rest: String = chars[u..chars.len().min(u + 8)].iter().collect();
        let unit = UNITS.iter().find(|(unit, _)| {
            rest.starts_with(unit)
                && !rest[unit.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphanumeric())
        });
        if let Some((unit, _)) = unit {
            out.push(Figure {
                value: number.replace(',', "").parse().unwrap_or(f64::NAN),
                number,
                unit,
            });
        }
        i = end;
    }
    out
}

/// The text of a README section that counts for figures: prose and tables, no code.
fn figure_text(section: &str) -> String {
    markdown(section).prose
}

/// Whether `number` occurs in `text` as a whole number (not inside a longer one).
fn has_number(text: &str, number: &str) -> bool {
    text.match_indices(number).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after: Vec<char> = text[i + number.len()..].chars().take(2).collect();
        let digit_after = after.first().is_some_and(char::is_ascii_digit)
            || after.first() == Some(&'.') && after.get(1).is_some_and(char::is_ascii_digit);
        !before.is_some_and(|c| c.is_ascii_digit() || c == '.') && !digit_after
    })
}

/// The first `YYYY-MM-DD` in `text`.
fn first_date(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    (0..chars.len().saturating_sub(9)).find_map(|i| {
        let candidate: String = chars[i..i + 10].iter().collect();
        let shape = candidate.char_indices().all(|(k, c)| match k {
            4 | 7 => c == '-',
            _ => c.is_ascii_digit(),
        });
        shape.then_some(candidate)
    })
}

/// The dated sources figures may be quoted from: path as linked, its quotable text, its date.
struct Source {
    link: &'static str,
    text: String,
    date: String,
}

fn sources() -> Vec<Source> {
    let results = load(BENCH_RESULTS);
    let results_date = first_date(
        results
            .lines()
            .take(5)
            .collect::<Vec<_>>()
            .join("\n")
            .as_str(),
    )
    .expect("docs/bench/results.md names its date in its first lines");
    let testing = load(TESTING);
    let measured = sections(&testing)
        .into_iter()
        .find(|(title, _)| title == "Measured times")
        .expect("docs/testing.md has a section \"Measured times\"")
        .1;
    let testing_date =
        first_date(&measured).expect("docs/testing.md's measured times name their date");
    vec![
        Source {
            link: BENCH_RESULTS,
            text: results,
            date: results_date,
        },
        Source {
            link: TESTING,
            text: measured,
            date: testing_date,
        },
    ]
}

/// The size of this build's binary, in bytes.
fn binary_size() -> f64 {
    // The README's sizes are those of the release build (stripped, optimised for size).
    if cfg!(debug_assertions) {
        panic!("the README's sizes are those of the release build: run this test with --release");
    }
    std::fs::metadata(pidone()).unwrap().len() as f64
}

/// What comparing a section's tables with the results found.
struct TableCheck {
    /// Rows that quote the results table.
    quoted: usize,
    problems: Vec<String>,
}

/// Checks the rows of a section's tables that name a metric of the results table, cell by cell,
/// against the same row and columns there.
fn table_problems(section: &str, results: &str) -> TableCheck {
    let theirs = tables(results);
    let mut problems = Vec::new();
    let mut quoted = 0;
    for (header, rows) in tables(section) {
        for row in rows {
            let metric = row[0].replace("**", "");
            let Some((their_header, their_row)) = theirs.iter().find_map(|(h, rs)| {
                rs.iter()
                    .find(|r| r[0].replace("**", "") == metric)
                    .map(|r| (h, r))
            }) else {
                // Not a quote of the results table (e.g. a comparison table): its figures are
                // checked one by one instead.
                continue;
            };
            quoted += 1;
            for (column, cell) in header.iter().zip(&row).skip(1) {
                let column = column.replace("**", "");
                let Some(k) = their_header
                    .iter()
                    .position(|h| h.replace("**", "") == column)
                else {
                    problems.push(format!("column {column:?} is not in {BENCH_RESULTS}"));
                    continue;
                };
                let ours = cell
                    .replace("**", "")
                    .trim_end_matches('†')
                    .trim()
                    .to_string();
                let full = their_row
                    .get(k)
                    .map(|c| c.replace("**", ""))
                    .unwrap_or_default();
                let lead = full.split(" (").next().unwrap_or("").trim().to_string();
                if ours != lead {
                    problems.push(format!(
                        "{metric:?}, {column}: the README says {ours:?}, {BENCH_RESULTS} says {full:?}"
                    ));
                }
            }
        }
    }
    TableCheck { quoted, problems }
}

fn figure_problems(readme: &str, sources: &[Source], size: f64) -> Vec<String> {
    let mut problems = Vec::new();
    for (title, body) in sections(readme) {
        let linked: Vec<&Source> = sources
            .iter()
            .filter(|s| {
                links(&body)
                    .iter()
                    .any(|l| l.split('#').next() == Some(s.link))
            })
            .collect();
        let mut quoting: BTreeSet<&str> = BTreeSet::new();
        for source in &linked {
            if source.link == BENCH_RESULTS {
                let table = table_problems(&body, &source.text);
                if table.quoted > 0 {
                    quoting.insert(source.link);
                }
                problems.extend(table.problems);
            }
        }
        // Rows of a table quoted from the results are checked above, cell by cell.
        let metrics: BTreeSet<String> = linked
            .iter()
            .filter(|s| s.link == BENCH_RESULTS)
            .flat_map(|s| tables(&s.text))
            .flat_map(|(_, rows)| rows)
            .map(|row| row[0].replace("**", ""))
            .collect();
        let unquoted: String = body
            .lines()
            .filter(|l| {
                !(l.trim_start().starts_with('|')
                    && metrics.contains(&cells(l)[0].replace("**", "")))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let text = figure_text(&unquoted);
        for figure in figures(&text) {
            let as_size = UNITS
                .iter()
                .find(|(u, _)| *u == figure.unit)
                .and_then(|(_, factor)| *factor)
                .map(|factor| figure.value * factor);
            if as_size.is_some_and(|bytes| (bytes - size).abs() <= size * SIZE_TOLERANCE) {
                continue;
            }
            let quoted = linked.iter().find(|s| {
                if s.link == TESTING {
                    s.text
                        .contains(&format!("{} {}", figure.number, figure.unit))
                } else {
                    has_number(&s.text, &figure.number)
                }
            });
            if let Some(source) = quoted {
                quoting.insert(source.link);
                continue;
            }
            problems.push(format!(
                "section {title:?}: {} {} is neither this build's size ({size} bytes, ±{}%) \
                     nor quoted from a dated results file the section links ({BENCH_RESULTS}, \
                     {TESTING})",
                figure.number,
                figure.unit,
                SIZE_TOLERANCE * 100.0
            ));
        }
        for source in sources.iter().filter(|s| quoting.contains(s.link)) {
            if !body.contains(&source.date) {
                problems.push(format!(
                    "section {title:?} quotes {} but does not name its date {}",
                    source.link, source.date
                ));
            }
        }
    }
    problems
}

// ---- Files ----

fn file_problems(readme: &str, from: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for target in links(readme) {
        let (path, anchor) = target.split_once('#').unwrap_or((&target, ""));
        let text = if path.is_empty() {
            Some(readme.to_string())
        } else {
            let file = from.join(path);
            if !file.exists() {
                problems.push(format!(
                    "link to {target}: {} does not exist",
                    file.display()
                ));
                continue;
            }
            std::fs::read_to_string(&file).ok()
        };
        if !anchor.is_empty()
            && let Some(text) = text
            && !anchors(&text).contains(anchor)
        {
            problems.push(format!(
                "link to {target}: no heading with the anchor #{anchor}"
            ));
        }
    }
    // Examples: `examples/NAME`, `release/examples/NAME`, `--example NAME`.
    let mut names = BTreeSet::new();
    for (i, _) in readme.match_indices("examples/") {
        let name: String = readme[i + "examples/".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            names.insert(name);
        }
    }
    for (i, _) in readme.match_indices("--example ") {
        let name: String = readme[i + "--example ".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        names.insert(name);
    }
    for name in names {
        let dir = from.join("examples");
        if !dir.join(format!("{name}.rs")).is_file() && !dir.join(&name).is_dir() {
            problems.push(format!(
                "the README names the example {name}, which examples/ does not have"
            ));
        }
    }
    problems
}

fn readme() -> String {
    load("README.md")
}

// ---- The checks ----

#[test]
fn every_option_and_variable_matches_the_help_and_the_man_page() {
    let help_text = help();
    let help = parse_help(&help_text);
    assert!(
        help.options.len() > 20 && help.variables.len() > 10 && help.takes_value.len() > 5,
        "the help parser found too little; was the help's layout changed beyond names? {help:?}"
    );
    let man = man_page();
    let readme = readme();
    let problems = option_problems(&readme, &help, &man);
    assert!(problems.is_empty(), "README.md:\n{}", problems.join("\n"));
    let named = readme_options(&readme, &help);
    println!(
        "the README names {} options of pidone and {} variables; the help has {} options and {} variables",
        named.len(),
        variables(&readme).len(),
        help.options.len(),
        help.variables.len()
    );

    // Control: a made-up option in a table, a command line and a JSON ENTRYPOINT is reported.
    for planted in [
        "\n| `--frobnicate` | | nothing |\n",
        "\n```sh\npidone --frobnicate -- true\n```\n",
        "\n```dockerfile\nENTRYPOINT [\"/init\", \"--frobnicate\", \"--\"]\n```\n",
    ] {
        let problems = option_problems(&format!("{readme}{planted}"), &help, &man);
        assert!(
            problems.iter().any(|p| p.contains("--frobnicate")),
            "a planted {planted:?} was not reported: {problems:?}"
        );
    }
    let problems = option_problems(
        &format!("{readme}\nSet `PIDONE_FROBNICATE=1`.\n"),
        &help,
        &man,
    );
    assert!(
        problems.iter().any(|p| p.contains("PIDONE_FROBNICATE")),
        "a planted variable was not reported: {problems:?}"
    );
    // Control: an option of the help that neither document mentions is reported.
    let mut more = parse_help(&help_text);
    more.options.insert("--frobnicate".into());
    let problems = option_problems(&readme, &more, &man);
    assert!(
        problems.iter().any(|p| p.contains("--frobnicate")),
        "an undocumented option of the help was not reported: {problems:?}"
    );
}

#[test]
fn every_figure_is_this_builds_or_quoted_from_a_dated_results_file() {
    let sources = sources();
    let size = binary_size();
    let readme = readme();
    let problems = figure_problems(&readme, &sources, size);
    assert!(problems.is_empty(), "README.md:\n{}", problems.join("\n"));
    let all: usize = sections(&readme)
        .iter()
        .map(|(_, body)| figures(&figure_text(body)).len())
        .sum();
    println!(
        "{all} figures in the README, each this build's size ({size} bytes) or quoted from {} ({}) or {} ({})",
        sources[0].link, sources[0].date, sources[1].link, sources[1].date
    );

    // Controls: a size that is not this build's, a time no results file has, a table cell that
    // differs from the results.
    for (planted, needle) in [
        ("\n\nThe binary is 1234 KiB.\n", "1234 KiB"),
        ("\n\n## Building and testing\n\nIt took 4321 s.\n", "4321 s"),
    ] {
        let problems = figure_problems(&format!("{readme}{planted}"), &sources, size);
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "a planted {needle:?} was not reported: {problems:?}"
        );
    }
    let row = readme
        .lines()
        .find(|l| l.starts_with("| Idle memory, VmRSS |"))
        .expect("the performance table has the VmRSS row");
    // pidone's cell, the row's last (`**760**`), changed to a value no results file has.
    let cell = row.rsplit('|').nth(1).expect("a last cell").trim();
    let changed = readme.replace(row, &row.replace(cell, "**9876**"));
    let problems = figure_problems(&changed, &sources, size);
    assert!(
        problems.iter().any(|p| p.contains("9876")),
        "a changed table cell was not reported: {problems:?}"
    );
}

#[test]
fn links_examples_and_commands_exist() {
    let readme = readme();
    let problems = file_problems(&readme, root());
    assert!(problems.is_empty(), "README.md:\n{}", problems.join("\n"));

    // Controls: a dead link, a missing anchor and a missing example are reported.
    for (planted, needle) in [
        ("\n[gone](docs/gone.md)\n", "docs/gone.md"),
        ("\n[gone](#no-such-heading)\n", "no-such-heading"),
        ("\nRun `examples/frobnicate`.\n", "frobnicate"),
    ] {
        let problems = file_problems(&format!("{readme}{planted}"), root());
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "a planted {needle:?} was not reported: {problems:?}"
        );
    }

    // The test command is the one .ci/run runs verbatim, on a line of its own.
    let ci = load(".ci/run");
    let test_command = ci
        .lines()
        .find(|l| !l.trim_start().starts_with('#') && l.contains("scripts/test"))
        .expect(".ci/run runs scripts/test")
        .trim();
    assert!(
        readme.lines().any(|l| l.trim() == test_command),
        "README.md must show .ci/run's test command `{test_command}` on a line of its own"
    );
    // The quick start needs only the plain set-up level.
    let quick = readme
        .lines()
        .find(|l| l.contains("examples/zombie_factory"))
        .expect("the README has the quick start");
    assert!(
        quick.starts_with("scripts/setup &&"),
        "the quick start installs with plain scripts/setup: {quick}"
    );
}

#[test]
fn the_readme_is_short_and_finished() {
    let readme = readme();
    assert!(
        readme.len() <= MAX_BYTES,
        "README.md has {} bytes; at most {MAX_BYTES}: move details to docs/",
        readme.len()
    );
    assert!(!readme.contains("TODO"), "README.md still has a TODO");
    // The first screen: what it is and the three Dockerfile lines.
    let head: String = readme.lines().take(20).collect::<Vec<_>>().join("\n");
    for line in [
        "COPY pidone /init",
        "ENTRYPOINT [\"/init\", \"--\"]",
        "CMD [",
    ] {
        assert!(
            head.contains(line),
            "the README's first screen lacks `{line}`"
        );
    }
    println!("README.md: {} bytes", readme.len());
}

#[test]
fn parsers_find_what_they_should() {
    let help = parse_help(
        "Options:\n  -p, --pdeath-signal <SIGNAL>  signal\n  -v, --verbose  more (= --forward-to group)\n      \
         --grace-period DURATION  kill [env: PIDONE_GRACE_PERIOD]\n  TINI_SUBREAPER  set (any value) = -s\n\
         0 for -h, -V, -l.\n",
    );
    for o in [
        "-p",
        "--pdeath-signal",
        "-v",
        "--verbose",
        "--forward-to",
        "--grace-period",
        "-s",
        "-h",
        "-V",
        "-l",
    ] {
        assert!(help.options.contains(o), "{o} in {help:?}");
    }
    assert!(!help.options.contains("-0"));
    for o in ["-p", "--pdeath-signal", "--grace-period"] {
        assert!(help.takes_value.contains(o), "{o} takes a value: {help:?}");
    }
    assert!(!help.takes_value.contains("--verbose"));
    assert_eq!(
        help.variables,
        BTreeSet::from([
            "PIDONE_GRACE_PERIOD".to_string(),
            "TINI_SUBREAPER".to_string()
        ])
    );

    let words = |s: &str| commands(s);
    let opts = |s: &str| -> Vec<Vec<String>> {
        words(s)
            .iter()
            .map(|w| options_in_command(w, &help))
            .collect()
    };
    assert_eq!(
        opts("unshare --pid --fork target/release/pidone -v --grace-period 8s -p TERM -- app -x"),
        [vec!["-v", "--grace-period", "-p"]]
    );
    assert_eq!(
        opts("ENTRYPOINT [\"/init\", \"-vpTERM\", \"--\"]"),
        [vec!["-v"]]
    );
    assert_eq!(opts("docker run --init img"), [Vec::<String>::new()]);
    assert_eq!(
        opts("podman run --init-path /usr/bin/pidone img"),
        [Vec::<String>::new()]
    );
    assert_eq!(opts("make && tini -s -- x"), [vec![], vec!["-s"]]);

    let md = markdown("a `--x` b\n```sh\ncode 5 s\n```\n| `a\\|b` | 3 ms |\n");
    assert_eq!(md.spans, ["--x", "a|b"]);
    assert_eq!(md.blocks, ["code 5 s\n"]);
    assert_eq!(
        figures(&md.prose),
        [Figure {
            number: "3".into(),
            value: 3.0,
            unit: "ms"
        }]
    );
    let found: Vec<String> =
        figures("about 710 KiB, 1,234 bytes, 0.96× and 5 % in x86_64 v1.2 s 8s")
            .iter()
            .map(|f| format!("{} {}", f.number, f.unit))
            .collect();
    assert_eq!(found, ["710 KiB", "1,234 bytes", "0.96 ×", "5 %", "8 s"]);
    assert!(figures("2026-12-03 and 128+N and SIGRTMIN+3 s").is_empty());
    assert!(has_number("a 708.6 b", "708.6") && !has_number("a 1708.6 b", "708.6"));
    assert!(!has_number("a 708.65 b", "708.6"));
    assert_eq!(
        first_date("run of 2026-12-03 15:09").as_deref(),
        Some("2026-12-03")
    );
    assert_eq!(slug("Why `#![no_main]`"), "why-no_main");
    assert_eq!(
        slug("Compared with tini, dumb-init"),
        "compared-with-tini-dumb-init"
    );
    assert_eq!(cells("| a | `b\\|c` | d |"), ["a", "`b|c`", "d"]);
    assert!(mentions("use -v, not -vv", "-v") && !mentions("-vv only", "-v"));
}
