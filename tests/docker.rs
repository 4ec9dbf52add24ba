//! pidone in a real container engine, the way users run it.
//!
//! The engine here has no images and cannot pull any, so every image is built `FROM scratch`
//! from static binaries: pidone, its examples (built for musl) and Debian's static busybox. Run
//! with `cargo test --release --target x86_64-unknown-linux-musl --test docker -- --nocapture`
//! to see the measured `docker stop` times.
//!
//! Without an engine, or without static binaries, every test is skipped with a printed reason,
//! unless `PIDONE_REQUIRE_DOCKER=1` (set by `scripts/test`) makes that a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(unsafe_code)] // atexit() for image clean-up in the harness

#[path = "common/docker_version.rs"]
mod docker_version;
#[path = "docker/harness.rs"]
mod harness;
use docker_version::parse_init_version;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use harness::{Container, Engine, Env, poll};

/// How long a container may take to print its first line.
const READY: Duration = Duration::from_secs(15);

/// `docker stop` of a graceful server under pidone must return within this.
const FAST_STOP: Duration = Duration::from_secs(2);

/// Starts a container running graceful_server (`run_args`: options, image, command), waits
/// until it listens, and times `docker stop -t 10`: (time, exit code, logs).
fn stop_under(env: &Env, what: &str, run_args: &[&str]) -> (Duration, Option<i32>, String) {
    let c = Container::start(env, what, run_args);
    c.wait_log("listening on", READY);
    let took = c.stop(10);
    (took, c.exit_code(), c.logs())
}

#[test]
fn docker_stop_is_fast_under_pidone_and_waits_for_the_timeout_under_a_shell() {
    let Some(env) = harness::env("docker_stop") else {
        return;
    };
    let image = env.image.as_str();
    let (pidone, shell) = std::thread::scope(|s| {
        let pidone = s.spawn(|| {
            stop_under(
                env,
                "stop-pidone",
                &["--entrypoint", "/init", image, "--", "/app/graceful_server"],
            )
        });
        // Shell form: busybox sh is PID 1 and forwards nothing. `; true` keeps it from exec'ing
        // the server (which would make the server PID 1).
        let shell = s.spawn(|| {
            let c = Container::start(
                env,
                "stop-shell",
                &[
                    "--entrypoint",
                    "/bin/sh",
                    image,
                    "-c",
                    "/app/graceful_server; true",
                ],
            );
            c.wait_log("listening on", READY);
            let took = c.stop(2);
            (took, c.exit_code(), c.logs())
        });
        (pidone.join().unwrap(), shell.join().unwrap())
    });
    println!(
        "docker stop -t 10, graceful_server under pidone: {:.3} s, exit code {:?}",
        pidone.0.as_secs_f64(),
        pidone.1
    );
    println!(
        "docker stop -t 2, graceful_server under `sh -c` (shell-form CMD): {:.3} s, exit code {:?}",
        shell.0.as_secs_f64(),
        shell.1
    );
    assert!(
        pidone.0 < FAST_STOP,
        "under pidone docker stop took {:?}; logs:\n{}",
        pidone.0,
        pidone.2
    );
    assert_eq!(
        pidone.1,
        Some(0),
        "the server exits 0 on SIGTERM; logs:\n{}",
        pidone.2
    );
    assert!(
        pidone.2.contains("shutting down after SIGTERM"),
        "the server saw SIGTERM; logs:\n{}",
        pidone.2
    );
    assert!(
        shell.0 >= Duration::from_millis(1900),
        "a shell as PID 1 should make docker stop wait for -t 2, took {:?}; logs:\n{}",
        shell.0,
        shell.2
    );
    assert_eq!(
        shell.1,
        Some(137),
        "SIGKILLed at the timeout; logs:\n{}",
        shell.2
    );
    assert!(!shell.2.contains("received SIGTERM"), "logs:\n{}", shell.2);
}

/// Sends HUP, USR1, USR2, QUIT and finally INT with `docker kill -s` and checks the app logged
/// each and exited 0 after INT.
fn signals_reach_the_app(c: &Container) {
    c.wait_log("listening on", READY);
    for sig in ["HUP", "USR1", "USR2", "QUIT", "INT"] {
        c.kill(sig);
        c.wait_log(&format!("received SIG{sig}"), Duration::from_secs(5));
    }
    let code = c.wait_exit(Duration::from_secs(10));
    let logs = c.logs();
    assert_eq!(code, 0, "SIGINT ends the server with 0; logs:\n{logs}");
    assert!(logs.contains("shutting down after SIGINT"), "logs:\n{logs}");
}

