//! A blocking CRI client for the tests: the calls kubelet makes to run a pod and its
//! containers, over the node's unix socket (k8s-cri's tonic client, CRI v1), each bounded by a
//! timeout. A [`Pod`] stops and removes its sandbox (and so its containers) when dropped.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use k8s_cri::v1::{
    ContainerConfig, ContainerMetadata, ContainerState, ContainerStatus, ContainerStatusRequest,
    CreateContainerRequest, ExecSyncRequest, ImageSpec, LinuxContainerConfig,
    LinuxContainerSecurityContext, LinuxPodSandboxConfig, LinuxSandboxSecurityContext,
    NamespaceMode, NamespaceOption, PodSandboxConfig, PodSandboxMetadata, PodSandboxStatusRequest,
    RemovePodSandboxRequest, RunPodSandboxRequest, StartContainerRequest, StopContainerRequest,
    StopPodSandboxRequest,
};
use tonic::transport::{Channel, Endpoint, Uri};

use crate::harness::{poll, run_id};
use crate::manifest::{ContainerSpec, PodSpec};
use crate::node::Node;

/// Bound of a call that does not wait for a container.
const CALL: Duration = Duration::from_secs(60);

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A connection to the node's CRI runtime service.
pub struct Cri {
    rt: tokio::runtime::Runtime,
    client: RuntimeServiceClient<Channel>,
    node: &'static Node,
}

impl Cri {
    /// Connects to `node`'s socket (bounded).
    pub fn connect(node: &'static Node) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let socket = node.socket.clone();
        let channel = rt
            .block_on(async move {
                // The URI is required by tonic and not used: the connector opens the socket.
                let endpoint = Endpoint::try_from("http://localhost")
                    .map_err(|e| e.to_string())?
                    .connect_timeout(CALL);
                let connect = endpoint.connect_with_connector(tower::service_fn(move |_: Uri| {
                    let socket = socket.clone();
                    async move {
                        let stream = tokio::net::UnixStream::connect(socket).await?;
                        Ok::<_, std::io::Error>(TokioIo::new(stream))
                    }
                }));
                tokio::time::timeout(CALL, connect)
                    .await
                    .map_err(|_| "timed out".to_string())?
                    .map_err(|e| e.to_string())
            })
            .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", node.socket.display()));
        Self {
            rt,
            client: RuntimeServiceClient::new(channel),
            node,
        }
    }

    /// Runs one call with a bound; the error says which call and why.
    fn call<T, F>(
        &self,
        what: &str,
        timeout: Duration,
        call: impl FnOnce(RuntimeServiceClient<Channel>) -> F,
    ) -> Result<T, String>
    where
        F: Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let future = call(self.client.clone());
        self.rt.block_on(async {
            match tokio::time::timeout(timeout, future).await {
                Ok(Ok(response)) => Ok(response.into_inner()),
                Ok(Err(status)) => Err(format!("{what}: {}: {}", status.code(), status.message())),
                Err(_) => Err(format!("{what}: no answer within {timeout:?}")),
            }
        })
    }

    /// RunPodSandbox for `spec` (its containers are started with [`Pod::start`]): the node's
    /// network namespace, and a pod PID namespace when `shareProcessNamespace` is true.
    pub fn run_pod(&self, spec: &PodSpec) -> Pod<'_> {
        let seq = SEQ.fetch_add(1, Ordering::SeqCst);
        let uid = format!("{}-{seq}", run_id());
        let name = format!("{}-{seq}", spec.name);
        let log_dir = self.node.dir.join("pods").join(format!("{name}_{uid}"));
        std::fs::create_dir_all(&log_dir).unwrap();
        let pid = if spec.share_pid {
            NamespaceMode::Pod
        } else {
            NamespaceMode::Container
        };
        let config = PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: name.clone(),
                uid,
                namespace: "default".to_string(),
                attempt: 0,
            }),
            log_directory: log_dir.to_string_lossy().into_owned(),
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: self.node.cgroup_parent.clone(),
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(namespaces(pid)),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let request = RunPodSandboxRequest {
            config: Some(config.clone()),
            runtime_handler: String::new(),
        };
        let id = self
            .call("RunPodSandbox", CALL, |mut c| async move {
                c.run_pod_sandbox(request).await
            })
            .unwrap_or_else(|e| panic!("{e}"))
            .pod_sandbox_id;
        Pod {
            cri: self,
            id,
            name,
            config,
            pid,
            log_dir,
            grace_seconds: spec.grace_seconds,
        }
    }
}

/// Namespaces as kubelet sets them for a pod without hostPID/hostIPC, with the node's network
/// (hostNetwork: true), so no CNI plugin is needed.
fn namespaces(pid: NamespaceMode) -> NamespaceOption {
    NamespaceOption {
        network: NamespaceMode::Node as i32,
        pid: pid as i32,
        ipc: NamespaceMode::Pod as i32,
        ..Default::default()
    }
}

