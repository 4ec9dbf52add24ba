//! Checks `Dockerfile.example` without Docker (no base image can be pulled here): every
//! instruction is a real Dockerfile instruction, there is a `builder` stage and a final stage,
//! the final stage runs pidone as `/init` through an exec-form `ENTRYPOINT ["/init", "--"]`, its
//! build command is the README's, its comments say that the builder needs a registry and show the
//! offline route through this version's release image, and `.dockerignore` keeps `target/` and
//! `.git` out of the build context. `tests/docker.rs` builds the final stage for real.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::Path;

/// The build command the README and the Dockerfile must share.
const BUILD: &str = "cargo build --release --target x86_64-unknown-linux-musl";

/// Where that command leaves pidone, relative to the build directory.
const ARTIFACT: &str = "target/x86_64-unknown-linux-musl/release/pidone";

/// Every instruction the Dockerfile reference knows.
const KNOWN: [&str; 18] = [
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// One instruction: keyword (upper case), arguments, and the line it starts on.
#[derive(Debug, Clone)]
struct Instruction {
    keyword: String,
    args: String,
    line: usize,
}

/// A build stage: its `FROM` arguments, its name (`AS name`), its instructions.
#[derive(Debug)]
struct Stage {
    image: String,
    name: Option<String>,
    body: Vec<Instruction>,
}

/// A parsed Dockerfile: instructions in order, and the comment text.
#[derive(Debug)]
struct Dockerfile {
    instructions: Vec<Instruction>,
    comments: String,
}

/// Splits a Dockerfile into instructions, joining `\` continuations and dropping comments
/// (also inside continuations, as Docker does). Unknown instructions are errors.
fn parse(text: &str) -> Result<Dockerfile, String> {
    let mut instructions = Vec::new();
    let mut comments = String::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(comment) = line.strip_prefix('#') {
            if pending.is_none()
                && i == 0
                && comment.trim_start().to_lowercase().starts_with("syntax=")
            {
                return Err("a `# syntax=` directive makes BuildKit pull a frontend image".into());
            }
            comments.push_str(comment.trim());
            comments.push('\n');
            continue;
        }
        if line.is_empty() && pending.is_none() {
            continue;
        }
        let (start, mut joined) = pending.take().unwrap_or((i + 1, String::new()));
        if let Some(head) = line.strip_suffix('\\') {
            joined.push_str(head.trim_end());
            joined.push(' ');
            pending = Some((start, joined));
            continue;
        }
        joined.push_str(line);
        let (keyword, args) = joined
            .split_once(char::is_whitespace)
            .map_or((joined.as_str(), ""), |(k, a)| (k, a.trim()));
        let keyword = keyword.to_ascii_uppercase();
        if !KNOWN.contains(&keyword.as_str()) {
            return Err(format!("line {start}: unknown instruction {keyword:?}"));
        }
        if args.is_empty() {
            return Err(format!("line {start}: {keyword} without arguments"));
        }
        instructions.push(Instruction {
            keyword,
            args: args.to_string(),
            line: start,
        });
    }
    if let Some((start, _)) = pending {
        return Err(format!(
            "line {start}: continuation runs past the end of the file"
        ));
    }
    Ok(Dockerfile {
        instructions,
        comments,
    })
}