#[test]
fn docker_kill_signals_reach_the_app() {
    let Some(env) = harness::env("docker_kill") else {
        return;
    };
    let c = Container::start(
        env,
        "kill",
        &[
            "--entrypoint",
            "/init",
            &env.image,
            "--",
            "/app/graceful_server",
        ],
    );
    signals_reach_the_app(&c);
    println!("docker kill -s HUP/USR1/USR2/QUIT/INT under pidone: all reached graceful_server");
}

#[test]
fn zombies_are_reaped_under_pidone_and_pile_up_without_an_init() {
    let Some(env) = harness::env("zombies") else {
        return;
    };
    let image = env.image.as_str();
    let (maker, factory) = (harness::ORPHAN_MAKER[0], &harness::ORPHAN_MAKER[1..]);
    let mut with = vec!["--entrypoint", "/init", image, "--", maker];
    with.extend(factory);
    let mut without = vec!["--entrypoint", maker, image];
    without.extend(factory);
    let with = Container::start(env, "zombies-pidone", &with);
    let without = Container::start(env, "zombies-none", &without);

    // Without an init: the factory is PID 1 and never reaps the orphans it adopts.
    let piled = poll(Duration::from_secs(15), || {
        let (z, _) = without.zombies();
        (z >= 15).then_some(z)
    });
    let (z_without, n_without) = without.zombies();
    println!(
        "without an init: {z_without} zombies among {n_without} processes after {} orphans",
        without.orphans_made()
    );
    assert!(
        piled.is_some(),
        "zombies should accumulate without an init ({z_without} seen)"
    );

    // Under pidone: after at least as many orphans, at most a batch in flight, and soon none.
    poll(Duration::from_secs(15), || {
        (with.orphans_made() >= 20).then_some(())
    })
    .unwrap_or_else(|| panic!("zombie_factory made no orphans:\n{}", with.logs()));
    let mut worst = 0;
    let clean = poll(Duration::from_secs(5), || {
        let (z, n) = with.zombies();
        worst = worst.max(z);
        (z == 0).then_some(n)
    });
    println!(
        "under pidone: 0 zombies (at most {worst} in passing) after {} orphans",
        with.orphans_made()
    );
    assert!(
        clean.is_some(),
        "zombies left under pidone: {:?}",
        with.zombies()
    );
    assert!(
        worst <= 5,
        "zombies accumulate under pidone: {worst} at once"
    );
    let took = with.stop(10);
    assert!(
        took < FAST_STOP,
        "zombie_factory stops on SIGTERM; took {took:?}"
    );
    assert_eq!(with.exit_code(), Some(0));
}

#[test]
fn tty_sigint_reaches_the_app() {
    let Some(env) = harness::env("tty") else {
        return;
    };
    let app = "[ -t 0 ] && echo tty=yes; echo ready; exec /bin/busybox sleep 30";

    // docker run -t: the container has a terminal; SIGINT sent to it reaches the app.
    let c = Container::start(
        env,
        "tty-t",
        &[
            "-t",
            "--entrypoint",
            "/init",
            &env.image,
            "--",
            "/bin/sh",
            "-c",
            app,
        ],
    );
    let logs = c.wait_log("ready", READY);
    assert!(
        logs.contains("tty=yes"),
        "stdin should be a terminal: {logs:?}"
    );
    c.kill("INT");
    let code = c.wait_exit(Duration::from_secs(10));
    println!("docker run -t + docker kill -s INT: exit code {code}");
    assert_eq!(code, 130, "the app dies of SIGINT; logs: {:?}", c.logs());

    // docker run -it from a terminal: Ctrl-C typed into the terminal.
    let (code, screen) = harness::run_in_pty(
        &Engine::docker(),
        &[
            "--entrypoint",
            "/init",
            &env.image,
            "--",
            "/bin/sh",
            "-c",
            app,
        ],
        "ready",
        b"\x03",
    );
    println!("docker run -it + Ctrl-C typed on a pty: exit code {code:?}");
    assert_eq!(
        code,
        Some(130),
        "Ctrl-C ends the app with SIGINT; terminal:\n{screen}"
    );
}