/// The first number after `"key":` in a JSON text (the `info` maps of the status calls).
fn json_number(json: &str, key: &str) -> Option<i64> {
    let at = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = json
        .get(at..)?
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// A pod sandbox; stopped and removed (with its containers) when dropped.
pub struct Pod<'a> {
    cri: &'a Cri,
    pub id: String,
    /// The pod's name as given to the runtime (the spec's name and a sequence number).
    pub name: String,
    config: PodSandboxConfig,
    pid: NamespaceMode,
    log_dir: PathBuf,
    /// `terminationGracePeriodSeconds` of the spec.
    pub grace_seconds: i64,
}

impl Pod<'_> {
    /// CreateContainer + StartContainer, as kubelet does for each container of the spec.
    pub fn start(&self, spec: &ContainerSpec) -> Container<'_> {
        let log_path = format!("{}_0.log", spec.name);
        let config = ContainerConfig {
            metadata: Some(ContainerMetadata {
                name: spec.name.clone(),
                attempt: 0,
            }),
            image: Some(ImageSpec {
                image: spec.image.clone(),
                ..Default::default()
            }),
            command: spec.command.clone(),
            args: spec.args.clone(),
            log_path: log_path.clone(),
            linux: Some(LinuxContainerConfig {
                security_context: Some(LinuxContainerSecurityContext {
                    namespace_options: Some(namespaces(self.pid)),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let request = CreateContainerRequest {
            pod_sandbox_id: self.id.clone(),
            config: Some(config),
            sandbox_config: Some(self.config.clone()),
        };
        let id = self
            .cri
            .call("CreateContainer", CALL, |mut c| async move {
                c.create_container(request).await
            })
            .unwrap_or_else(|e| panic!("{}/{}: {e}", self.name, spec.name))
            .container_id;
        let start = StartContainerRequest {
            container_id: id.clone(),
        };
        self.cri
            .call("StartContainer", CALL, |mut c| async move {
                c.start_container(start).await
            })
            .unwrap_or_else(|e| panic!("{}/{}: {e}", self.name, spec.name));
        Container {
            pod: self,
            id,
            name: spec.name.clone(),
            log: self.log_dir.join(log_path),
        }
    }

    /// The sandbox (pause) process's pid on the host, from PodSandboxStatus's verbose info.
    pub fn host_pid(&self) -> i32 {
        let request = PodSandboxStatusRequest {
            pod_sandbox_id: self.id.clone(),
            verbose: true,
        };
        let status = self
            .cri
            .call("PodSandboxStatus", CALL, |mut c| async move {
                c.pod_sandbox_status(request).await
            })
            .unwrap_or_else(|e| panic!("{}: {e}", self.name));
        let info = status.info.get("info").cloned().unwrap_or_default();
        json_number(&info, "pid")
            .and_then(|p| i32::try_from(p).ok())
            .unwrap_or_else(|| panic!("{}: no pid in PodSandboxStatus info: {info}", self.name))
    }

    /// StopPodSandbox, timed.
    pub fn stop(&self) -> Duration {
        let start = Instant::now();
        let request = StopPodSandboxRequest {
            pod_sandbox_id: self.id.clone(),
        };
        self.cri
            .call("StopPodSandbox", CALL, |mut c| async move {
                c.stop_pod_sandbox(request).await
            })
            .unwrap_or_else(|e| panic!("{}: {e}", self.name));
        start.elapsed()
    }
}

impl Drop for Pod<'_> {
    fn drop(&mut self) {
        let id = self.id.clone();
        let stopped = self.cri.call("StopPodSandbox", CALL, |mut c| async move {
            c.stop_pod_sandbox(StopPodSandboxRequest { pod_sandbox_id: id })
                .await
        });
        let id = self.id.clone();
        let removed = self.cri.call("RemovePodSandbox", CALL, |mut c| async move {
            c.remove_pod_sandbox(RemovePodSandboxRequest { pod_sandbox_id: id })
                .await
        });
        for result in [stopped.map(drop), removed.map(drop)] {
            if let Err(e) = result {
                eprintln!("clean-up of pod {}: {e}", self.name);
            }
        }
    }
}

/// A started container of a [`Pod`].
pub struct Container<'a> {
    pod: &'a Pod<'a>,
    pub id: String,
    pub name: String,
    /// Its log file (CRI format: `TIME STREAM TAG TEXT` per line).
    log: PathBuf,
}

/// What ExecSync returned.
#[derive(Debug)]
pub struct Exec {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Container<'_> {
    fn what(&self) -> String {
        format!("{}/{}", self.pod.name, self.name)
    }

    /// ExecSync of `cmd` (as an exec probe runs), bounded by 20 s.
    pub fn exec(&self, cmd: &[&str]) -> Exec {
        let request = ExecSyncRequest {
            container_id: self.id.clone(),
            cmd: cmd.iter().map(|s| (*s).to_string()).collect(),
            timeout: 20,
        };
        let out = self
            .pod
            .cri
            .call("ExecSync", Duration::from_secs(30), |mut c| async move {
                c.exec_sync(request).await
            })
            .unwrap_or_else(|e| panic!("{} {cmd:?}: {e}", self.what()));
        Exec {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.exit_code,
        }
    }

    /// ExecSync that must exit 0; its stdout.
    pub fn exec_ok(&self, cmd: &[&str]) -> String {
        let out = self.exec(cmd);
        assert_eq!(
            out.code,
            0,
            "{} {cmd:?}: stdout {:?}, stderr {:?}",
            self.what(),
            out.stdout,
            out.stderr
        );
        out.stdout
    }

    /// ContainerStatus (verbose) and its info's `pid`.
    fn status_and_pid(&self) -> (ContainerStatus, Option<i32>) {
        let request = ContainerStatusRequest {
            container_id: self.id.clone(),
            verbose: true,
        };
        let out = self
            .pod
            .cri
            .call("ContainerStatus", CALL, |mut c| async move {
                c.container_status(request).await
            })
            .unwrap_or_else(|e| panic!("{}: {e}", self.what()));
        let info = out.info.get("info").cloned().unwrap_or_default();
        let pid = json_number(&info, "pid").and_then(|p| i32::try_from(p).ok());
        let status = out
            .status
            .unwrap_or_else(|| panic!("{}: ContainerStatus without status", self.what()));
        (status, pid)
    }

    /// ContainerStatus.
    pub fn status(&self) -> ContainerStatus {
        self.status_and_pid().0
    }

    /// The container's first process's pid on the host.
    pub fn host_pid(&self) -> i32 {
        self.status_and_pid()
            .1
            .filter(|&p| p > 0)
            .unwrap_or_else(|| panic!("{}: no pid in ContainerStatus info", self.what()))
    }

    /// StopContainer with `timeout` seconds, as kubelet sends it; how long it took.
    pub fn stop(&self, timeout: i64) -> Duration {
        let start = Instant::now();
        let request = StopContainerRequest {
            container_id: self.id.clone(),
            timeout,
        };
        let bound = Duration::from_secs(u64::try_from(timeout).unwrap_or(0) + 30);
        self.pod
            .cri
            .call("StopContainer", bound, |mut c| async move {
                c.stop_container(request).await
            })
            .unwrap_or_else(|e| panic!("{}: {e}", self.what()));
        start.elapsed()
    }

    /// Waits (bounded) until the container has exited; its exit code.
    pub fn wait_exit(&self, timeout: Duration) -> i32 {
        let exited = poll(timeout, || {
            let status = self.status();
            (status.state == ContainerState::ContainerExited as i32).then_some(status.exit_code)
        });
        exited.unwrap_or_else(|| {
            panic!(
                "{} still running after {timeout:?}; log:\n{}",
                self.what(),
                self.logs()
            )
        })
    }

    /// The exit code of an exited container (panics if it is still running).
    pub fn exit_code(&self) -> i32 {
        let status = self.status();
        assert_eq!(
            status.state,
            ContainerState::ContainerExited as i32,
            "{} has not exited: {status:?}",
            self.what()
        );
        status.exit_code
    }

    /// The container's output so far, stdout and stderr interleaved as written (the text of
    /// the CRI log lines; a partial line `P` joins the next).
    pub fn logs(&self) -> String {
        self.log_lines(None)
    }

    /// The container's stderr so far.
    pub fn stderr(&self) -> String {
        self.log_lines(Some("stderr"))
    }

    fn log_lines(&self, stream: Option<&str>) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut out = String::new();
        for line in text.lines() {
            let mut parts = line.splitn(4, ' ');
            let (_time, from, tag) = (parts.next(), parts.next(), parts.next());
            if stream.is_some_and(|s| from != Some(s)) {
                continue;
            }
            out.push_str(parts.next().unwrap_or_default());
            if tag != Some("P") {
                out.push('\n');
            }
        }
        out
    }

    /// Waits (bounded) until the log contains `needle`; the log.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> String {
        poll(timeout, || Some(self.logs()).filter(|l| l.contains(needle))).unwrap_or_else(|| {
            panic!(
                "{}: no {needle:?} in the log within {timeout:?}:\n{}\nstatus: {:?}",
                self.what(),
                self.logs(),
                self.status()
            )
        })
    }
}