impl Dockerfile {
    /// The build stages; an error if anything but ARG comes before the first FROM.
    fn stages(&self) -> Result<Vec<Stage>, String> {
        let mut stages: Vec<Stage> = Vec::new();
        for ins in &self.instructions {
            if ins.keyword == "FROM" {
                let words: Vec<&str> = ins
                    .args
                    .split_whitespace()
                    .filter(|w| !w.starts_with("--"))
                    .collect();
                let (image, name) = match words.as_slice() {
                    [image] => (*image, None),
                    [image, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => {
                        (*image, Some((*name).to_string()))
                    }
                    _ => return Err(format!("line {}: bad FROM {:?}", ins.line, ins.args)),
                };
                stages.push(Stage {
                    image: image.to_string(),
                    name,
                    body: Vec::new(),
                });
            } else if let Some(stage) = stages.last_mut() {
                stage.body.push(ins.clone());
            } else if ins.keyword != "ARG" {
                return Err(format!(
                    "line {}: {} before the first FROM",
                    ins.line, ins.keyword
                ));
            }
        }
        Ok(stages)
    }

    /// Every shell command of every RUN instruction, split at `&&` and trimmed.
    fn run_commands(&self) -> Vec<String> {
        self.instructions
            .iter()
            .filter(|i| i.keyword == "RUN" && !i.args.starts_with('['))
            .flat_map(|i| i.args.split("&&").map(normalize).collect::<Vec<_>>())
            .collect()
    }
}

impl Stage {
    /// The instructions with this keyword.
    fn all(&self, keyword: &str) -> Vec<&Instruction> {
        self.body.iter().filter(|i| i.keyword == keyword).collect()
    }
}

/// Collapses runs of whitespace to one space.
fn normalize(command: &str) -> String {
    command.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parses a JSON array of strings (the exec form), or `None` if it is not one.
fn json_strings(text: &str) -> Option<Vec<String>> {
    let mut chars = text.trim().chars().peekable();
    let mut items = Vec::new();
    if chars.next()? != '[' {
        return None;
    }
    let skip_ws = |chars: &mut std::iter::Peekable<std::str::Chars>| {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
    };
    skip_ws(&mut chars);
    if chars.peek() == Some(&']') {
        chars.next();
    } else {
        loop {
            skip_ws(&mut chars);
            if chars.next()? != '"' {
                return None;
            }
            let mut item = String::new();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => match chars.next()? {
                        'n' => item.push('\n'),
                        't' => item.push('\t'),
                        'r' => item.push('\r'),
                        'b' => item.push('\u{8}'),
                        'f' => item.push('\u{c}'),
                        'u' => {
                            let hex: String = (0..4).filter_map(|_| chars.next()).collect();
                            item.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                        }
                        c @ ('"' | '\\' | '/') => item.push(c),
                        _ => return None,
                    },
                    c => item.push(c),
                }
            }
            items.push(item);
            skip_ws(&mut chars);
            match chars.next()? {
                ',' => continue,
                ']' => break,
                _ => return None,
            }
        }
    }
    skip_ws(&mut chars);
    chars.next().is_none().then_some(items)
}

/// The shell commands in README.md that contain [`BUILD`], with prompts and comments removed.
fn readme_build_commands(readme: &str) -> Vec<String> {
    readme
        .lines()
        .filter(|l| l.contains(BUILD))
        .map(|l| {
            let l = l.trim().trim_start_matches('$').trim_start_matches('`');
            let l = l.split(" #").next().unwrap_or(l);
            normalize(l.trim_end_matches('`'))
        })
        .collect()
}