#[test]
fn grace_period_kills_a_term_ignoring_child_before_docker_does() {
    let Some(env) = harness::env("grace_period") else {
        return;
    };
    let c = Container::start(
        env,
        "grace",
        &[
            "--entrypoint",
            "/init",
            &env.image,
            "--grace-period",
            "2s",
            "--",
            "/app/ignore_term",
        ],
    );
    c.wait_log("ready", READY);
    let took = c.stop(10);
    let code = c.exit_code();
    let logs = c.logs();
    println!(
        "docker stop -t 10, ignore_term under pidone --grace-period 2s: {:.3} s, exit code {code:?}",
        took.as_secs_f64()
    );
    assert!(
        took >= Duration::from_millis(1500) && took <= Duration::from_secs(6),
        "pidone should SIGKILL at its 2 s grace period, not at Docker's 10 s; took {took:?}; logs:\n{logs}"
    );
    assert_eq!(code, Some(137), "logs:\n{logs}");
    let line = logs
        .lines()
        .find(|l| l.contains("grace period"))
        .unwrap_or_else(|| panic!("pidone should log why it used SIGKILL; logs:\n{logs}"));
    println!("pidone said: {line}");
}

#[test]
fn side_by_side_with_docker_run_init_and_pidone_as_docker_init() {
    let Some(env) = harness::env("docker_init") else {
        return;
    };
    let image = env.image.as_str();
    // pidone installed as /sbin/docker-init, started the way Docker starts its init:
    // `/sbin/docker-init -- ENTRYPOINT CMD`.
    let as_docker_init = [
        "--entrypoint",
        "/sbin/docker-init",
        image,
        "--",
        "/app/graceful_server",
    ];
    let (took, code, logs) = stop_under(env, "as-docker-init", &as_docker_init);
    println!(
        "docker stop -t 10, graceful_server under pidone named docker-init: {:.3} s, exit code {code:?}",
        took.as_secs_f64()
    );
    assert!(took < FAST_STOP, "took {took:?}; logs:\n{logs}");
    assert_eq!(code, Some(0), "logs:\n{logs}");
    signals_reach_the_app(&Container::start(
        env,
        "kill-as-docker-init",
        &as_docker_init,
    ));

    // Docker's own --init (the engine's docker-init, tini here), app as the entrypoint.
    if let Err(why) = &env.docker_init {
        println!("SKIPPED the docker run --init half: {why}");
        return;
    }
    let with_init = ["--init", "--entrypoint", "/app/graceful_server", image];
    let (took, code, logs) = stop_under(env, "docker-run-init", &with_init);
    println!(
        "docker stop -t 10, graceful_server under docker run --init: {:.3} s, exit code {code:?}",
        took.as_secs_f64()
    );
    assert!(took < FAST_STOP, "took {took:?}; logs:\n{logs}");
    assert_eq!(code, Some(0), "logs:\n{logs}");
    let c = Container::start(env, "kill-docker-run-init", &with_init);
    c.wait_log("listening on", READY);
    c.kill("USR1");
    c.wait_log("received SIGUSR1", Duration::from_secs(5));
    println!("docker kill -s USR1 under docker run --init: reached graceful_server");
}

/// Checks `--version` output of pidone started as `argv0` the way Docker does (stdout only,
/// must exit 0).
fn check_version(path: &std::path::Path) {
    let out = harness::run(Command::new(path).arg("--version"), Duration::from_secs(10));
    assert!(
        out.ok(),
        "{} --version must exit 0 (Docker runs it): {out:?}",
        path.display()
    );
    let (version, commit) = parse_init_version(&out.stdout)
        .unwrap_or_else(|| panic!("Docker would reject {}: {:?}", path.display(), out.stdout));
    println!(
        "{} --version: {:?} -> version {version:?}, commit {commit:?}",
        path.display(),
        out.stdout.trim()
    );
    assert!(
        out.stdout.starts_with("tini version "),
        "stdout: {:?}",
        out.stdout
    );
    assert!(!version.is_empty(), "Docker shows an empty init version");
    if out.stdout.contains(" - ") {
        assert!(
            out.stdout.contains(" - git.") && !commit.is_empty(),
            "after ` - ` Docker expects `git.<commit>`: {:?}",
            out.stdout
        );
        assert!(
            commit.bytes().all(|b| b.is_ascii_hexdigit()),
            "commit {commit:?} is not a hash"
        );
    }
}

