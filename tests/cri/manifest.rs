//! What kubelet takes from a pod spec for the CRI, read from the manifests in
//! `examples/kubernetes/` (a Pod, or a Deployment's pod template).
//!
//! Only the fields the tests translate are read: `shareProcessNamespace` (the pod's PID
//! namespace: POD instead of CONTAINER), `terminationGracePeriodSeconds` (StopContainer's
//! timeout; 30 when absent, as in Kubernetes) and each container's `name`, `image`, `command`
//! and `args` (ContainerConfig's `command` and `args`, unchanged). `image` is mapped by the test
//! to a local image (see [`PodSpec::with_image`]).

use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

/// Kubernetes' default `terminationGracePeriodSeconds`.
const DEFAULT_GRACE_SECONDS: i64 = 30;

/// A pod as kubelet hands it to the runtime.
#[derive(Clone, Debug)]
pub struct PodSpec {
    /// `metadata.name` (of the Pod, or of the Deployment).
    pub name: String,
    /// `shareProcessNamespace`.
    pub share_pid: bool,
    /// `terminationGracePeriodSeconds`.
    pub grace_seconds: i64,
    pub containers: Vec<ContainerSpec>,
}

/// One container of a pod spec.
#[derive(Clone, Debug)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    /// `command` (replaces the image's ENTRYPOINT when not empty).
    pub command: Vec<String>,
    /// `args` (replaces the image's CMD when not empty).
    pub args: Vec<String>,
}

impl ContainerSpec {
    /// A container running `argv` in `image`: `command` = argv, no `args`.
    pub fn new(name: &str, image: &str, argv: &[&str]) -> Self {
        Self {
            name: name.to_string(),
            image: image.to_string(),
            command: argv.iter().map(|s| (*s).to_string()).collect(),
            args: Vec::new(),
        }
    }
}

impl PodSpec {
    /// A pod with no containers yet.
    pub fn new(name: &str, share_pid: bool) -> Self {
        Self {
            name: name.to_string(),
            share_pid,
            grace_seconds: DEFAULT_GRACE_SECONDS,
            containers: Vec::new(),
        }
    }

    /// Every container's image replaced by `image` (the manifests name a user's registry).
    pub fn with_image(mut self, image: &str) -> Self {
        for c in &mut self.containers {
            c.image = image.to_string();
        }
        self
    }

    /// The container called `name`.
    pub fn container(&self, name: &str) -> &ContainerSpec {
        self.containers
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("{}: no container {name:?}", self.name))
    }
}

/// The directory of the example manifests.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/kubernetes")
}

/// Reads `examples/kubernetes/<file>`: a Pod, or the pod template of a Deployment (or of any
/// workload with `spec.template`). The file must hold exactly one document.
pub fn load(file: &str) -> PodSpec {
    let path = dir().join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let docs = YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{}: not YAML: {e}", path.display()));
    let [doc] = docs.as_slice() else {
        panic!("{}: {} documents, expected one", path.display(), docs.len())
    };
    let kind = doc["kind"].as_str().unwrap_or_default();
    let name = string(&doc["metadata"]["name"], "metadata.name", &path);
    let spec = match kind {
        "Pod" => &doc["spec"],
        _ if !doc["spec"]["template"]["spec"].is_badvalue() => &doc["spec"]["template"]["spec"],
        _ => panic!("{}: kind {kind:?} has no pod spec", path.display()),
    };
    let containers = spec["containers"]
        .as_vec()
        .unwrap_or_else(|| panic!("{}: no containers", path.display()))
        .iter()
        .map(|c| ContainerSpec {
            name: string(&c["name"], "containers[].name", &path),
            image: string(&c["image"], "containers[].image", &path),
            command: strings(&c["command"], &path),
            args: strings(&c["args"], &path),
        })
        .collect();
    PodSpec {
        name,
        share_pid: spec["shareProcessNamespace"].as_bool().unwrap_or(false),
        grace_seconds: spec["terminationGracePeriodSeconds"]
            .as_i64()
            .unwrap_or(DEFAULT_GRACE_SECONDS),
        containers,
    }
}

fn string(value: &Yaml, what: &str, path: &Path) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{}: {what} is not a string", path.display()))
        .to_string()
}

/// A list of strings (absent: empty). Numbers and booleans are taken as Kubernetes would
/// refuse them: a failure.
fn strings(value: &Yaml, path: &Path) -> Vec<String> {
    if value.is_badvalue() || value.is_null() {
        return Vec::new();
    }
    value
        .as_vec()
        .unwrap_or_else(|| panic!("{}: command/args is not a list", path.display()))
        .iter()
        .map(|v| string(v, "a command/args item", path))
        .collect()
}