fn load(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn example() -> Dockerfile {
    parse(&load("Dockerfile.example")).unwrap_or_else(|e| panic!("Dockerfile.example: {e}"))
}

#[test]
fn every_instruction_is_known_and_stages_are_builder_then_final() {
    let file = example();
    let stages = file.stages().unwrap();
    assert!(
        stages.len() >= 2,
        "want a builder and a final stage: {stages:?}"
    );
    let builder = stages
        .iter()
        .find(|s| {
            s.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case("builder"))
        })
        .expect("a stage `FROM ... AS builder`");
    assert!(
        builder.image.starts_with("rust:"),
        "the builder should be a Rust image, not {:?}",
        builder.image
    );
    let last = stages.last().unwrap();
    assert!(
        !last
            .name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case("builder")),
        "the final stage must not be the builder"
    );
    println!(
        "stages: {}",
        stages
            .iter()
            .map(|s| format!("{} AS {}", s.image, s.name.as_deref().unwrap_or("(final)")))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

#[test]
fn final_stage_runs_pidone_as_init_in_exec_form() {
    let stages = example().stages().unwrap();
    let last = stages.last().unwrap();

    let entrypoints = last.all("ENTRYPOINT");
    assert_eq!(entrypoints.len(), 1, "one ENTRYPOINT in the final stage");
    let entrypoint = json_strings(&entrypoints[0].args).unwrap_or_else(|| {
        panic!(
            "ENTRYPOINT must be exec form (JSON): {:?}",
            entrypoints[0].args
        )
    });
    assert_eq!(entrypoint, ["/init", "--"]);

    let cmds = last.all("CMD");
    assert_eq!(cmds.len(), 1, "one CMD (the app) in the final stage");
    let cmd = json_strings(&cmds[0].args)
        .unwrap_or_else(|| panic!("CMD must be exec form (JSON): {:?}", cmds[0].args));
    assert!(!cmd.is_empty() && cmd[0].starts_with('/'), "CMD: {cmd:?}");

    let init_copy = last
        .all("COPY")
        .into_iter()
        .find(|c| c.args.split_whitespace().last() == Some("/init"))
        .expect("COPY ... /init in the final stage");
    let words: Vec<&str> = init_copy.args.split_whitespace().collect();
    assert!(
        words.contains(&"--from=builder"),
        "/init comes from the builder: {:?}",
        init_copy.args
    );
    assert!(
        words.iter().any(|w| w.ends_with(ARTIFACT)),
        "/init is the output of `{BUILD}` ({ARTIFACT}): {:?}",
        init_copy.args
    );

    let stop = last.all("STOPSIGNAL");
    assert_eq!(stop.len(), 1, "STOPSIGNAL in the final stage");
    assert_eq!(stop[0].args, "SIGTERM");
    let user = last.all("USER");
    assert_eq!(user.len(), 1, "the final stage runs as a non-root USER");
    assert!(
        !["0", "root"].contains(&user[0].args.split(':').next().unwrap_or_default()),
        "USER must not be root: {:?}",
        user[0].args
    );
}

#[test]
fn comments_cover_stop_timeout_healthcheck_and_non_root() {
    let file = example();
    for needle in [
        "STOPSIGNAL",
        "--grace-period",
        "docker stop -t",
        "HEALTHCHECK",
        "non-root",
        "--user",
        "Exec form",
        "rust:1-alpine",
        "registry",
        ".dockerignore",
    ] {
        assert!(
            file.comments.contains(needle),
            "Dockerfile.example comments should explain {needle:?}"
        );
    }
}

#[test]
fn build_command_matches_the_readme() {
    let file = example();
    let runs = file.run_commands();
    let docker_build: Vec<&String> = runs
        .iter()
        .filter(|c| c.starts_with(BUILD) && !c.contains("--example"))
        .collect();
    assert_eq!(
        docker_build,
        [BUILD],
        "Dockerfile.example must build pidone with exactly `{BUILD}`; RUN commands: {runs:?}"
    );
    let readme = load("README.md");
    let readme_cmds = readme_build_commands(&readme);
    assert!(
        readme_cmds.iter().any(|c| c == BUILD),
        "README.md must show the build command `{BUILD}` on a line of its own, as \
         Dockerfile.example runs it; README lines with it: {readme_cmds:?}"
    );
}

#[test]
fn offline_route_names_this_versions_release_image() {
    let version = env!("CARGO_PKG_VERSION");
    let comments = example().comments;
    for needle in [
        format!("docker load -i pidone-{version}-image.tar"),
        format!("Loaded image: pidone:{version}"),
        format!("COPY --from=pidone:{version} /pidone /init"),
    ] {
        assert!(
            comments.contains(&needle),
            "Dockerfile.example's comments should show the offline route with `{needle}`"
        );
    }
    // The tar name is the one scripts/release writes.
    let release = load("scripts/release");
    assert!(
        release.contains("-image.tar"),
        "scripts/release no longer writes a *-image.tar"
    );
}

/// The `docker build` command lines for Dockerfile.example in `text` (comment marks and prompts
/// removed, whitespace collapsed).
fn docker_build_commands(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            l.trim()
                .trim_start_matches('#')
                .trim()
                .trim_start_matches('$')
        })
        .filter(|l| l.contains("docker build") && l.contains("Dockerfile.example"))
        .map(|l| normalize(l.split(" #").next().unwrap_or(l).trim_matches('`')))
        .collect()
}

/// Whether a `.dockerignore` pattern list leaves out the top-level entry `name` (exact names and
/// the `name/`, `/name` and `name/**` spellings; Docker anchors patterns at the context's root).
fn ignores(patterns: &[&str], name: &str) -> bool {
    patterns.iter().any(|p| {
        let p = p.trim_start_matches('/');
        p == name || p.strip_suffix('/') == Some(name) || p.strip_suffix("/**") == Some(name)
    })
}