#[test]
fn version_is_accepted_by_dockers_init_version_parser() {
    // No engine needed: this is the check the daemon runs on its init binary.
    assert_eq!(
        parse_init_version("tini version 0.19.0 - git.de40ad0\n").unwrap(),
        ("0.19.0".to_string(), "de40ad0".to_string())
    );
    assert_eq!(
        parse_init_version("tini version 0.19.0\n").unwrap(),
        ("0.19.0".to_string(), String::new())
    );
    assert!(parse_init_version("pidone 0.1.0\n").is_none());

    let bin = harness::pidone_bin();
    check_version(&bin);
    let dir = std::env::temp_dir().join(format!("pidone-test-{}-docker-init", harness::run_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join("docker-init");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&bin, &link).unwrap();
    check_version(&link);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The final stage of Dockerfile.example: its `COPY --from=builder SRC DEST` pairs and its
/// other instructions, continuation lines joined and comments dropped.
fn final_stage(text: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut logical: Vec<String> = Vec::new();
    let mut pending = String::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || (line.is_empty() && pending.is_empty()) {
            continue;
        }
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        logical.push(std::mem::take(&mut pending));
    }
    let start = logical
        .iter()
        .rposition(|l| l.to_ascii_uppercase().starts_with("FROM "))
        .expect("a FROM line");
    let mut copies = Vec::new();
    let mut rest = Vec::new();
    for line in logical.into_iter().skip(start + 1) {
        if let Some(args) = line.strip_prefix("COPY --from=builder ") {
            let words: Vec<&str> = args.split_whitespace().collect();
            assert_eq!(words.len(), 2, "one source per COPY: {line:?}");
            copies.push((words[0].to_string(), words[1].to_string()));
        } else {
            assert!(
                !line.to_ascii_uppercase().starts_with("COPY")
                    && !line.to_ascii_uppercase().starts_with("ADD"),
                "cannot stand in for {line:?}"
            );
            rest.push(line);
        }
    }
    (copies, rest)
}

#[test]
fn dockerfile_example_final_stage_works() {
    let Some(env) = harness::env("dockerfile_example") else {
        return;
    };
    // The builder stage needs the rust image, which cannot be pulled here. Stand in for it with
    // this build's binaries at the final stage's destinations, and apply the final stage's other
    // instructions (USER, EXPOSE, STOPSIGNAL, ENTRYPOINT, CMD) verbatim.
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Dockerfile.example"),
    )
    .unwrap();
    let (copies, instructions) = final_stage(&text);
    assert!(
        !copies.is_empty(),
        "no COPY --from=builder in the final stage"
    );
    let bindir = PathBuf::from(env!("CARGO_BIN_EXE_pidone"))
        .parent()
        .unwrap()
        .to_path_buf();
    let files: Vec<(PathBuf, String)> = copies
        .iter()
        .map(|(from, to)| {
            let host = if from.ends_with("/pidone") {
                env.bin.clone()
            } else {
                let (kind, name) = from.rsplit_once('/').unwrap();
                assert!(
                    kind.ends_with("/examples"),
                    "unknown builder artifact {from}"
                );
                bindir.join("examples").join(name)
            };
            (host, to.clone())
        })
        .collect();
    let instructions: Vec<&str> = instructions.iter().map(String::as_str).collect();
    let image = format!("pidone-test-{}-example:final", env.run_id);
    harness::build_image(&image, &files, &instructions).unwrap();
    let c = Container::start(env, "example", &[&image]);
    c.wait_log("listening on", READY);
    let user = c.inspect("{{.Config.User}}");
    let entrypoint = c.inspect("{{json .Config.Entrypoint}}");
    let took = c.stop(10);
    let code = c.exit_code();
    println!(
        "Dockerfile.example image (USER {user}, ENTRYPOINT {entrypoint}): docker stop -t 10 took {:.3} s, exit code {code:?}",
        took.as_secs_f64()
    );
    assert_eq!(entrypoint, r#"["/init","--"]"#);
    assert!(took < FAST_STOP, "took {took:?}; logs:\n{}", c.logs());
    assert_eq!(code, Some(0), "logs:\n{}", c.logs());
}