/// Bytes under `dir`, leaving out the top-level entries in `skip`; symlinks are not followed.
fn tree_size(dir: &Path, skip: &[&str]) -> u64 {
    fn walk(path: &Path) -> u64 {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return 0;
        };
        if !meta.is_dir() {
            return meta.len();
        }
        std::fs::read_dir(path)
            .map(|entries| entries.flatten().map(|e| walk(&e.path())).sum())
            .unwrap_or(0)
    }
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| !skip.contains(&e.file_name().to_string_lossy().as_ref()))
        .map(|e| walk(&e.path()))
        .sum()
}

#[test]
fn dockerignore_keeps_target_and_git_out_of_the_readmes_build_context() {
    let text = load(".dockerignore");
    let patterns: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert!(
        !patterns.iter().any(|p| p.starts_with('!')),
        "an exception in .dockerignore could bring target/ back: {patterns:?}"
    );
    for name in ["target", ".git"] {
        assert!(
            ignores(&patterns, name),
            ".dockerignore must leave out {name}: {patterns:?}"
        );
    }
    assert!(!ignores(&["targets"], "target"), "control: another name");

    // The README builds the example from the repository's root, where .dockerignore applies, with
    // the command the Dockerfile's own header gives.
    let ours = docker_build_commands(&load("Dockerfile.example"));
    assert_eq!(
        ours.len(),
        1,
        "one docker build command in Dockerfile.example: {ours:?}"
    );
    assert!(
        ours[0].ends_with(" ."),
        "the build context is the repository's root: {ours:?}"
    );
    let readme = docker_build_commands(&load("README.md"));
    assert!(
        readme.contains(&ours[0]),
        "README.md should show `{}`; it shows {readme:?}",
        ours[0]
    );

    // What the context holds with and without the file (target/ exists: this test was built).
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let with = tree_size(
        root,
        &patterns
            .iter()
            .map(|p| p.trim_matches('/'))
            .collect::<Vec<_>>(),
    );
    let without = tree_size(root, &[]);
    println!("build context: {with} bytes with .dockerignore, {without} bytes without");
    assert!(
        with < 8 << 20,
        "the build context should be the sources only (a few MB), not {with} bytes"
    );
    assert!(
        without > with,
        "control: target/ and .git add to the context"
    );
}

#[test]
fn parser_rejects_what_it_should() {
    assert!(
        parse("FROM scratch\nCOPI a /b\n").is_err(),
        "unknown instruction"
    );
    assert!(
        parse("# syntax=docker/dockerfile:1\nFROM scratch\n").is_err(),
        "syntax directive"
    );
    assert!(
        parse("FROM scratch\nRUN a \\\n").is_err(),
        "dangling continuation"
    );
    let ok = parse("ARG V=1\nFROM rust:1 AS builder\nRUN a && \\\n  # note\n  b\nFROM scratch\nENTRYPOINT [\"/init\", \"--\"]\n")
        .unwrap();
    assert_eq!(ok.run_commands(), ["a", "b"]);
    let stages = ok.stages().unwrap();
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[1].all("ENTRYPOINT").len(), 1);
    assert_eq!(json_strings(r#"["/init","--"]"#).unwrap(), ["/init", "--"]);
    assert_eq!(
        json_strings(r#"[ "a\"b", "\u0041" ]"#).unwrap(),
        ["a\"b", "A"]
    );
    assert_eq!(json_strings("[]").unwrap(), Vec::<String>::new());
    assert!(json_strings("/init --").is_none(), "shell form is not JSON");
    assert!(json_strings(r#"["/init", "--""#).is_none(), "unterminated");
    assert!(
        json_strings(r#"['/init']"#).is_none(),
        "single quotes are not JSON"
    );
    assert_eq!(
        readme_build_commands(
            "    $ cargo build --release --target x86_64-unknown-linux-musl  # static\n"
        ),
        [BUILD]
    );
    assert_eq!(
        docker_build_commands("#   docker build -f Dockerfile.example -t demo .   # builds\n"),
        ["docker build -f Dockerfile.example -t demo ."]
    );
}
